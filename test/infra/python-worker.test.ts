/**
 * `pythonWorkerCode`: a Python worker's asset is the team's handler folder with Hopper's
 * `hopper_jobs` module beside it, and a folder that cannot be one is refused at synth.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { pythonWorkerCode } from '../../infra/python-worker-code.js';
import { ConfigurationError } from '../../lib/errors/base.js';

const scratch = mkdtempSync(join(tmpdir(), 'hopper-python-code-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function handlerFolder(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('pythonWorkerCode', () => {
  it("stages the handler's folder with the hopper_jobs module, without caches", () => {
    const dir = handlerFolder('worker', { 'app.py': 'from hopper_jobs import worker\nhandler = worker({})\n', 'lib/helpers.py': '', '__pycache__/app.cpython-312.pyc': '' });
    const outdir = join(scratch, 'out');
    const app = new App({ outdir });
    const stack = new Stack(app, 'Py');
    const fn = new lambda.Function(stack, 'PyWorker', { runtime: lambda.Runtime.PYTHON_3_12, handler: 'app.handler', code: pythonWorkerCode(dir) });
    const assembly = app.synth();
    const asset = readdirSync(assembly.directory).find((name) => name.startsWith('asset.'));
    expect(asset).toBeDefined();
    const staged = join(assembly.directory, asset ?? '');
    expect(readdirSync(staged).sort()).toEqual(['app.py', 'hopper_jobs', 'lib']);
    expect(existsSync(join(staged, 'hopper_jobs', '__init__.py'))).toBe(true);
    expect(existsSync(join(staged, 'hopper_jobs', 'py.typed'))).toBe(true);
    expect(fn.runtime).toBe(lambda.Runtime.PYTHON_3_12);
  });

  it('refuses a path that is not a folder, and a folder with a hopper_jobs of its own', () => {
    const file = join(scratch, 'app.py');
    writeFileSync(file, '');
    expect(() => pythonWorkerCode(file)).toThrow(new ConfigurationError(`pythonWorkerCode: ${file} is not a folder; pass the folder that holds the handler's module`));
    const vendored = handlerFolder('vendored', { 'app.py': '', 'hopper_jobs/__init__.py': '' });
    expect(() => pythonWorkerCode(vendored)).toThrow(/has a hopper_jobs folder of its own; remove it, the one of this package is added/);
  });
});
