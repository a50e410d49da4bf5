/**
 * Builds what runs outside the library: Hopper's own Lambda functions, each bundled into
 * `dist/functions/<name>/index.mjs` with HOPPER_ESBUILD (what the constructs deploy), the local
 * runtime's function runner into `dist/local/runner.mjs` and its Python bootstrap beside it, and
 * copies Hopper's Python module into `dist/python/hopper_jobs` for Python workers.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { HOPPER_ESBUILD, HOPPER_FUNCTIONS, PREBUILT_FILE } from '../../infra/hopper-package.js';
import { BUILT_FILES } from '../../lib/common/package-files.js';
import { OUT_DIRS } from './entries.js';
import { buildScriptInputs, isFresh, writeStamp } from './freshness.js';

/** The runner's source; it runs on the developer's Node.js (20 or later), not on Lambda's. */
const RUNNER_SOURCE = 'local/host/runner.ts';
/** The Runtime API client of local Python functions, shipped as it is beside the runner. */
const PYTHON_BOOTSTRAP_SOURCE = 'local/host/python-bootstrap.py';
/** Hopper's Python module, shipped for the Python workers a CDK app deploys (infra/python-worker-code.ts). */
const PYTHON_MODULE_SOURCE = 'clients/python/hopper_jobs';

/** The files of the Python module the package ships: its sources and its type marker. */
function pythonModuleFiles(root: string): string[] {
  return readdirSync(join(root, PYTHON_MODULE_SOURCE)).filter((name) => name.endsWith('.py') || name === 'py.typed').sort();
}

function inputsOf(root: string, metafile: Metafile): string[] {
  // Metafile paths are relative to absWorkingDir, the root.
  return Object.keys(metafile.inputs).filter((path) => !path.includes('node_modules/')).map((path) => relative(root, join(root, path)));
}

/** Writes a folder next to its final place, then swaps it in, so readers never see half of it. */
function swapInto(tmp: string, final: string): void {
  const old = `${final}.old-${process.pid}`;
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Bundles Hopper's functions and the local runner, unless the last build is still fresh.
 *
 * @returns whether it built anything.
 */
export async function buildAssets(root: string, options: { readonly force?: boolean } = {}): Promise<boolean> {
  const stampFile = join(root, OUT_DIRS.stamps, 'assets.json');
  if (options.force !== true && isFresh(root, stampFile)) return false;
  const functionsDir = join(root, BUILT_FILES.functionsDir);
  const runnerFile = join(root, BUILT_FILES.localRunner);
  // Temporary folders at the same depth as the final ones: source maps name their sources relatively.
  const functionsTmp = `${functionsDir}-tmp-${process.pid}`;
  const runnerTmp = `${dirname(runnerFile)}-tmp-${process.pid}`;
  const pythonDir = join(root, BUILT_FILES.pythonModuleDir);
  const pythonTmp = `${pythonDir}-tmp-${process.pid}`;
  const pythonFiles = pythonModuleFiles(root);
  for (const tmp of [functionsTmp, runnerTmp, pythonTmp]) rmSync(tmp, { recursive: true, force: true });
  try {
    const functions = await build({
      entryPoints: Object.fromEntries(Object.entries(HOPPER_FUNCTIONS).map(([name, file]) => [`${name}/${PREBUILT_FILE.replace(/\.mjs$/, '')}`, join('functions', file)])),
      outdir: functionsTmp,
      absWorkingDir: root,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      ...HOPPER_ESBUILD,
      external: [...HOPPER_ESBUILD.external],
      mainFields: [...HOPPER_ESBUILD.mainFields],
      banner: { js: HOPPER_ESBUILD.banner },
      // Backtraces need the mappings, not the sources (which the package does not ship).
      sourcesContent: false,
      metafile: true,
      logLevel: 'warning',
    });
    mkdirSync(runnerTmp, { recursive: true });
    const runner = await build({
      entryPoints: [RUNNER_SOURCE],
      absWorkingDir: root,
      outfile: join(runnerTmp, 'runner.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      metafile: true,
      logLevel: 'warning',
    });
    copyFileSync(join(root, PYTHON_BOOTSTRAP_SOURCE), join(runnerTmp, 'python-bootstrap.py'));
    mkdirSync(pythonTmp, { recursive: true });
    for (const name of pythonFiles) copyFileSync(join(root, PYTHON_MODULE_SOURCE, name), join(pythonTmp, name));
    swapInto(functionsTmp, functionsDir);
    swapInto(runnerTmp, dirname(runnerFile));
    mkdirSync(dirname(pythonDir), { recursive: true });
    swapInto(pythonTmp, pythonDir);
    writeStamp(stampFile, {
      inputs: [...inputsOf(root, functions.metafile), ...inputsOf(root, runner.metafile), PYTHON_BOOTSTRAP_SOURCE, PYTHON_MODULE_SOURCE, ...pythonFiles.map((name) => join(PYTHON_MODULE_SOURCE, name)), 'infra/hopper-package.ts', ...buildScriptInputs(root)],
      outputs: [...Object.keys(HOPPER_FUNCTIONS).map((name) => join(BUILT_FILES.functionsDir, name, PREBUILT_FILE)), BUILT_FILES.localRunner, BUILT_FILES.pythonBootstrap, ...pythonFiles.map((name) => join(BUILT_FILES.pythonModuleDir, name))],
    });
    return true;
  } finally {
    for (const tmp of [functionsTmp, runnerTmp, pythonTmp]) rmSync(tmp, { recursive: true, force: true });
  }
}
