/**
 * The function-instance entry point (runner.ts), bundled by `npm run build` into one plain
 * JavaScript file that any Node.js runs without a TypeScript loader, so that instances start as
 * fast as Lambda's runtime and a team's app needs no bundler for it.
 */
import { BUILT_FILES, builtFile } from '../../lib/common/package-files.js';

/**
 * Path of the built runner.
 *
 * @throws HopperError when the package was not built (a source checkout: run `npm run build`).
 */
export async function runnerPath(): Promise<string> {
  return builtFile(BUILT_FILES.localRunner);
}

/**
 * Path of the built Python bootstrap (python-bootstrap.py, copied beside the runner).
 *
 * @throws HopperError when the package was not built.
 */
export async function pythonBootstrapPath(): Promise<string> {
  return builtFile(BUILT_FILES.pythonBootstrap);
}
