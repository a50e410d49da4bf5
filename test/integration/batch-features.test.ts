/**
 * Batch features and unique jobs on the emulators: child batches, jobs added from inside a running
 * job, filling a batch in several steps, listing a batch's jobs over the shards of its items, unique locks (refused with the holder's jid, released on
 * success or at start, free once expired), `ctx.once` steps across a retry, iterating jobs in
 * slices (and their cursors' store on DynamoDB Local), and the cost of a plain job (no DynamoDB
 * request), of a step and of an iteration.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBatchMembers } from '../../lib/batch/members.js';
import { batchJobPartitionKeys } from '../../lib/storage/keys.js';
import { createBatchStreamHandler } from '../../lib/batch/handler.js';
import { matchesBatchStreamFilter } from '../../lib/batch/stream-filter.js';
import { Client, EnqueueError, NotUniqueError } from '../../lib/client/client.js';
import type { Job } from '../../lib/job/model.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import type { SqsBatchSender } from '../../lib/aws/sqs-batch.js';
import { createWorker, iterate, type JobHandler } from '../../lib/worker/index.js';
import { IterationLostError } from '../../lib/errors/worker.js';
import { Iterations } from '../../lib/storage/iterations.js';
import { CountingDynamo } from './support/capacity.js';
import { startHarness, type Harness } from './support/harness.js';
import { drainQueue } from './support/queue-drain.js';
import { StreamPump } from './support/stream-pump.js';

const silent = process.env.HOPPER_TEST_LOGS === '1' ? (line: string) => console.error(line) : () => undefined;

let harness: Harness;
let dynamo: CountingDynamo;
let client: Client;
let stream: StreamPump;
/** What ran, in order: `<jobtype> <jid>`. */
const ran: string[] = [];
/** Callback jobs the batch function sent. */
const sent: Job[] = [];
const handlers: Record<string, JobHandler> = {};

function worker() {
  return createWorker({ env: harness.env, clients: { sqs: harness.sqs, dynamo: dynamo.client }, log: silent, jobs: handlers });
}

/** Runs everything until nothing is left: job queues, retries, the stream. */
async function settle(): Promise<void> {
  const recording: SqsBatchSender = {
    send: async (command) => {
      for (const entry of command.input.Entries ?? []) sent.push(JSON.parse(entry.MessageBody ?? '{}'));
      return harness.sqs.send(command);
    },
  };
  const batchFunction = createBatchStreamHandler({ env: harness.env, sqs: recording, dynamo: dynamo.client, log: silent });
  const retry = createRetryHandler({ env: harness.env, sqs: harness.sqs, dynamo: dynamo.client, log: silent, now: () => new Date(Date.now() + 600_000) });
  for (let round = 0; round < 8; round += 1) {
    const jobs = await drainQueue(harness, harness.queueUrls.default ?? '', worker(), { lanes: 1 });
    const critical = await drainQueue(harness, harness.queueUrls.critical ?? '', worker(), { lanes: 1 });
    const retries = await drainQueue(harness, harness.retriesQueueUrl, retry, { lanes: 1 });
    const records = await stream.pumpUntilQuiet(batchFunction);
    if (jobs.records + critical.records + retries.records + records.delivered === 0) return;
  }
}

function ranIndex(entry: string): number {
  const index = ran.indexOf(entry);
  if (index < 0) throw new Error(`${entry} did not run; ran: ${ran.join(', ')}`);
  return index;
}

beforeAll(async () => {
  harness = await startHarness({ visibilityTimeout: 1 });
  dynamo = new CountingDynamo(harness);
  client = new Client({ env: harness.env, sqs: harness.sqs, dynamo: dynamo.client });
  stream = new StreamPump(harness, { filter: matchesBatchStreamFilter });
  const record = (jobtype: string): JobHandler => (_args, ctx) => { ran.push(`${jobtype} ${ctx.jid}`); };
  Object.assign(handlers, {
    Work: record('Work'),
    Done: record('Done'),
    Fail: () => { throw new Error('always fails'); },
    Fanout: async (args: readonly unknown[], ctx: Parameters<JobHandler>[1]) => {
      ran.push(`Fanout ${ctx.jid}`);
      await ctx.batch?.add([{ jobtype: 'Work', args: [1] }, { jobtype: 'Work', args: [2] }]);
    },
  });
});

