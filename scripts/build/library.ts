/**
 * Builds the library the package's entry points export, in two formats:
 * - `dist/esm`: every source file of the entry points' module graphs (and of the `hopper` command)
 *   transpiled on its own, with the declarations (and their doc comments) that tsc emits;
 * - `dist/cjs` (a `{"type":"commonjs"}` folder): the same files as CommonJS with the same
 *   declarations, for apps that `require` (a CDK app made by `cdk init app --language typescript`).
 * One output module per source module in each format: nothing is bundled, so an error class exists
 * once per format, and `instanceof` holds across entry points.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual, promisify } from 'node:util';
import { build, transform, type TransformOptions } from 'esbuild';
import { CJS_FORMS, CLI_ENTRY, CLI_STATIC_DIR, declarationPath, exportsMap, jsPath, OUT_DIRS, PACKAGE_ENTRIES, typesVersionsMap } from './entries.js';
import { buildScriptInputs, filesUnder, isFresh, writeStamp } from './freshness.js';

const run = promisify(execFile);

/** What CommonJS code gets instead of `import.meta.url`. */
const IMPORT_META_URL = '__hopperImportMetaUrl';

const TRANSPILE: TransformOptions = {
  loader: 'ts',
  platform: 'node',
  target: 'node20',
  // As tsc reads the sources (tsconfig.json): type-only imports are written as such, class fields are defined.
  tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
  logLevel: 'silent',
};

/** The source files (relative to `root`) of the module graphs of `entries`, packages left out. */
async function moduleGraph(root: string, entries: readonly string[]): Promise<string[]> {
  // A bundle that is never written (esbuild still wants an outdir for several entries): only its list of inputs is kept.
  const { metafile } = await build({ entryPoints: [...entries], absWorkingDir: root, outdir: OUT_DIRS.stamps, bundle: true, write: false, metafile: true, packages: 'external', platform: 'node', format: 'esm', logLevel: 'silent' });
  return Object.keys(metafile.inputs).sort();
}

async function transpile(root: string, source: string, format: 'esm' | 'cjs'): Promise<void> {
  const code = readFileSync(join(root, source), 'utf8');
  const usesImportMeta = code.includes('import.meta');
  const result = await transform(code, {
    ...TRANSPILE,
    format,
    sourcefile: source,
    ...(format === 'cjs' && usesImportMeta
      ? { define: { 'import.meta.url': IMPORT_META_URL }, banner: `const ${IMPORT_META_URL} = require('node:url').pathToFileURL(__filename).href;` }
      : {}),
  });
  // esbuild warns when it has to drop something CommonJS has no equivalent for (another `import.meta` use, top-level await).
  if (result.warnings.length > 0) throw new Error(`${source} (${format}): ${result.warnings.map((warning) => warning.text).join('; ')}`);
  const out = join(root, format === 'esm' ? OUT_DIRS.esm : OUT_DIRS.cjs, jsPath(source));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, result.code);
}

/** Runs tsc (tsconfig.build.json): the entry points' declarations into dist/esm, type-checked. */
async function declarations(root: string): Promise<void> {
  try {
    await run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.build.json')], { cwd: root });
  } catch (error) {
    const output = typeof error === 'object' && error !== null ? String(Reflect.get(error, 'stdout') ?? '') : '';
    throw new Error(`tsc -p tsconfig.build.json failed:\n${output}`, { cause: error });
  }
}

/**
 * A CommonJS module for an ES-module-only entry point: each export is an async function that
 * imports the ES module build on first use (types are the same declarations).
 */
