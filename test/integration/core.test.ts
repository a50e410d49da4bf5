/**
 * The core path on real emulators: enqueue → worker → success; failure → retry envelope →
 * redelivered with the right DelaySeconds; last retry → dead set; crash → redrive → retries;
 * bad input → dead set at once without failing its neighbours.
 */
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../lib/client/client.js';
import { UnrecoverableJobError } from '../../lib/errors/base.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { randomFromText } from '../../lib/common/random.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { retryDelaySeconds } from '../../lib/retry/policy.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { StartMarks } from '../../lib/storage/start-marks.js';
import type { SetEntry } from '../../lib/storage/set-items.js';
import { createWorker } from '../../lib/worker/index.js';
import { pumpOnce, pumpUntilEmpty, queueCounts, startHarness, type Harness } from './support/harness.js';

let harness: Harness;
let client: Client;
let table: StateTable;
const silent = process.env.HOPPER_TEST_LOGS === "1" ? (line: string) => console.error(line) : () => undefined;
const ran: { jobtype: string; jid: string; args: readonly unknown[] }[] = [];

function worker() {
  return createWorker({
    env: harness.env,
    log: silent,
    jobs: {
      Greet: (args, ctx) => { ran.push({ jobtype: 'Greet', jid: ctx.jid, args }); },
      Fail: () => { throw new TypeError('card declined'); },
      Gone: () => { throw new UnrecoverableJobError('order 7 does not exist'); },
    },
  });
}

function retryHandler() {
  // Every queue of the harness has maxReceiveCount 2 (beforeAll), as the construct tells the retry function.
  const maxReceives = JSON.stringify(Object.fromEntries(Object.keys(harness.queueUrls).map((name) => [name, 2])));
  return createRetryHandler({ env: { ...harness.env, HOPPER_QUEUE_MAX_RECEIVES: maxReceives }, log: silent });
}

/** Messages of a queue as the emulator holds them (delayed ones included), without receiving. */
function inspect(queue: string) {
  const url = queue === 'retries' ? harness.retriesQueueUrl : harness.queueUrls[queue];
  const name = url?.split('/').at(-1) ?? '';
  const state = harness.emulators.sqs.inspectQueue(name);
  if (state === undefined) throw new Error(`no queue ${name}`);
  return state.messages;
}

async function deadEntries(): Promise<SetEntry[]> {
  return [...(await table.readSetRange('dead', { limit: 1000 })).entries];
}

function queueUrl(name: string): string {
  const url = harness.queueUrls[name];
  if (url === undefined) throw new Error(`no queue ${name}`);
  return url;
}

beforeAll(async () => {
  harness = await startHarness({ visibilityTimeout: 1, maxReceiveCount: 2 });
  client = new Client({ env: harness.env, sqs: harness.sqs });
  table = new StateTable(harness.dynamo, harness.stateTable);
});

afterAll(async () => {
  await harness?.stop();
});

