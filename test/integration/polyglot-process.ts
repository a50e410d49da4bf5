/**
 * Running the polyglot tests' external programs: Debian's Python and AWS CLI by absolute path
 * (a version manager's shims on PATH may point elsewhere), fed JSON on stdin.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRecord } from '../../lib/job/model.js';

/** Debian's interpreter, which has python3-boto3. */
export const PYTHON = '/usr/bin/python3';
/** Debian's AWS CLI. */
export const AWS_CLI = '/usr/bin/aws';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the Python client's package lives (for PYTHONPATH). */
export const PYTHON_CLIENT_DIR = `${ROOT}clients/python`;

/** A Python fixture script by file name. */
export function pythonFixture(name: string): string {
  return `${ROOT}test/fixtures/python/${name}`;
}

/**
 * The environment of a Python or AWS CLI process: only what is given, plus a PATH without shims,
 * and no AWS configuration files (so a developer's ~/.aws cannot change what the test does).
 */
export function processEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return {
    PATH: '/usr/bin:/bin',
    PYTHONPATH: PYTHON_CLIENT_DIR,
    PYTHONDONTWRITEBYTECODE: '1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    ...env,
  };
}

/** Runs `command`, writing `input` to its stdin; rejects with its stderr when it exits non-zero. */
export async function run(command: string, args: readonly string[], options: { env: Record<string, string>; input?: string }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-4000)}`));
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Parses a program's JSON output, insisting on an object. */
export function parseObject(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  if (!isRecord(parsed)) throw new Error(`expected a JSON object, got: ${text.slice(0, 200)}`);
  return parsed;
}

/** Reads a field that must be an array of objects. */
export function objects(value: unknown, what: string): Record<string, unknown>[] {
  if (!Array.isArray(value) || !value.every(isRecord)) throw new Error(`${what} must be an array of objects`);
  return value.filter(isRecord);
}

/** Reads a field that must be an array of strings. */
export function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be an array of strings`);
  return value.map((item) => {
    if (typeof item !== 'string') throw new Error(`${what} must be an array of strings`);
    return item;
  });
}
