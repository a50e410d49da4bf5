/**
 * `hopper dev --json` gives a script all it needs to use the local stack: its `env`, and nothing
 * else from the developer's shell, lets `new Client()` enqueue and schedule jobs the demo worker
 * runs, and lets `hopper <command>` find the API without `--url`.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isRecord } from '../../lib/job/model.js';
import { eventually } from '../fixtures/local-helpers.js';
import { spawnNode } from '../fixtures/processes.js';
import { ROOT } from './polyglot-process.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node --import tsx <args>` from the repository with exactly `env` and PATH. */
function nodeWith(env: Readonly<Record<string, string>>, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** Enqueues `Greet(name)` now and `Greet(name-later)` in two hours with `new Client()`, configured by the environment only. */
const PRODUCER = `
const { Client } = await import(process.argv[1]);
const client = new Client();
const name = process.argv[2];
const jid = await client.enqueue({ jobtype: 'Greet', args: [name] });
const later = await client.schedule({ jobtype: 'Greet', args: [name + '-later'] }, { in: '2h' });
console.log(JSON.stringify({ jid, later }));
`;

function stringRecord(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

describe('hopper dev --json env', () => {
  it('runs new Client() in a process whose environment is exactly env (and PATH)', { timeout: 300_000 }, async () => {
    // The demo app of cdk.json, through the CLI's source as the other CLI tests run it.
    const dev = spawnNode(['--import', 'tsx', 'cli/hopper.ts', 'dev', '--json', '--json-logs'], { cwd: ROOT });
    try {
      const line = await eventually(async () => (dev.stdout().includes('\n') ? dev.stdout().slice(0, dev.stdout().indexOf('\n')) : undefined), 180_000, `hopper dev to be ready (stderr: ${dev.stderr().slice(-800)})`);
      const summary: unknown = JSON.parse(line);
      const env = stringRecord(isRecord(summary) ? summary.env : undefined);
      const endpoints = stringRecord(isRecord(summary) ? summary.endpoints : undefined);
      const apiUrl = isRecord(summary) ? summary.apiUrl : undefined;

      expect(Object.keys(env).sort()).toEqual([
        'AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_DYNAMODB_STREAMS', 'AWS_ENDPOINT_URL_LAMBDA', 'AWS_ENDPOINT_URL_SQS',
        'AWS_REGION', 'AWS_SECRET_ACCESS_KEY', 'HOPPER_API_URL', 'HOPPER_QUEUE_URLS', 'HOPPER_STATE_TABLE',
      ]);
      expect(env).toMatchObject({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_SQS: endpoints.sqs, AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb, HOPPER_API_URL: apiUrl });
      expect(Object.keys(stringRecord(JSON.parse(env.HOPPER_QUEUE_URLS ?? '{}')))).toEqual(['default', 'critical']);

      const name = `env-${randomUUID()}`;
      const produced = await nodeWith(env, ['--input-type=module', '-e', PRODUCER, `${ROOT}lib/client/client.ts`, name]);
      expect(produced).toMatchObject({ code: 0 });
      const { jid, later } = stringRecord(JSON.parse(produced.stdout));

      // The demo worker logs `hello, <name>` with the job's jid when it runs Greet.
      const ran = await eventually(async () => dev.stderr().split('\n').find((entry) => entry.includes(`hello, ${name}"`)), 60_000, `Greet(${name}) to run (stderr: ${dev.stderr().slice(-800)})`);
      expect(ran).toContain(`"jid":"${String(jid)}"`);

      // The job due in two hours is in the scheduled set (HOPPER_STATE_TABLE), which hopper lists from HOPPER_API_URL alone.
      const listed = await nodeWith(env, ['cli/hopper.ts', 'scheduled', 'list', '--jobtype', 'Greet', '--json']);
      expect(listed).toMatchObject({ code: 0, stderr: '' });
      const entries: unknown = JSON.parse(listed.stdout).entries;
      expect(Array.isArray(entries) ? entries.filter(isRecord).filter((entry) => entry.jid === later).map((entry) => entry.queue) : []).toEqual(['default']);

      dev.child.kill('SIGINT');
      expect(await dev.exited).toBe(0);
    } finally {
      if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    }
  });
});
