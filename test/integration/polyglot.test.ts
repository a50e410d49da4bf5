/**
 * The Python worker, end to end on the emulators with Debian's real python3-boto3: it runs jobs the
 * TypeScript client enqueued, and its failures are retried by the retry function and die exactly as
 * a TypeScript worker's do. (Producers in other languages are tested against the local runtime in
 * polyglot-local.test.ts; the local runtime runs Node.js functions only, hence this harness.)
 *
 * The worker runs as a child process per batch, fed the SQS event on stdin, as the Lambda Python
 * runtime would call it. boto3 1.26 speaks SQS's query protocol, which the local SQS endpoint
 * accepts as SQS does (local/sqs/front.ts), so its failure envelopes reach the retries queue there.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../lib/client/client.js';
import { isRecord } from '../../lib/job/model.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { StateTable, type SetEntry } from '../../lib/storage/index.js';
import { createWorker } from '../../lib/worker/index.js';
import { objects, parseObject, processEnv, PYTHON, pythonFixture, run } from './polyglot-process.js';
import { pumpOnce, pumpUntilEmpty, queueCounts, startHarness, type Harness, type SqsHandler } from './support/harness.js';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateJob = ajv.compile(JSON.parse(readFileSync(new URL('../../docs/job.schema.json', import.meta.url), 'utf8')));

let harness: Harness;
/** Environment of the Python and AWS CLI processes: a deployed worker's, with the local SQS endpoint. */
let externalEnv: Record<string, string>;

beforeAll(async () => {
  harness = await startHarness({ queues: ['default', 'critical'] });
  externalEnv = processEnv({ ...harness.env, AWS_ENDPOINT_URL_SQS: harness.emulators.endpoints.sqs });
});

afterAll(async () => {
  await harness?.stop();
});

interface Ran {
  readonly jid: string;
  readonly jobtype: string;
  readonly args: readonly unknown[];
  readonly queue: string;
}

/** A TypeScript worker that fails `Fail` jobs as the Python one does: the yardstick. */
function typescriptWorker(): SqsHandler {
  return createWorker({
    jobs: {
      Fail: (args) => {
        throw new Error(`failing on purpose with ${JSON.stringify(args)}`);
      },
    },
    env: harness.env,
    log: () => undefined,
  });
}

/** The Python worker of test/fixtures/python/run_worker.py, one process per batch. */
function pythonWorker(ran: Ran[], bodies: string[]): SqsHandler {
  return async (event: SQSEvent, context): Promise<SQSBatchResponse> => {
    bodies.push(...event.Records.map((record) => record.body));
    const { stdout } = await run(PYTHON, [pythonFixture('run_worker.py')], {
      env: externalEnv,
      input: JSON.stringify({ event, remaining_ms: context.getRemainingTimeInMillis() }),
    });
    const output = parseObject(stdout);
    for (const job of objects(output.ran, 'ran')) {
      ran.push({ jid: String(job.jid), jobtype: String(job.jobtype), args: Array.isArray(job.args) ? job.args : [], queue: 'default' });
    }
    const response = isRecord(output.response) ? output.response : {};
    return { batchItemFailures: objects(response.batchItemFailures, 'batchItemFailures').map((item) => ({ itemIdentifier: String(item.itemIdentifier) })) };
  };
}

/** Pumps `queueUrl` until one batch has been handled (a retried job's delay is 15 to 24 s). */
async function pumpWhenDue(queueUrl: string, handler: SqsHandler, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { received } = await pumpOnce(harness, queueUrl, handler, { waitSeconds: 1 });
    if (received.length > 0) return received.length;
    await sleep(500);
  }
  throw new Error(`nothing arrived on ${queueUrl} within ${timeoutMs} ms`);
}

async function deadEntry(jid: string): Promise<SetEntry | undefined> {
  const { entries } = await new StateTable(harness.dynamo, harness.stateTable).readSetRange('dead', { limit: 1000 });
  return entries.find((entry) => entry.jid === jid);
}

/** The fields an entry has, all the way down to the failure record: what "the same shape" means. */
function shape(entry: SetEntry | undefined): Record<string, string[]> {
  return {
    entry: Object.keys(entry ?? {}).sort(),
    job: Object.keys(entry?.job ?? {}).sort(),
    failure: Object.keys(entry?.job?.failure ?? {}).sort(),
  };
}