afterAll(async () => {
  stream?.stop();
  dynamo?.destroy();
  await harness?.stop();
});

describe('child batches', () => {
  it("completes the parent only after the child and the child's callback", async () => {
    await client.batch({ bid: 'parent-1', onSuccess: { jobtype: 'Done', args: ['parent'] } }, async (parent) => {
      await parent.child({ bid: 'child-1', onSuccess: { jobtype: 'Done', args: ['child'] } }, (child) => child.add([{ jobtype: 'Work', jid: 'child-job-1' }, { jobtype: 'Work', jid: 'child-job-2' }]));
      await parent.add([{ jobtype: 'Work', jid: 'parent-job-1' }]);
    });

    await settle();

    const childCallback = sent.find((job) => job.jid === 'child-1-success');
    expect(childCallback?.custom).toEqual({ bid: 'parent-1', callback: { bid: 'child-1', event: 'success' } });
    expect(sent.filter((job) => job.jid === 'parent-1-success')).toHaveLength(1);
    expect(ranIndex('Done child-1-success')).toBeLessThan(ranIndex('Done parent-1-success'));
    expect(await client.getBatch('parent-1')).toMatchObject({
      total: 2, succeeded: 2, pending: 0, success: true, childBids: ['child-1'],
      children: { total: 1, complete: 1, succeeded: 1, dead: 0 },
    });
    expect(await client.getBatch('child-1')).toMatchObject({ total: 2, succeeded: 2, parentBid: 'parent-1', success: true });
  });

  it('tells the parent when a job of a child dies', async () => {
    await client.batch({ bid: 'parent-2', onDeath: { jobtype: 'Done', args: ['death'] }, onComplete: { jobtype: 'Done', args: ['complete'] } }, (parent) =>
      parent.child({ bid: 'child-2' }, (child) => child.add([{ jobtype: 'Fail', jid: 'child-2-fail', retry: 0 }])));

    await settle();

    expect(sent.filter((job) => job.jid.startsWith('parent-2-')).map((job) => job.jid).sort()).toEqual(['parent-2-complete', 'parent-2-death']);
    expect(await client.getBatch('parent-2')).toMatchObject({ complete: true, success: false, children: { total: 1, complete: 1, succeeded: 0, dead: 1 } });
  });
});

describe('the jobs of a batch', () => {
  it('are spread over the shards of its job items and listed a page at a time in jid order, none skipped', async () => {
    const jobs = Array.from({ length: 60 }, (_, index) => ({ jobtype: index % 3 === 0 ? 'Fail' : 'Work', jid: `list-${String(index).padStart(2, '0')}`, retry: 0 }));
    await client.batch({ bid: 'list-1' }, (batch) => batch.add(jobs));

    await settle();

    const shards = await Promise.all(batchJobPartitionKeys('list-1').map(async (pk) => (await dynamo.client.send(new QueryCommand({ TableName: harness.env.HOPPER_STATE_TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, Select: 'COUNT' }))).Count ?? 0));
    expect(shards.filter((count) => count > 0).length).toBeGreaterThan(10);
    const listed: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 30; page += 1) {
      // One 1 MB page per shard and request, so that every kind of page end is met.
      const result = await listBatchMembers(dynamo.client, harness.env.HOPPER_STATE_TABLE ?? '', 'list-1', { statuses: ['dead', 'succeeded'], limit: 7, maxPages: 1, ...(cursor === undefined ? {} : { cursor }) });
      listed.push(...result.jobs.map((job) => `${job.jid} ${job.status}`));
      cursor = result.cursor;
      if (cursor === undefined) break;
    }
    expect(listed).toEqual(jobs.map((job) => `${job.jid} ${job.jobtype === 'Fail' ? 'dead' : 'succeeded'}`));
    expect(await client.getBatch('list-1')).toMatchObject({ total: 60, succeeded: 40, dead: 20, pending: 0 });
  });
});

