/**
 * The code of a Python worker: the team's handler folder with Hopper's Python module (`hopper_jobs`,
 * the copy this package ships) added beside the handler, so that the worker and the constructs that
 * configure it come from one version of Hopper. boto3 is not added: Lambda's Python runtime has it.
 */
import { cpSync, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BUILT_FILES, builtFile } from '../lib/common/package-files.js';
import { ConfigurationError } from '../lib/errors/base.js';

/** The module's name, as a handler imports it (`from hopper_jobs import worker`). */
export const PYTHON_MODULE = 'hopper_jobs';

/** Folders never copied into a function's code. */
const SKIPPED = new Set(['__pycache__', '.venv', 'venv', '.pytest_cache', '.mypy_cache']);

/**
 * `lambda.Code` for a Python worker whose handler lives in `directory` (e.g. `worker/app.py` with
 * `handler: 'app.handler'`): the folder as it is, plus the `hopper_jobs` module. Bundled on the
 * machine that synthesizes (no container).
 *
 * @example
 * const fn = new lambda.Function(this, 'PyWorker', {
 *   runtime: lambda.Runtime.PYTHON_3_12,
 *   handler: 'app.handler',
 *   code: pythonWorkerCode('worker'),
 * });
 * jobs.addWorker(fn, { queues: ['reports'] });
 *
 * @throws ConfigurationError when `directory` is not a folder, or has a `hopper_jobs` of its own.
 */
export function pythonWorkerCode(directory: string): lambda.AssetCode {
  const source = resolve(directory);
  if (!existsSync(source) || !statSync(source).isDirectory()) {
    throw new ConfigurationError(`pythonWorkerCode: ${directory} is not a folder; pass the folder that holds the handler's module`);
  }
  if (existsSync(join(source, PYTHON_MODULE))) {
    throw new ConfigurationError(`pythonWorkerCode: ${directory} has a ${PYTHON_MODULE} folder of its own; remove it, the one of this package is added`);
  }
  const module = builtFile(BUILT_FILES.pythonModuleDir);
  return lambda.Code.fromAsset(source, {
    bundling: {
      // Only used if local bundling fails, which it does not: the copy needs nothing but Node.js.
      image: lambda.Runtime.PYTHON_3_12.bundlingImage,
      local: {
        tryBundle(outputDir: string): boolean {
          cpSync(source, outputDir, { recursive: true, filter: (path) => !SKIPPED.has(basename(path)) });
          cpSync(module, join(outputDir, PYTHON_MODULE), { recursive: true });
          return true;
        },
      },
    },
  });
}