describe('the Python worker\'s ctx.once and tracked jobs, with the TypeScript worker\'s items', () => {
  it('charges once for a job delivered twice, and keeps a tracked job\'s progress and result where Client.status reads them', { timeout: 60_000 }, async () => {
    const client = new Client({ env: harness.env, sqs: harness.sqs });
    const ran: Ran[] = [];
    const python = pythonWorker(ran, []);
    const defaultUrl = harness.queueUrls.default ?? '';
    await client.enqueue({ jobtype: 'Charge', jid: 'py-charge', args: ['a'] });
    await pumpUntilEmpty(harness, defaultUrl, python);
    // SQS delivers it again (a duplicate): the step's recorded value comes back, nothing is charged.
    await client.enqueue({ jobtype: 'Charge', jid: 'py-charge', args: ['a'] });
    await pumpUntilEmpty(harness, defaultUrl, python);
    expect(ran.filter((job) => job.jid === 'py-charge').map((job) => job.args)).toEqual([[{ receipt: 'receipt-a' }, true], [{ receipt: 'receipt-a' }, false]]);

    const jid = await client.enqueue({ jobtype: 'Report', args: [3], custom: { result: true } });
    await pumpUntilEmpty(harness, defaultUrl, python);
    // The first progress call is written; the next two come within 3 s and are superseded by the success.
    expect(await client.status(jid)).toMatchObject({ jid, jobtype: 'Report', queue: 'default', state: 'succeeded', attempt: 1, progress: 100, message: 'step 1 of 3', result: { rows: 3 } });
    expect(await client.result(jid)).toEqual({ rows: 3 });
    // An untracked job writes nothing.
    const untracked = await client.enqueue({ jobtype: 'Report', args: [2] });
    await pumpUntilEmpty(harness, defaultUrl, python);
    expect(await client.status(untracked)).toBeUndefined();
  });
});

describe('TypeScript producer → Python worker', () => {
  it('runs the jobs, and a failing job is retried and dies exactly as on the TypeScript worker', { timeout: 150_000 }, async () => {
    const client = new Client({ queueUrls: harness.queueUrls, sqs: harness.sqs });
    const recorded = await client.enqueueMany([
      { jobtype: 'Record', args: ['a', 1] },
      { jobtype: 'Record', args: [{ nested: [true, null] }] },
      { jobtype: 'Record', args: [], custom: { tenant: 'acme' } },
    ]);
    const pythonFail = await client.enqueue({ jobtype: 'Fail', args: ['py'], retry: 1 });
    const refused = await client.enqueue({ jobtype: 'Refuse', args: [] });
    // The same failing job on the TypeScript worker, as the yardstick.
    const typescriptFail = await client.enqueue({ jobtype: 'Fail', args: ['ts'], retry: 1, queue: 'critical' });

    const ran: Ran[] = [];
    const bodies: string[] = [];
    const python = pythonWorker(ran, bodies);
    const typescript = typescriptWorker();
    const retry = createRetryHandler({ env: harness.env, log: () => undefined });
    const defaultUrl = harness.queueUrls.default ?? '';
    const criticalUrl = harness.queueUrls.critical ?? '';

    // First attempts: three successes and two failures on Python, one failure on TypeScript.
    const first = await pumpUntilEmpty(harness, defaultUrl, python);
    await pumpUntilEmpty(harness, criticalUrl, typescript);
    expect(first.failed).toEqual([]);
    expect(ran.map((job) => job.jid).sort()).toEqual([...recorded].sort());
    expect(ran.map((job) => job.args)).toEqual(expect.arrayContaining([['a', 1], [{ nested: [true, null] }], []]));
    // What the TypeScript client sent validates against the schema, as received from SQS.
    for (const body of bodies) expect(validateJob(JSON.parse(body)), body).toBe(true);

    // The retry function: both failures back on their queues after Sidekiq's first delay; the
    // unrecoverable one straight into the dead set.
    await pumpUntilEmpty(harness, harness.retriesQueueUrl, retry);
    expect(await queueCounts(harness.sqs, defaultUrl)).toMatchObject({ visible: 0, delayed: 1 });
    expect(await queueCounts(harness.sqs, criticalUrl)).toMatchObject({ visible: 0, delayed: 1 });
    expect((await deadEntry(refused))?.reason).toEqual({ errtype: 'UnrecoverableJobError', message: 'refused on purpose' });

    // Second attempts (after 15 to 24 s): both fail again; with retry: 1 that is their last.
    await Promise.all([pumpWhenDue(defaultUrl, python, 60_000), pumpWhenDue(criticalUrl, typescript, 60_000)]);
    await pumpUntilEmpty(harness, harness.retriesQueueUrl, retry);

    const [pythonDead, typescriptDead] = await Promise.all([deadEntry(pythonFail), deadEntry(typescriptFail)]);
    expect(pythonDead?.reason).toEqual({ errtype: 'RuntimeError', message: 'failing on purpose with ["py"]' });
    expect(typescriptDead?.reason).toEqual({ errtype: 'Error', message: 'failing on purpose with ["ts"]' });
    expect(shape(pythonDead)).toEqual(shape(typescriptDead));
    for (const [entry, queue] of [[pythonDead, 'default'], [typescriptDead, 'critical']] as const) {
      expect(entry?.queue).toBe(queue);
      expect(entry?.job).toMatchObject({ retry: 1, queue, failure: { retry_count: 1 } });
      expect(entry?.job?.failure?.backtrace?.length).toBeGreaterThan(0);
      expect(entry?.ttl).toBe(Math.floor((entry?.epochMs ?? 0) / 1000) + 180 * 86_400);
    }
    expect(pythonDead?.job?.failure?.backtrace?.[0]).toMatch(/^File ".*run_worker\.py", line \d+, in fail$/);
    for (const url of [defaultUrl, criticalUrl, harness.retriesQueueUrl]) {
      expect(await queueCounts(harness.sqs, url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    }
  });
});
