/**
 * The package's entry points (`hopper-jobs/<name>`), the one list the build, package.json's
 * `exports` (checked by the build) and the package test follow.
 */

/** How an entry point reaches a CommonJS consumer. */
export const CJS_FORMS = {
  /** Every file of its module graph transpiled to CommonJS (dist/cjs), one module per source file. */
  transpiled: 'transpiled',
  /**
   * A small CommonJS module whose async functions import the ES module build on first use: the
   * local runtime loads an ESM-only dependency (fauxqs), which `require` cannot load.
   */
  loader: 'loader',
} as const;

/** One entry point: its source and its CommonJS form. */
export interface PackageEntry {
  readonly source: string;
  readonly cjs: (typeof CJS_FORMS)[keyof typeof CJS_FORMS];
}

/** `hopper-jobs/<name>` → its source file. */
export const PACKAGE_ENTRIES = {
  infra: { source: 'infra/index.ts', cjs: CJS_FORMS.transpiled },
  worker: { source: 'lib/worker/index.ts', cjs: CJS_FORMS.transpiled },
  client: { source: 'lib/client/index.ts', cjs: CJS_FORMS.transpiled },
  'api-client': { source: 'lib/api-client/index.ts', cjs: CJS_FORMS.transpiled },
  errors: { source: 'lib/errors/index.ts', cjs: CJS_FORMS.transpiled },
  local: { source: 'local/index.ts', cjs: CJS_FORMS.loader },
} as const satisfies Readonly<Record<string, PackageEntry>>;

/** The `hopper` command (ES modules only; cli/bin.mjs runs it). */
export const CLI_ENTRY = 'cli/hopper.ts';

/** The files the `hopper` command reads at run time, copied next to its built JS. */
export const CLI_STATIC_DIR = 'cli/dashboard/static';

/** Where the build puts each format, under the package root. */
export const OUT_DIRS = {
  esm: 'dist/esm',
  cjs: 'dist/cjs',
  /** Stamps that say what the last build read (not shipped). */
  stamps: 'dist/.build',
} as const;

/** `dir/file.ts` → `dir/file.js`. */
export function jsPath(source: string): string {
  return source.replace(/\.ts$/, '.js');
}

/** `dir/file.ts` → `dir/file.d.ts`. */
export function declarationPath(source: string): string {
  return source.replace(/\.ts$/, '.d.ts');
}

/** The `exports` map package.json must have for {@link PACKAGE_ENTRIES}. */
export function exportsMap(): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(PACKAGE_ENTRIES)) {
    map[`./${name}`] = {
      import: { types: `./${OUT_DIRS.esm}/${declarationPath(entry.source)}`, default: `./${OUT_DIRS.esm}/${jsPath(entry.source)}` },
      require: { types: `./${OUT_DIRS.cjs}/${declarationPath(entry.source)}`, default: `./${OUT_DIRS.cjs}/${jsPath(entry.source)}` },
    };
  }
  map['./package.json'] = './package.json';
  return map;
}

/**
 * The `typesVersions` map package.json must have: TypeScript's older `node` (node10) resolution
 * ignores `exports`, and many existing CDK apps still use it (`"module": "commonjs"`).
 */
export function typesVersionsMap(): Record<string, Record<string, string[]>> {
  const paths: Record<string, string[]> = {};
  for (const [name, entry] of Object.entries(PACKAGE_ENTRIES)) paths[name] = [`./${OUT_DIRS.cjs}/${declarationPath(entry.source)}`];
  return { '*': paths };
}