describe('adding to a batch', () => {
  it('lets a running job add jobs; the batch completes after them, and a rerun adds nothing twice', async () => {
    await client.batch({ bid: 'fanout-1', onComplete: { jobtype: 'Done' } }, (batch) => batch.add([{ jobtype: 'Fanout', jid: 'fanout-root' }]));

    await settle();

    expect(ranIndex('Work fanout-root-1')).toBeGreaterThan(ranIndex('Fanout fanout-root'));
    expect(ranIndex('Done fanout-1-complete')).toBeGreaterThan(ranIndex('Work fanout-root-2'));
    expect(sent.find((job) => job.jid === 'fanout-1-complete')?.args[0]).toMatchObject({ total: 3, succeeded: 3, pending: 0 });
  });

  it('does not fire while a fill is open, even when everything added so far has run', async () => {
    const batch = await client.batch({ bid: 'fill-1', onComplete: { jobtype: 'Done' } });
    await batch.seal();

    await batch.jobs(async (open) => {
      await open.add([{ jobtype: 'Work', jid: 'fill-1-a' }]);
      await settle();
      expect(sent.filter((job) => job.jid === 'fill-1-complete')).toEqual([]);
      expect(await open.status()).toMatchObject({ total: 1, succeeded: 1, pending: 0, complete: false, openFills: 1 });
      await open.add([{ jobtype: 'Work', jid: 'fill-1-b' }]);
    });
    await settle();

    expect(sent.filter((job) => job.jid === 'fill-1-complete').map((job) => job.args[0])).toEqual([expect.objectContaining({ total: 2, succeeded: 2 })]);
  });
});

