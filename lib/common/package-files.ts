/**
 * Where the files that `npm run build` makes are, for the code that uses them (the constructs take
 * Hopper's prebuilt function bundles, the local runtime its prebuilt function runner). Found from
 * this module's own location, so that it works the same from the sources (this repository), from
 * the ES module build and from the CommonJS build (both under `dist/` of the installed package).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HopperError } from '../errors/base.js';

/** Paths under the package root of what the build makes. */
export const BUILT_FILES = {
  /** One folder per Hopper function: `index.mjs` (the handler is `index.handler`) and its source map. */
  functionsDir: 'dist/functions',
  /** The entry point of local function instances (local/host/runner.ts, bundled). */
  localRunner: 'dist/local/runner.mjs',
  /** The Lambda Runtime API client that runs Python functions locally (local/host/python-bootstrap.py, copied). */
  pythonBootstrap: 'dist/local/python-bootstrap.py',
  /** Hopper's Python module (clients/python/hopper_jobs, copied), deployed with Python workers. */
  pythonModuleDir: 'dist/python/hopper_jobs',
} as const;

let root: string | undefined;

/**
 * The root of the hopper-jobs package: the nearest folder above this module whose `package.json`
 * has a `name` (the folders of the builds have a `package.json` without one, to set their module type).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && hasName(file)) {
      root = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new HopperError(`no package.json with a name above ${start}: the hopper-jobs package is incomplete`);
  }
}

function hasName(file: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && typeof Reflect.get(parsed, 'name') === 'string';
  } catch {
    return false;
  }
}

/**
 * The absolute path of a file the build makes.
 *
 * @throws HopperError when the file is missing (a source checkout that was not built).
 */
export function builtFile(relativePath: string): string {
  const path = join(packageRoot(), relativePath);
  if (!existsSync(path)) throw new HopperError(`${relativePath} is missing: build the package first (npm run build)`);
  return path;
}