async function writeLoader(root: string, name: string, source: string): Promise<void> {
  const esmFile = join(root, OUT_DIRS.esm, jsPath(source));
  const module: Record<string, unknown> = await import(pathToFileURL(esmFile).href);
  const names = Object.keys(module).sort();
  const notAsync = names.filter((key) => typeof module[key] !== 'function' || Reflect.get(Object(module[key]).constructor, 'name') !== 'AsyncFunction');
  if (notAsync.length > 0) throw new Error(`hopper-jobs/${name} reaches CommonJS through a loader, so each of its exports must be an async function; these are not: ${notAsync.join(', ')}`);
  const cjsFile = join(root, OUT_DIRS.cjs, jsPath(source));
  const target = relative(dirname(cjsFile), esmFile);
  const lines = [
    "'use strict';",
    `// hopper-jobs/${name} for CommonJS: its ES module build (${relative(root, esmFile)}) loads packages that`,
    '// are ES modules only, which require() cannot load; each function imports it on first use.',
    'let loading;',
    `const load = () => (loading ??= import(${JSON.stringify(target)}));`,
    ...names.map((key) => `exports.${key} = async function ${key}(...args) { return (await load()).${key}(...args); };`),
    '',
  ];
  mkdirSync(dirname(cjsFile), { recursive: true });
  writeFileSync(cjsFile, lines.join('\n'));
}

/** Throws unless package.json's `exports` and `typesVersions` are the ones the entry points need. */
function checkPackageJson(root: string): void {
  const packageJson: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const actual = typeof packageJson === 'object' && packageJson !== null ? packageJson : {};
  for (const [field, expected] of [['exports', exportsMap()], ['typesVersions', typesVersionsMap()]] as const) {
    if (!isDeepStrictEqual(Reflect.get(actual, field), expected)) {
      throw new Error(`package.json "${field}" does not match scripts/build/entries.ts; it must be:\n${JSON.stringify(expected, null, 2)}`);
    }
  }
}

/**
 * Builds dist/esm and dist/cjs, unless the last build is still fresh.
 *
 * @returns whether it built anything.
 */
export async function buildLibrary(root: string, options: { readonly force?: boolean } = {}): Promise<boolean> {
  const stampFile = join(root, OUT_DIRS.stamps, 'library.json');
  if (options.force !== true && isFresh(root, stampFile)) return false;
  checkPackageJson(root);
  const entries = Object.entries(PACKAGE_ENTRIES);
  const esmSources = await moduleGraph(root, [...entries.map(([, entry]) => entry.source), CLI_ENTRY]);
  const cjsSources = await moduleGraph(root, entries.filter(([, entry]) => entry.cjs === CJS_FORMS.transpiled).map(([, entry]) => entry.source));
  rmSync(join(root, OUT_DIRS.esm), { recursive: true, force: true });
  rmSync(join(root, OUT_DIRS.cjs), { recursive: true, force: true });

  await Promise.all([
    ...esmSources.map((source) => transpile(root, source, 'esm')),
    ...cjsSources.map((source) => transpile(root, source, 'cjs')),
  ]);
  await declarations(root);
  const declarationFiles = filesUnder(root, OUT_DIRS.esm).filter((file) => file.endsWith('.d.ts'));
  for (const file of declarationFiles) cpSync(join(root, file), join(root, OUT_DIRS.cjs, relative(OUT_DIRS.esm, file)));
  writeFileSync(join(root, OUT_DIRS.cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  for (const [name, entry] of entries) if (entry.cjs === CJS_FORMS.loader) await writeLoader(root, name, entry.source);
  cpSync(join(root, CLI_STATIC_DIR), join(root, OUT_DIRS.esm, CLI_STATIC_DIR), { recursive: true });

  writeStamp(stampFile, {
    inputs: [...esmSources, ...filesUnder(root, CLI_STATIC_DIR), 'tsconfig.json', 'tsconfig.build.json', ...buildScriptInputs(root)],
    outputs: entries.flatMap(([, entry]) => [OUT_DIRS.esm, OUT_DIRS.cjs].flatMap((dir) => [join(dir, jsPath(entry.source)), join(dir, declarationPath(entry.source))]))
      .concat(join(OUT_DIRS.esm, jsPath(CLI_ENTRY))),
  });
  return true;
}
