/**
 * The team's middleware module (the JobSystem's `middleware` prop), bundled once per synth with
 * esbuild (the team's own, as `NodejsFunction` uses it for the workers) into `middleware.mjs`, and
 * set next to each of Hopper's prebuilt function bundles: each such function deploys a staged copy
 * of its prebuilt folder plus that file, with `HOPPER_MIDDLEWARE=bundled`
 * (lib/middleware/load.ts imports it at the function's first event).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { ConfigurationError } from '../lib/errors/base.js';
import { MIDDLEWARE_BUNDLE } from '../lib/middleware/load.js';
import { HOPPER_ESBUILD } from './hopper-package.js';

/** The subset of esbuild's API used here. */
interface Esbuild {
  buildSync(options: Record<string, unknown>): { errors: readonly unknown[] };
}

/** One team middleware module, bundled on first use. */
export class MiddlewareBundle {
  /** The module's absolute path. */
  readonly entry: string;
  private staged: string | undefined;
  private readonly copies = new Map<string, string>();

  /**
   * @param entry the module (TypeScript or JavaScript) whose default export, or export named
   *   `middleware`, is the team's `defineMiddleware({ … })`
   * @throws ConfigurationError when the file does not exist.
   */
  constructor(entry: string) {
    this.entry = resolve(entry);
    if (!existsSync(this.entry)) throw new ConfigurationError(`middleware: ${entry} does not exist (resolved to ${this.entry}); give the path of the module that exports defineMiddleware({ … })`);
  }

  /**
   * The folder to deploy for one of Hopper's prebuilt functions: a copy of `prebuiltDir` with the
   * bundled middleware next to its `index.mjs`.
   */
  assetDirFor(prebuiltDir: string): string {
    const known = this.copies.get(prebuiltDir);
    if (known !== undefined) return known;
    const bundle = this.bundle();
    const dir = join(bundle, basename(prebuiltDir));
    mkdirSync(dir, { recursive: true });
    cpSync(prebuiltDir, dir, { recursive: true });
    for (const file of [MIDDLEWARE_BUNDLE.file, `${MIDDLEWARE_BUNDLE.file}.map`]) copyFileSync(join(bundle, file), join(dir, file));
    this.copies.set(prebuiltDir, dir);
    return dir;
  }

  /** The folder holding `middleware.mjs`, bundled on the first call. */
  private bundle(): string {
    if (this.staged !== undefined) return this.staged;
    const dir = mkdtempSync(join(tmpdir(), 'hopper-middleware-'));
    const esbuild = loadEsbuild();
    let result: { errors: readonly unknown[] };
    try {
      result = esbuild.buildSync({
        entryPoints: [this.entry],
        outfile: join(dir, MIDDLEWARE_BUNDLE.file),
        bundle: true,
        format: HOPPER_ESBUILD.format,
        platform: HOPPER_ESBUILD.platform,
        target: HOPPER_ESBUILD.target,
        minify: HOPPER_ESBUILD.minify,
        keepNames: HOPPER_ESBUILD.keepNames,
        sourcemap: HOPPER_ESBUILD.sourcemap,
        external: [...HOPPER_ESBUILD.external],
        mainFields: [...HOPPER_ESBUILD.mainFields],
        banner: { js: HOPPER_ESBUILD.banner },
        logLevel: 'silent',
      });
    } catch (error) {
      throw new ConfigurationError(`middleware: esbuild could not bundle ${this.entry}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (result.errors.length > 0) throw new ConfigurationError(`middleware: esbuild could not bundle ${this.entry}`);
    this.staged = dir;
    return dir;
  }
}

/** esbuild, as the app resolves it (from the working directory, where `cdk synth` runs). */
function loadEsbuild(): Esbuild {
  for (const base of [join(process.cwd(), 'package.json'), import.meta.url]) {
    try {
      return createRequire(base)('esbuild') as Esbuild;
    } catch {
      // Try the next place.
    }
  }
  throw new ConfigurationError('middleware: the JobSystem bundles its middleware module with esbuild, as NodejsFunction bundles a worker; add it to the app (npm install --save-dev esbuild)');
}