describe('core path on the emulators', () => {
  it('runs an enqueued job and leaves the queue empty', async () => {
    const jid = await client.enqueue({ jobtype: 'Greet', args: ['Ada', 36] });
    const result = await pumpUntilEmpty(harness, queueUrl('default'), worker());

    expect(result.failed).toEqual([]);
    expect(ran).toContainEqual({ jobtype: 'Greet', jid, args: ['Ada', 36] });
    expect(await queueCounts(harness.sqs, queueUrl('default'))).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await queueCounts(harness.sqs, harness.retriesQueueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('runs 25 jobs enqueued at once on two queues', async () => {
    const jids = await client.enqueueMany(Array.from({ length: 25 }, (_, i) => ({ jobtype: 'Greet', args: [i], queue: i % 2 === 0 ? 'default' : 'critical' })));
    await pumpUntilEmpty(harness, queueUrl('default'), worker());
    await pumpUntilEmpty(harness, queueUrl('critical'), worker());
    const seen = new Set(ran.map((entry) => entry.jid));
    expect(jids.filter((jid) => !seen.has(jid))).toEqual([]);
  });

  it('retries a failed job with the backoff delay and its failure recorded, sent back to its queue by the worker itself', async () => {
    const jid = await client.enqueue({ jobtype: 'Fail', args: [1] });
    const run = await pumpOnce(harness, queueUrl('default'), worker());
    expect(run.failed).toEqual([]);

    // Due again within 15 minutes: no trip through the retries queue and the retry function.
    expect(inspect('retries').ready).toEqual([]);
    const delayed = inspect('default').delayed;
    expect(delayed).toHaveLength(1);
    const message = delayed[0];
    if (message === undefined) throw new Error('no delayed message');
    const job: Job = JSON.parse(message.body);
    const expectedDelay = retryDelaySeconds(0, randomFromText(`${jid}#0`));
    expect(expectedDelay).toBeGreaterThanOrEqual(15);
    expect(expectedDelay).toBeLessThan(25);
    // The delay runs from the failure, rounded up to whole seconds.
    const delaySeconds = Math.round(((message.delayUntil ?? 0) - message.sentTimestamp) / 1000);
    expect(delaySeconds).toBeGreaterThanOrEqual(expectedDelay - 1);
    expect(delaySeconds).toBeLessThanOrEqual(expectedDelay);
    expect(job).toMatchObject({ jid, jobtype: 'Fail', args: [1], queue: 'default', failure: { retry_count: 0, errtype: 'TypeError', message: 'card declined' } });
    expect(Date.parse(job.failure?.next_at ?? '') - Date.parse(job.failure?.failed_at ?? '')).toBe(expectedDelay * 1000);
  });

  it('puts a job whose next delay exceeds 15 minutes in the retry set', async () => {
    const failedBefore = { retry_count: 5, failed_at: new Date().toISOString(), message: 'x', errtype: 'Error' };
    await harness.sqs.send(new SendMessageCommand({
      QueueUrl: queueUrl('critical'),
      MessageBody: JSON.stringify({ jid: 'long-retry-1', jobtype: 'Fail', args: [], queue: 'critical', failure: failedBefore }),
    }));
    await pumpOnce(harness, queueUrl('critical'), worker());
    await pumpOnce(harness, harness.retriesQueueUrl, retryHandler());

    const { entries } = await table.readSetRange('retry', { limit: 10 });
    const entry = entries.find((candidate) => candidate.jid === 'long-retry-1');
    // Its sixth failure (retry_count 6): 6⁴ + 15 = 1311 s plus jitter, past SQS's 900 s limit.
    const expected = retryDelaySeconds(6, randomFromText('long-retry-1#6'));
    expect(expected).toBeGreaterThan(900);
    expect(entry?.job?.failure).toMatchObject({ retry_count: 6, errtype: 'TypeError' });
    expect((entry?.epochMs ?? 0) - Date.parse(entry?.job?.failure?.failed_at ?? '')).toBe(expected * 1000);
    expect(inspect('critical').delayed).toHaveLength(0);
  });

  it('sends a job to the dead set after its last retry, with its failure', async () => {
    const jid = await client.enqueue({ jobtype: 'Fail', args: ['last'], retry: 0 });
    await pumpOnce(harness, queueUrl('default'), worker());
    await pumpOnce(harness, harness.retriesQueueUrl, retryHandler());

    const entry = (await deadEntries()).find((candidate) => candidate.jid === jid);
    expect(entry?.reason).toEqual({ errtype: 'TypeError', message: 'card declined' });
    expect(entry?.job).toMatchObject({ jid, args: ['last'], failure: { retry_count: 0, errtype: 'TypeError' } });
    expect(entry?.job?.failure?.next_at).toBeUndefined();
    // Kept for 180 days by TTL.
    expect((entry?.ttl ?? 0) - Math.floor((entry?.epochMs ?? 0) / 1000)).toBe(180 * 86_400);
    expect(inspect('default').delayed.filter((message) => message.body.includes(jid))).toHaveLength(0);
  });

  it('sends an UnrecoverableJobError to the dead set at once', async () => {
    const jid = await client.enqueue({ jobtype: 'Gone', args: [7] });
    await pumpOnce(harness, queueUrl('default'), worker());
    await pumpOnce(harness, harness.retriesQueueUrl, retryHandler());
    const entry = (await deadEntries()).find((candidate) => candidate.jid === jid);
    expect(entry?.reason).toEqual({ errtype: 'UnrecoverableJobError', message: 'order 7 does not exist' });
  });

  /** Two deliveries of a job to `critical` that end without a result, then SQS's redrive of it. */
  async function deliverTwiceWithoutResult(jid: string, options: { runBegan: boolean }): Promise<void> {
    const crash = () => Promise.reject(new Error('Runtime exited with error: signal: killed'));
    // maxReceiveCount is 2: two deliveries that end in a crash, then SQS moves the job.
    for (let delivery = 0; delivery < 2; delivery += 1) {
      const result = await pumpOnce(harness, queueUrl('critical'), crash, { waitSeconds: 3 });
      expect(result.received).toHaveLength(1);
    }
    // A worker marks a job delivered again before it runs it (lib/storage/start-marks.ts): the
    // second delivery began a run that crashed. Without the mark, no handler ever saw the job
    // (Lambda throttled both deliveries).
    if (options.runBegan) await new StartMarks({ tableName: harness.stateTable, client: harness.dynamo }).mark(normalizeJob({ jid, jobtype: 'Greet' }, { now: new Date() }));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // The next receive is the one that moves it: nothing is delivered, the job is in the retries queue.
    const third = await pumpOnce(harness, queueUrl('critical'), worker(), { waitSeconds: 1 });
    expect(third.received).toHaveLength(0);
    expect(inspect('retries').ready.map((message) => JSON.parse(message.body))).toContainEqual(expect.objectContaining({ jid, jobtype: 'Greet' }));
  }

  it('treats a job whose worker crashed as a failure once SQS redrives it', async () => {
    const jid = await client.enqueue({ jobtype: 'Greet', args: ['crash'], queue: 'critical' });
    await deliverTwiceWithoutResult(jid, { runBegan: true });

    await pumpOnce(harness, harness.retriesQueueUrl, retryHandler());
    const back = inspect('critical').delayed.map((message) => JSON.parse(message.body)).find((job) => job.jid === jid);
    expect(back?.failure).toMatchObject({ retry_count: 0, errtype: 'WorkerCrashed', message: 'no result after 2 deliveries (the worker crashed or timed out)' });
  });

  it('sends a redriven job that no run began back to its queue unchanged, charging no retry', async () => {
    const jid = await client.enqueue({ jobtype: 'Greet', args: ['throttled'], queue: 'critical' });
    await deliverTwiceWithoutResult(jid, { runBegan: false });

    await pumpOnce(harness, harness.retriesQueueUrl, retryHandler());
    const inQueue = inspect('critical');
    const back = [...inQueue.ready, ...inQueue.delayed].map((message) => JSON.parse(message.body)).find((job) => job.jid === jid);
    expect(back).toMatchObject({ jid, jobtype: 'Greet', args: ['throttled'] });
    expect(back?.failure).toBeUndefined();
    await pumpUntilEmpty(harness, queueUrl('critical'), worker());
    expect(ran.filter((run) => run.jid === jid)).toHaveLength(1);
  });

  it('sends bad input to the dead set at once without failing its neighbours', async () => {
    const bodies = {
      notJson: '{"jobtype": "Greet", ',
      noJobtype: JSON.stringify({ args: [1] }),
      unknownJobtype: JSON.stringify({ jid: 'unknown-type-1', jobtype: 'NoSuchJob', args: [] }),
      argsNotArray: JSON.stringify({ jid: 'args-object-1', jobtype: 'Greet', args: { to: 'x' } }),
      good: JSON.stringify({ jid: 'good-neighbour-1', jobtype: 'Greet', args: ['ok'] }),
    };
    const sent = await harness.sqs.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl('default'),
      Entries: Object.entries(bodies).map(([id, body]) => ({ Id: id, MessageBody: body })),
    }));
    const messageId = (id: string) => sent.Successful?.find((entry) => entry.Id === id)?.MessageId ?? '';

    const run = await pumpOnce(harness, queueUrl('default'), worker());
    expect(run.received).toHaveLength(5);
    expect(run.failed).toEqual([]);
    expect(ran.map((entry) => entry.jid)).toContain('good-neighbour-1');

    await pumpUntilEmpty(harness, harness.retriesQueueUrl, retryHandler());
    const dead = await deadEntries();
    const reasonOf = (jid: string) => dead.find((entry) => entry.jid === jid)?.reason;
    expect(reasonOf(messageId('notJson'))).toEqual({ errtype: 'InvalidJobError', message: 'invalid job: body must be a JSON object, but text that is not JSON was provided' });
    expect(reasonOf(messageId('noJobtype'))).toEqual({ errtype: 'InvalidJobError', message: 'invalid job: jobtype must be a string of 1 to 256 characters, but nothing was provided' });
    expect(reasonOf('unknown-type-1')).toMatchObject({ errtype: 'UnknownJobTypeError', message: expect.stringContaining('NoSuchJob') });
    expect(reasonOf('args-object-1')).toEqual({ errtype: 'InvalidJobError', message: 'invalid job: args must be an array, but an object was provided' });
    expect(dead.find((entry) => entry.jid === messageId('notJson'))?.raw).toBe(bodies.notJson);
    // Nothing went back to the job queue: bad input is never retried.
    const badIds = new Set(['unknown-type-1', 'args-object-1', messageId('notJson'), messageId('noJobtype')]);
    const requeued = [...inspect('default').delayed, ...inspect('default').ready].filter((message) => badIds.has(message.messageId) || [...badIds].some((id) => message.body.includes(id)));
    expect(requeued).toEqual([]);
    expect(await queueCounts(harness.sqs, harness.retriesQueueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});
