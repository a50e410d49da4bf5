import { randomUUID } from 'node:crypto';
import { BatchWriteItemCommand, DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../lib/errors/base.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { createSchedulerHandler, delaySecondsUntil, helperRequestOf, planMove, sweep, type HelperRequest, type SweepDeps, type SweepHelpers } from '../../lib/scheduler/handler.js';
import { createMetrics } from '../../lib/observability/emf.js';
import { jsonObject } from '../fixtures/json.js';
import { createLogger } from '../../lib/observability/logger.js';
import { fromItem, toItem, type SetEntry } from '../../lib/storage/set-items.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, QUEUE_URLS, TEST_ENV, memoryLog } from './worker-fakes.js';

const T0 = Date.parse('2026-11-22T12:00:00.000Z');
const QUEUES: Readonly<Record<string, string>> = QUEUE_URLS;

function makeJob(jid: string, fields: Record<string, unknown> = {}): Job {
  return normalizeJob({ jobtype: 'Remind', args: [jid], jid, ...fields }, { now: new Date(T0 - 3_600_000) });
}

/** A fake clock the test moves by hand. */
function fakeClock(startMs: number): { now: () => Date; advance: (ms: number) => void; set: (ms: number) => void } {
  let current = startMs;
  return { now: () => new Date(current), advance: (ms) => { current += ms; }, set: (ms) => { current = ms; } };
}

function setup(startMs = T0) {
  const dynamo = new FakeDynamo();
  const table = new StateTable(dynamo, `state-${randomUUID()}`);
  const sqs = new FakeSqs();
  const clock = fakeClock(startMs);
  const log = memoryLog();
  const deps: SweepDeps = { table, sqs, queueUrls: QUEUES, deadTtlDays: 180, clock: clock.now, logger: createLogger({ sink: log.sink }), concurrency: 4 };
  return { dynamo, table, sqs, clock, log, deps };
}

function entryOf(set: 'scheduled' | 'retry', job: Job | undefined, epochMs: number, raw?: string): SetEntry {
  const item = job === undefined ? toItem(set, { raw: raw ?? '', jid: 'raw-1', queue: 'default', epochMs }) : toItem(set, { job, epochMs });
  const entry = fromItem(set, item);
  if (entry === undefined) throw new Error('not an entry');
  return entry;
}

/** Every job sent to a queue, by jid, with its delay. */
function sent(sqs: FakeSqs): { jid: string; delaySeconds: number | undefined; body: Job }[] {
  return Object.values(QUEUES).flatMap((url) => sqs.sentTo(url)).map(({ body, delaySeconds }) => {
    const job = normalizeJob(body, { now: new Date(0) });
    return { jid: job.jid, delaySeconds, body: job };
  });
}

describe('delaySecondsUntil', () => {
  it.each([
    [T0 + 20_000, T0, 20],
    [T0 + 20_001, T0, 21],
    [T0 + 19_999, T0, 20],
    [T0, T0, 0],
    [T0 - 5_000, T0, 0],
    [T0 + 3_600_000, T0, 900],
  ])('due %d at %d → %d s (rounded up, never early, never negative, at most 900)', (due, now, seconds) => {
    expect(delaySecondsUntil(due, now)).toBe(seconds);
  });
});

describe('planMove', () => {
  const context = { nowMs: T0, queueUrls: QUEUES, deadTtlDays: 180 };

  it('sends a job to its queue with the remaining delay and enqueued_at = now', () => {
    const job = makeJob('a', { queue: 'critical', at: new Date(T0 + 42_500).toISOString() });

    const plan = planMove(entryOf('scheduled', job, T0 + 42_500), context);

    expect(plan).toEqual({
      kind: 'enqueue', queueUrl: QUEUE_URLS.critical, delaySeconds: 43,
      job: { ...job, enqueued_at: '2026-11-22T12:00:00.000Z' },
      body: JSON.stringify({ ...job, enqueued_at: '2026-11-22T12:00:00.000Z' }),
    });
  });

  it('sends with no delay when asked to run now', () => {
    const plan = planMove(entryOf('scheduled', makeJob('a'), T0 + 100_000), { ...context, immediately: true });

    expect(plan).toMatchObject({ kind: 'enqueue', delaySeconds: 0 });
  });

  it('sends a job of an undeclared queue to the dead set, naming the declared ones', () => {
    const job = makeJob('a', { queue: 'reports' });

    const plan = planMove(entryOf('retry', job, T0), context);

    expect(plan).toEqual({
      kind: 'dead',
      entry: { job, epochMs: T0, ttl: T0 / 1000 + 180 * 86_400, reason: { errtype: 'UnknownQueue', message: 'queue "reports" is not declared in this JobSystem (declared: default, critical)' } },
    });
  });

  it('sends an entry that holds no valid job to the dead set with its raw text', () => {
    const entry = entryOf('scheduled', undefined, T0, '{"not":"a job"}');

    const plan = planMove(entry, context);

    expect(plan).toEqual({
      kind: 'dead',
      entry: {
        raw: '{"not":"a job"}', jid: 'raw-1', queue: 'default', epochMs: T0, ttl: T0 / 1000 + 180 * 86_400,
        reason: { errtype: 'InvalidJobError', message: `the scheduled set entry ${entry.key.sk} does not hold a valid job` },
      },
    });
  });
});

describe('sweep', () => {
  it('moves what is due within the lookahead, each with the delay that lands it at its due time', async () => {
    const { table, sqs, deps, dynamo } = setup();
    await table.putScheduled(makeJob('overdue'), T0 - 30_000);
    await table.putScheduled(makeJob('in-20s'), T0 + 20_000);
    await table.putSetEntry('retry', { job: makeJob('retry-in-90s', { failure: { retry_count: 7, failed_at: '2026-11-22T11:00:00.000Z', message: 'x', errtype: 'E' } }), epochMs: T0 + 90_500 });
    await table.putScheduled(makeJob('in-149s'), T0 + 149_999);
    await table.putScheduled(makeJob('in-150s'), T0 + 150_000);
    await table.putScheduled(makeJob('tomorrow'), T0 + 86_400_000);

    const result = await sweep(deps);

    expect(result).toEqual({ due: 4, moved: 4, dead: 0, busy: 0, failed: 0, lingering: 0, unread: 0, stopped: false });
    expect(sent(sqs).map(({ jid, delaySeconds }) => [jid, delaySeconds]).sort()).toEqual([['in-149s', 150], ['in-20s', 20], ['overdue', 0], ['retry-in-90s', 91]]);
    expect(sent(sqs).every(({ body }) => body.enqueued_at === '2026-11-22T12:00:00.000Z')).toBe(true);
    expect(sent(sqs).find(({ jid }) => jid === 'retry-in-90s')?.body.failure?.retry_count).toBe(7);
    expect([...dynamo.items.values()].map((item) => item.jid?.S).sort()).toEqual(['in-150s', 'tomorrow']);
  });

  it('sends each entry once, sweeping the shards side by side, with no write but the deletes, 25 to a call', async () => {
    const { table, sqs, deps, dynamo } = setup();
    for (let i = 0; i < 300; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + (i % 120) * 1000);
    let reading = 0;
    let mostReading = 0;
    const watched: SweepDeps = {
      ...deps,
      table: {
        ...bound(table),
        streamShardRange: async function* (set, shard, options) {
          reading += 1;
          mostReading = Math.max(mostReading, reading);
          try {
            yield* table.streamShardRange(set, shard, options);
          } finally {
            reading -= 1;
          }
        },
      },
    };

    const result = await sweep(watched, { batchSize: 25, lanes: 4 });

    const jids = sent(sqs).map(({ jid }) => jid);
    expect(result).toMatchObject({ due: 300, moved: 300, lingering: 0 });
    expect(jids).toHaveLength(300);
    expect(new Set(jids).size).toBe(300);
    expect(mostReading).toBe(4);
    expect(dynamo.sentOf(UpdateItemCommand)).toEqual([]);
    expect(dynamo.sentOf(DeleteItemCommand)).toEqual([]);
    const deleted = dynamo.sentOf(BatchWriteItemCommand).map((command) => Object.values(command.input.RequestItems ?? {}).flat().length);
    expect(deleted.reduce((sum, n) => sum + n, 0)).toBe(300);
    expect(Math.max(...deleted)).toBeLessThanOrEqual(25);
    expect(dynamo.items.size).toBe(0);
  });

  it('moves a job of an undeclared queue to the dead set and out of the scheduled set', async () => {
    const { table, sqs, deps } = setup();
    await table.putScheduled(makeJob('lost', { queue: 'reports' }), T0 + 5_000);

    const result = await sweep(deps);

    const dead = (await table.readSetRange('dead')).entries;
    expect(result).toMatchObject({ moved: 0, dead: 1 });
    expect(dead.map((entry) => [entry.jid, entry.reason?.errtype])).toEqual([['lost', 'UnknownQueue']]);
    expect((await table.readSetRange('scheduled')).entries).toEqual([]);
    expect(sqs.batches).toEqual([]);
  });

  it('counts the jobs it moves onto queues as Enqueued and into the dead set as Dead, per queue and jobtype', async () => {
    const { table, deps } = setup();
    await table.putScheduled(makeJob('one'), T0 + 5_000);
    await table.putScheduled(makeJob('two'), T0 + 6_000);
    await table.putScheduled(makeJob('lost', { queue: 'reports' }), T0 + 7_000);
    const lines: string[] = [];
    const metrics = createMetrics({ sink: (line) => lines.push(line) }).batch();

    await sweep({ ...deps, metrics });
    metrics.flush(T0);

    const jobtype = makeJob('x').jobtype;
    // One line per queue and jobtype, in whatever order the shards were swept.
    expect(lines.map(jsonObject).map(({ _aws, ...fields }) => fields).sort((a, b) => String(a.Queue).localeCompare(String(b.Queue)))).toEqual([
      { Queue: 'default', JobType: jobtype, Enqueued: 2 },
      { Queue: 'reports', JobType: jobtype, Dead: 1 },
    ]);
  });

  it('leaves an entry an admin call is moving alone until its claim lapses', async () => {
    const { table, sqs, deps, clock } = setup();
    const key = await table.putScheduled(makeJob('held'), T0 + 5_000).then(() => table.readSetRange('scheduled')).then((page) => page.entries[0]?.key);
    if (key === undefined) throw new Error('no entry');
    await table.claimSetEntry('scheduled', key, { owner: 'run-now', nowMs: T0, untilMs: T0 + 90_000 });

    const during = await sweep(deps);
    clock.advance(90_001);
    const after = await sweep(deps);

    expect(during).toMatchObject({ due: 1, busy: 1, moved: 0 });
    expect(after).toMatchObject({ due: 1, moved: 1 });
    expect(sent(sqs).map(({ jid, delaySeconds }) => [jid, delaySeconds])).toEqual([['held', 0]]);
  });

  it('keeps an entry it could not send, so the next sweep moves it', async () => {
    const { table, sqs, deps, log } = setup();
    await table.putScheduled(makeJob('a'), T0 + 5_000);
    sqs.failQueues.set(QUEUE_URLS.default, Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));

    const failed = await sweep(deps);
    sqs.failQueues.clear();
    const retried = await sweep(deps);

    expect(failed).toMatchObject({ moved: 0, failed: 1 });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', jid: 'a', reason: 'ServiceUnavailable: down' }));
    expect(retried).toMatchObject({ moved: 1, busy: 0 });
    expect(sent(sqs).map(({ jid }) => jid)).toEqual(['a']);
  });

  it('sends again, never loses, when it dies between the send and the delete (at-least-once)', async () => {
    const { table, sqs, deps, log } = setup();
    await table.putScheduled(makeJob('a'), T0 + 5_000);
    const dying: SweepDeps = { ...deps, table: { ...bound(table), deleteSetEntries: () => Promise.reject(new Error('process killed')) } };

    const first = await sweep(dying);
    const second = await sweep(deps);

    expect(first).toMatchObject({ moved: 1, lingering: 1 });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', jid: 'a', reason: 'Error: process killed' }));
    expect(second).toMatchObject({ moved: 1, lingering: 0 });
    expect(sent(sqs).map(({ jid }) => jid)).toEqual(['a', 'a']);
    expect((await table.readSetRange('scheduled')).entries).toEqual([]);
  });

  it('counts a shard it could not read and still sweeps the others', async () => {
    const { table, sqs, deps, log } = setup();
    for (let i = 0; i < 40; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + i * 1000);
    const broken: SweepDeps = {
      ...deps,
      table: { ...bound(table), streamShardRange: (set, shard, options) => (shard === 3 && set === 'scheduled' ? failing() : table.streamShardRange(set, shard, options)) },
    };
    const onShard3 = (await table.readSetRange('scheduled', { limit: 1000 })).entries.filter((entry) => entry.key.pk === 'scheduled#3').length;

    const result = await sweep(broken);

    expect(onShard3).toBeGreaterThan(0);
    expect(result).toMatchObject({ unread: 1, moved: 40 - onShard3 });
    expect(sent(sqs)).toHaveLength(40 - onShard3);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', set: 'scheduled', shard: 3, reason: 'Error: throttled' }));
  });

  it('stops cleanly when its time runs out, and the next sweep moves the rest, each entry once', async () => {
    const { table, sqs, deps } = setup();
    for (let i = 0; i < 50; i += 1) await table.putScheduled(makeJob(`j${String(i).padStart(2, '0')}`), T0 + i * 1000);
    let left = 60_000;
    // Each SendMessageBatch costs 20 s of the budget: after 3 of them, less than the 5 s margin is left.
    const remainingTimeMs = () => left;
    const metered: SweepDeps = { ...deps, sqs: { send: async (command) => { left -= 20_000; return sqs.send(command); } } };

    const first = await sweep(metered, { batchSize: 10, lanes: 1, remainingTimeMs });
    const second = await sweep(deps, { batchSize: 10 });

    expect(first.stopped).toBe(true);
    expect(first.moved).toBeGreaterThan(0);
    expect(first.moved).toBeLessThan(50);
    expect(second).toMatchObject({ stopped: false, moved: 50 - first.moved });
    expect(sent(sqs).map(({ jid }) => jid).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `j${String(i).padStart(2, '0')}`));
  });

  it('hands what follows the first page of each shard with a backlog to helpers, each entry read and moved once', async () => {
    const { table, sqs, deps, dynamo } = setup();
    for (let i = 0; i < 1_500; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + (i % 120) * 1000);
    const requests: HelperRequest[] = [];
    const helpers: SweepHelpers = {
      max: 3,
      invoke: async (request) => {
        requests.push(request);
        return sweep(deps, { shards: request.shards, untilMs: request.untilMs, batchSize: 20 });
      },
    };

    const result = await sweep(deps, { batchSize: 20, helpers });

    const jids = sent(sqs).map(({ jid }) => jid);
    expect(result).toMatchObject({ due: 1_500, moved: 1_500, unread: 0, lingering: 0 });
    expect(jids).toHaveLength(1_500);
    expect(new Set(jids).size).toBe(1_500);
    expect(dynamo.items.size).toBe(0);
    // Three helpers, their shares disjoint, each shard taken up after its first page.
    expect(requests).toHaveLength(3);
    const handed = requests.flatMap((request) => request.shards.map(({ set, shard }) => `${set}#${shard}`));
    expect(new Set(handed).size).toBe(handed.length);
    expect(requests.every((request) => request.shards.every((range) => range.after !== undefined))).toBe(true);
    expect(requests.every((request) => request.untilMs === T0 + 150_000)).toBe(true);
  });

  it('sweeps alone when no shard has more than a page', async () => {
    const { table, sqs, deps } = setup();
    for (let i = 0; i < 50; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + i * 1000);
    const invoke = vi.fn<SweepHelpers['invoke']>();

    const result = await sweep(deps, { helpers: { max: 7, invoke } });

    expect(result).toMatchObject({ due: 50, moved: 50 });
    expect(sent(sqs)).toHaveLength(50);
    expect(invoke).not.toHaveBeenCalled();
  });

  it('counts the shards of a helper that failed as unread, and the next sweep moves what they held', async () => {
    const { table, sqs, deps, log } = setup();
    // About 37 in each of the 64 shards: more than a page of 20.
    for (let i = 0; i < 2_400; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + (i % 120) * 1000);
    let handed = 0;
    const helpers: SweepHelpers = {
      max: 1,
      invoke: async (request) => {
        handed = request.shards.length;
        throw new Error('Lambda throttled the helper');
      },
    };

    const first = await sweep(deps, { batchSize: 20, helpers });
    const second = await sweep(deps, { batchSize: 20 });

    expect(handed).toBeGreaterThan(0);
    expect(first.unread).toBe(handed);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', reason: 'Error: Lambda throttled the helper' }));
    expect(first.moved + second.moved).toBe(2_400);
    expect(new Set(sent(sqs).map(({ jid }) => jid)).size).toBe(2_400);
    expect(sent(sqs)).toHaveLength(2_400);
  });

  it('stops after maxEntries', async () => {
    const { table, deps } = setup();
    for (let i = 0; i < 5; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + i * 1000);

    expect(await sweep(deps, { maxEntries: 3 })).toMatchObject({ due: 3, moved: 3, stopped: true });
    expect(await sweep(deps, { maxEntries: 3 })).toMatchObject({ due: 2, moved: 2, stopped: false });
  });
});