describe('unique jobs', () => {
  const sync = (jid: string, custom: Record<string, unknown> = {}) => ({ jobtype: 'Work', args: [{ account: 7, full: true }], jid, custom: { unique_for: 300, ...custom } });

  it('refuses a second enqueue while the first is queued, with its jid, and frees the lock on success', async () => {
    await client.enqueue(sync('unique-a'));

    const refused = await client.enqueue({ ...sync('unique-b'), args: [{ full: true, account: 7 }] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NotUniqueError);
    expect(refused).toMatchObject({ existingJid: 'unique-a', jid: 'unique-b' });

    await settle();
    expect(ran).toContain('Work unique-a');
    expect(ran).not.toContain('Work unique-b');
    await expect(client.enqueue(sync('unique-c'))).resolves.toBe('unique-c');
    await settle();
  });

  it('reports each refused job of an enqueueMany', async () => {
    const error = await client.enqueueMany([sync('many-a', { unique_for: 60 }), sync('many-b', { unique_for: 60 })]).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(EnqueueError);
    expect(error).toMatchObject({ enqueued: ['many-a'], failed: [{ jid: 'many-b', existingJid: 'many-a' }] });
    await settle();
  });

  it('frees the lock when the job starts with unique_until start', async () => {
    let second: unknown;
    handlers.Reenter = async (_args, ctx) => {
      ran.push(`Reenter ${ctx.jid}`);
      if (ctx.jid === 'start-a') second = await client.enqueue({ jobtype: 'Reenter', args: ['x'], jid: 'start-b', custom: { unique_for: 300, unique_until: 'start' } });
    };
    await client.enqueue({ jobtype: 'Reenter', args: ['x'], jid: 'start-a', custom: { unique_for: 300, unique_until: 'start' } });

    await settle();

    expect(second).toBe('start-b');
    expect(ran).toContain('Reenter start-b');
  });

  it('treats an expired lock that DynamoDB has not deleted yet as free', async () => {
    const job = { jobtype: 'Never', args: ['expiring'], queue: 'critical', custom: { unique_for: 1 } };
    await client.enqueue({ ...job, jid: 'expiring-a' });
    await expect(client.enqueue({ ...job, jid: 'expiring-b' })).rejects.toMatchObject({ name: 'NotUniqueError', existingJid: 'expiring-a' });

    await new Promise((resolve) => setTimeout(resolve, 2100));

    await expect(client.enqueue({ ...job, jid: 'expiring-c' })).resolves.toBe('expiring-c');
    handlers.Never = () => undefined;
    await settle();
  });
});

describe('ctx.once', () => {
  it('runs a step once across a retry and hands its value to the retry; gives a failed step back; bills a write unit per change', async () => {
    dynamo.reset();
    const charges = new Map<string, number>();
    const receipts: unknown[] = [];
    handlers.Charge = async (_args, ctx) => {
      const receipt = await ctx.once('charge', () => {
        charges.set(ctx.jid, (charges.get(ctx.jid) ?? 0) + 1);
        return { receipt: `r-${ctx.jid}` };
      });
      receipts.push(receipt);
      if (ctx.job.failure === undefined) throw new Error('the email after the charge failed');
    };
    const refunds = new Map<string, number>();
    handlers.Refund = async (_args, ctx) => {
      await ctx.once('refund', () => {
        refunds.set(ctx.jid, (refunds.get(ctx.jid) ?? 0) + 1);
        if (ctx.job.failure === undefined) throw new Error('payment provider unavailable');
      });
    };

    await client.enqueueMany([...Array.from({ length: 10 }, (_, i) => ({ jobtype: 'Charge', jid: `charge-${i}` })), { jobtype: 'Refund', jid: 'refund-1' }]);
    await settle();

    expect([...charges.values()]).toEqual(Array.from({ length: 10 }, () => 1));
    expect(receipts).toHaveLength(20);
    expect(new Set(receipts.map((receipt) => JSON.stringify(receipt))).size).toBe(10);
    expect(refunds.get('refund-1')).toBe(2);
    // Each Charge: the step taken and done (1 unit each), and the retry's refused put (billed as a
    // write). The Refund: taken and given back, then taken and done.
    expect(dynamo.billedWriteUnits()).toBe(10 * 3 + 4);
  });
});

describe('iterating jobs', () => {
  it('run in slices, each item once, a copy of a finished job not run; bill a take, a checkpoint per item and a release per slice', async () => {
    dynamo.reset();
    const done: number[] = [];
    const slicesSeen: unknown[] = [];
    handlers.Walk = iterate<[number], number, number>({
      items: function* ([count], cursor) {
        for (let index = cursor ?? 0; index < count; index += 1) yield [index, index + 1];
      },
      each: async (index, _args, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        done.push(index);
        slicesSeen.push(ctx.job.custom?.slice);
      },
      complete: ([count]) => { ran.push(`Walk done ${count}`); },
      checkpointEveryMs: 0,
      maxSliceMs: 100,
    }) as unknown as JobHandler;

    await client.enqueue({ jobtype: 'Walk', jid: 'walk-1', args: [24] });
    await settle();
    expect(done).toEqual(Array.from({ length: 24 }, (_, index) => index));
    const slices = new Set(slicesSeen).size;
    expect(slices).toBeGreaterThanOrEqual(3);
    expect(ran.filter((entry) => entry === 'Walk done 24')).toHaveLength(1);
    // Per slice a take and a release (the last slice's is the finish), and a checkpoint per item.
    expect(dynamo.billedWriteUnits()).toBe(2 * slices + 24);

    // The same job sent again after it finished: acknowledged without an item.
    await client.enqueue({ jobtype: 'Walk', jid: 'walk-1', args: [24] });
    await settle();
    expect(done).toHaveLength(24);
    expect(ran.filter((entry) => entry === 'Walk done 24')).toHaveLength(1);
  });

  it('keep a cursor that one slice holds at a time, on DynamoDB Local', async () => {
    let nowMs = Date.now();
    const store = new Iterations({ tableName: harness.env.HOPPER_STATE_TABLE ?? '', client: dynamo.client, ttlDays: 1, now: () => new Date(nowMs) });
    expect(await store.take('it-1', { owner: 'a', untilMs: nowMs + 60_000 })).toEqual({ taken: true, cursor: undefined, items: 0, slices: 1 });
    expect(await store.take('it-1', { owner: 'b', untilMs: nowMs + 60_000 })).toEqual({ taken: false, done: false, untilMs: nowMs + 60_000 });
    await store.checkpoint('it-1', 'a', { cursor: '{"page":"p2"}', items: 50 });
    await expect(store.checkpoint('it-1', 'b', { cursor: '{"page":"p3"}', items: 60 })).rejects.toThrow(IterationLostError);
    await store.release('it-1', 'a', { cursor: '{"page":"p3"}', items: 60 });
    expect(await store.take('it-1', { owner: 'b', untilMs: nowMs + 60_000 })).toEqual({ taken: true, cursor: '{"page":"p3"}', items: 60, slices: 2 });
    // b's invocation died without a word: once its time is up, c takes over where b's last checkpoint was.
    nowMs += 61_000;
    expect(await store.take('it-1', { owner: 'c', untilMs: nowMs + 60_000 })).toMatchObject({ taken: true, cursor: '{"page":"p3"}', slices: 3 });
    await expect(store.finish('it-1', 'b', 70)).rejects.toThrow(IterationLostError);
    await store.finish('it-1', 'c', 70);
    expect(await store.take('it-1', { owner: 'd', untilMs: nowMs + 60_000 })).toEqual({ taken: false, done: true, items: 70 });
  });
});

describe('cost', () => {
  it('costs a batch job about 1.1 billed write units on the happy path', async () => {
    dynamo.reset();
    await client.batch({ bid: 'cost-1', onSuccess: { jobtype: 'Done' } }, (batch) => batch.add(Array.from({ length: 100 }, (_, i) => ({ jobtype: 'Work', jid: `cost-1-${i}` }))));
    await settle();

    const usage = dynamo.summary();
    const perJob = dynamo.billedWriteUnits() / 100;
    console.log(`batch job cost ${JSON.stringify({ billedWriteUnitsPerJob: perJob, readUnitsPerJob: dynamo.billedReadUnits() / 100, usage })}`);
    // Registration: one transaction of the batch item and one add item (2 WCU each); a success:
    // one conditional update of its job item (1 WCU); the counts: one update of the batch item per
    // batch function invocation; the creation, the seal, the claim (a one-item transaction), the
    // sent mark and the callback job's run claim and done mark: 8 more.
    expect(usage.TransactWriteItemsCommand).toMatchObject({ requests: 2, items: 3, failed: 0 });
    expect(usage.UpdateItemCommand?.failed).toBe(0);
    expect(usage.UpdateItemCommand?.requests).toBeGreaterThanOrEqual(100 + 5);
    expect(perJob).toBeGreaterThanOrEqual(1.1);
    expect(perJob).toBeLessThan(1.5);
  });

  it('costs a plain job no DynamoDB request, succeeded or retried', async () => {
    dynamo.reset();
    const attempts = new Map<string, number>();
    handlers.Plain = (_args, ctx) => {
      attempts.set(ctx.jid, (attempts.get(ctx.jid) ?? 0) + 1);
      if (ctx.jid.endsWith('-flaky') && ctx.job.failure === undefined) throw new Error('first attempt fails');
    };

    await client.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ jobtype: 'Plain', jid: `plain-${i}${i % 4 === 0 ? '-flaky' : ''}` })));
    await settle();

    expect(attempts.size).toBe(20);
    expect(attempts.get('plain-0-flaky')).toBe(2);
    expect(dynamo.summary()).toEqual({});
  });
});
