/**
 * Producers in other languages against `hopper dev`: the demo stack run by the local runtime from
 * its synthesized template (its real worker bundle and retry function), fed by Debian's real
 * python3-boto3 (through the Python client) and awscli (through examples/shell/enqueue.sh and a bare
 * `aws sqs send-message`).
 *
 * Those clients speak SQS's query protocol, which the runtime's SQS endpoint accepts as SQS does
 * (local/sqs/front.ts): they use the endpoint and the queue URLs the runtime hands out, unchanged.
 * The Python worker is run from a template in polyglot-workers.test.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecord } from '../../lib/job/model.js';
import { StateTable, type SetEntry } from '../../lib/storage/index.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { AWS_CLI, parseObject, processEnv, PYTHON, pythonFixture, ROOT, run, strings } from './polyglot-process.js';

const logs = new LogCollector();
let local: LocalRuntime;
let dynamo: DynamoDBClient;
/** Environment of the Python and AWS CLI processes: the runtime's. */
let externalEnv: Record<string, string>;

beforeAll(async () => {
  local = await startLocal({ projectDir: ROOT, stack: 'HopperDemo', logs: logs.sink });
  dynamo = new DynamoDBClient({
    endpoint: local.endpoints.dynamodb,
    region: local.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: local.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY ?? '' },
  });
  externalEnv = processEnv({ ...local.env, HOPPER_QUEUE_URLS: output('JobsQueueUrls') });
});

afterAll(async () => {
  dynamo?.destroy();
  await local?.stop();
});

function output(name: string): string {
  const value = local.outputs[name];
  if (value === undefined) throw new Error(`the demo stack has no output ${name} (it has ${Object.keys(local.outputs).join(', ')})`);
  return value;
}

/** The demo worker's JSON log lines (what createWorker's logger writes). */
function workerLines(): Record<string, unknown>[] {
  const worker = local.functions.find((fn) => fn.logicalId.startsWith('Worker'));
  return logs.from(worker?.logicalId ?? 'Worker').flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      return isRecord(parsed) ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The demo worker's greeting for `jid`, once it has logged it. */
function greeting(jid: string): Record<string, unknown> | undefined {
  return workerLines().find((line) => line.jid === jid && typeof line.message === 'string' && line.message.startsWith('hello, '));
}

describe('Python producer → the demo stack on the local runtime', () => {
  it('runs every job the Python client enqueued on the TypeScript worker', async () => {
    const { stdout } = await run(PYTHON, [pythonFixture('produce.py')], {
      env: externalEnv,
      input: JSON.stringify({
        one: { jobtype: 'Greet', args: ['Ada'], queue: 'critical' },
        many: Array.from({ length: 12 }, (_, index) => ({ jobtype: 'Greet', args: [`guest ${index}`] })),
      }),
    });
    const produced = parseObject(stdout);
    const one = String(produced.one);
    const many = strings(produced.many, 'many');

    const ada = await eventually(`the greeting of ${one}`, () => greeting(one));
    expect(ada).toMatchObject({ message: 'hello, Ada', jobtype: 'Greet', queue: 'critical', attempt: 1 });
    const guests = await Promise.all(many.map((jid) => eventually(`the greeting of ${jid}`, () => greeting(jid))));
    expect(guests.map((line) => line.message)).toEqual(Array.from({ length: 12 }, (_, index) => `hello, guest ${index}`));
    expect(guests.every((line) => line.queue === 'default')).toBe(true);
  });

  it('has a failing job retried by the retry function and put in the dead set', { timeout: 90_000 }, async () => {
    const { stdout } = await run(PYTHON, [pythonFixture('produce.py')], {
      env: externalEnv,
      input: JSON.stringify({ one: { jobtype: 'AlwaysFails', args: ['from python'], retry: 1 } }),
    });
    const jid = String(parseObject(stdout).one);
    const table = new StateTable(dynamo, output('JobsStateTableName'));

    // The first retry waits Sidekiq's 15 to 24 seconds.
    const dead = await eventually<SetEntry>(`${jid} in the dead set`, async () => {
      const { entries } = await table.readSetRange('dead', { limit: 1000 });
      return entries.find((entry) => entry.jid === jid);
    }, 60_000);
    expect(dead.reason).toEqual({ errtype: 'Error', message: 'AlwaysFails always fails' });
    expect(dead.job).toMatchObject({ jobtype: 'AlwaysFails', args: ['from python'], queue: 'default', retry: 1, failure: { retry_count: 1 } });
    const attempts = workerLines().filter((line) => line.jid === jid && line.message === 'job failed').map((line) => line.attempt);
    expect(attempts).toEqual([1, 2]);
  });
});

describe('AWS CLI producer → the demo stack on the local runtime', () => {
  it('runs a job sent by examples/shell/enqueue.sh, and one sent with only a jobtype and args', async () => {
    const shell = await run('/bin/bash', [`${ROOT}examples/shell/enqueue.sh`, 'critical', 'Greet', '["shell"]'], { env: { ...externalEnv, AWS_CLI } });
    const jid = shell.stdout.trim();
    const queueUrl = parseObject(output('JobsQueueUrls')).default;
    const bare = await run(AWS_CLI, ['--endpoint-url', local.endpoints.sqs, 'sqs', 'send-message', '--queue-url', String(queueUrl), '--message-body', '{"jobtype":"Greet","args":["bare"]}', '--output', 'json'], { env: externalEnv });
    const messageId = String(parseObject(bare.stdout).MessageId);

    expect(jid).toMatch(/^[0-9a-f]{24}$/);
    expect(await eventually('the shell job', () => greeting(jid))).toMatchObject({ message: 'hello, shell', queue: 'critical' });
    // A producer that sends no jid gets the SQS message id; no queue, the queue it was sent to.
    expect(await eventually('the bare job', () => greeting(messageId))).toMatchObject({ message: 'hello, bare', queue: 'default' });
  });

  it('holds a job sent by examples/shell/enqueue.sh with DELAY_SECONDS back until it is due', async () => {
    const sentAt = Date.now();
    const shell = await run('/bin/bash', [`${ROOT}examples/shell/enqueue.sh`, 'default', 'Greet', '["later"]', '3'], { env: { ...externalEnv, AWS_CLI } });
    const line = await eventually('the delayed job', () => greeting(shell.stdout.trim()));
    expect(line.message).toBe('hello, later');
    // SQS's delay, not the worker, holds it: it cannot have run before 3 s had passed.
    expect(Date.parse(String(line.time)) - sentAt).toBeGreaterThanOrEqual(3000);
  });
});