/** The table's methods a sweep uses, bound, to be replaced one at a time. */
function bound(table: StateTable): SweepDeps['table'] {
  return {
    streamShardRange: table.streamShardRange.bind(table),
    readShardPage: table.readShardPage.bind(table),
    deleteSetEntries: table.deleteSetEntries.bind(table),
    putSetEntry: table.putSetEntry.bind(table),
  };
}

// A shard whose read fails on its first page.
async function* failing(): AsyncGenerator<SetEntry> {
  throw new Error('throttled');
}

describe('createSchedulerHandler', () => {
  it('sweeps only the share a helper event names, up to the horizon it gives', async () => {
    const dynamo = new FakeDynamo();
    const table = new StateTable(dynamo, 'state');
    const sqs = new FakeSqs();
    const now = Date.now();
    for (let i = 0; i < 200; i += 1) await table.putScheduled(makeJob(`j${i}`), now + i * 100);
    const entries = (await table.readSetRange('scheduled', { limit: 1000 })).entries;
    const onShard = (shard: number) => entries.filter((entry) => entry.key.pk === `scheduled#${shard}`);
    const after = onShard(2)[0]?.key.sk;

    const handler = createSchedulerHandler({ env: TEST_ENV, sqs, stateTable: table, log: memoryLog().sink });
    const result = await handler({ hopperSweep: { shards: [{ set: 'scheduled', shard: 1 }, { set: 'scheduled', shard: 2, after }], untilMs: now + 10_000, deadlineMs: now + 60_000 } }, { awsRequestId: 'helper-1', getRemainingTimeInMillis: () => 55_000 });

    const expected = [...onShard(1), ...onShard(2).slice(1)].filter((entry) => entry.epochMs < now + 10_000).map((entry) => entry.jid).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(result).toMatchObject({ moved: expected.length });
    expect(sent(sqs).map(({ jid }) => jid).sort()).toEqual(expected);
  });

  it.each([
    [{ hopperSweep: { shards: [], untilMs: 1, deadlineMs: 2 } }, 'hopperSweep.shards to be a non-empty array'],
    [{ hopperSweep: { shards: [{ set: 'dead', shard: 0 }], untilMs: 1, deadlineMs: 2 } }, 'hopperSweep.shards[0].set to be one of scheduled, retry'],
    [{ hopperSweep: { shards: [{ set: 'retry', shard: 16 }], untilMs: 1, deadlineMs: 2 } }, 'hopperSweep.shards[0].shard to be an integer from 0 to 15'],
    [{ hopperSweep: { shards: [{ set: 'retry', shard: 1 }], untilMs: 1.5, deadlineMs: 2 } }, 'hopperSweep.untilMs to be an integer (epoch ms)'],
  ])('refuses a malformed helper event, naming the field', (event, message) => {
    expect(() => helperRequestOf(event)).toThrow(`a sweep helper's event needs ${message}`);
  });

  it('takes a schedule tick for what it is: no share', () => {
    expect(helperRequestOf({})).toBeUndefined();
    expect(helperRequestOf(undefined)).toBeUndefined();
  });

  it('honours HOPPER_CLOCK_OFFSET_MS: a job 20 minutes ahead is due for a clock 20 minutes ahead', async () => {
    const dynamo = new FakeDynamo();
    const table = new StateTable(dynamo, 'state');
    const sqs = new FakeSqs();
    const at = Date.now() + 20 * 60_000;
    await table.putScheduled(makeJob('later'), at);
    const log = memoryLog();
    const offset = 20 * 60_000 - 10_000;

    const handler = createSchedulerHandler({ env: { ...TEST_ENV, HOPPER_CLOCK_OFFSET_MS: String(offset) }, sqs, stateTable: table, log: log.sink });
    const result = await handler({}, { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 55_000 });

    expect(result).toMatchObject({ moved: 1 });
    const delay = sent(sqs)[0]?.delaySeconds ?? -1;
    expect(delay).toBeGreaterThanOrEqual(9);
    expect(delay).toBeLessThanOrEqual(10);
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'sweep done', request_id: 'req-1', moved: 1, lookahead_s: 150 }));
  });

  it.each([59, 901, 1.5])('refuses lookaheadSeconds %s', (lookaheadSeconds) => {
    expect(() => createSchedulerHandler({ env: TEST_ENV, sqs: new FakeSqs(), lookaheadSeconds })).toThrow(
      new ConfigurationError(`lookaheadSeconds must be an integer from 60 to 900, but ${lookaheadSeconds} was provided`),
    );
  });

  it('refuses a clock offset that is not an integer', () => {
    expect(() => createSchedulerHandler({ env: { ...TEST_ENV, HOPPER_CLOCK_OFFSET_MS: '5m' }, sqs: new FakeSqs() })).toThrow(
      'environment variable HOPPER_CLOCK_OFFSET_MS must be an integer number of milliseconds, but "5m" was provided',
    );
  });
});
