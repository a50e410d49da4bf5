import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../lib/errors/base.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { createSchedulerHandler, delaySecondsUntil, planMove, sweep, type SweepDeps } from '../../lib/scheduler/handler.js';
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

    const result = await sweep(deps, { owner: 'sweep-1' });

    expect(result).toEqual({ due: 4, moved: 4, dead: 0, busy: 0, gone: 0, failed: 0, lingering: 0, stopped: false });
    expect(sent(sqs).map(({ jid, delaySeconds }) => [jid, delaySeconds])).toEqual([['overdue', 0], ['in-20s', 20], ['retry-in-90s', 91], ['in-149s', 150]]);
    expect(sent(sqs).every(({ body }) => body.enqueued_at === '2026-11-22T12:00:00.000Z')).toBe(true);
    expect(sent(sqs).find(({ jid }) => jid === 'retry-in-90s')?.body.failure?.retry_count).toBe(7);
    expect([...dynamo.items.values()].map((item) => item.jid?.S).sort()).toEqual(['in-150s', 'tomorrow']);
  });

  it('sends each entry once when two sweeps run at the same time', async () => {
    const { table, sqs, deps } = setup();
    for (let i = 0; i < 300; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + (i % 120) * 1000);

    const [first, second] = await Promise.all([sweep(deps, { owner: 'sweep-a', batchSize: 25 }), sweep(deps, { owner: 'sweep-b', batchSize: 25 })]);

    const jids = sent(sqs).map(({ jid }) => jid);
    expect(jids).toHaveLength(300);
    expect(new Set(jids).size).toBe(300);
    expect((first?.moved ?? 0) + (second?.moved ?? 0)).toBe(300);
    // Both did some of the work: the claims, not luck, kept them apart.
    expect(first?.moved).toBeGreaterThan(0);
    expect(second?.moved).toBeGreaterThan(0);
  });

  it('moves a job of an undeclared queue to the dead set and out of the scheduled set', async () => {
    const { table, sqs, deps } = setup();
    await table.putScheduled(makeJob('lost', { queue: 'reports' }), T0 + 5_000);

    const result = await sweep(deps, { owner: 'sweep-1' });

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

    await sweep({ ...deps, metrics }, { owner: 'sweep-1' });
    metrics.flush(T0);

    const jobtype = makeJob('x').jobtype;
    expect(lines.map(jsonObject).map(({ _aws, ...fields }) => fields)).toEqual([
      { Queue: 'default', JobType: jobtype, Enqueued: 2 },
      { Queue: 'reports', JobType: jobtype, Dead: 1 },
    ]);
  });

  it('leaves an entry another sweep is moving alone until its claim lapses', async () => {
    const { table, sqs, deps, clock } = setup();
    const key = await table.putScheduled(makeJob('held'), T0 + 5_000).then(() => table.readSetRange('scheduled')).then((page) => page.entries[0]?.key);
    if (key === undefined) throw new Error('no entry');
    await table.claimSetEntry('scheduled', key, { owner: 'crashed-sweep', nowMs: T0, untilMs: T0 + 90_000 });

    const during = await sweep(deps, { owner: 'sweep-2' });
    clock.advance(90_001);
    const after = await sweep(deps, { owner: 'sweep-3' });

    expect(during).toMatchObject({ due: 1, busy: 1, moved: 0 });
    expect(after).toMatchObject({ due: 1, moved: 1 });
    expect(sent(sqs).map(({ jid, delaySeconds }) => [jid, delaySeconds])).toEqual([['held', 0]]);
  });

  it('keeps an entry it could not send, releasing its claim so the next sweep moves it at once', async () => {
    const { table, sqs, deps, log } = setup();
    await table.putScheduled(makeJob('a'), T0 + 5_000);
    sqs.failQueues.set(QUEUE_URLS.default, Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));

    const failed = await sweep(deps, { owner: 'sweep-1' });
    sqs.failQueues.clear();
    const retried = await sweep(deps, { owner: 'sweep-2' });

    expect(failed).toMatchObject({ moved: 0, failed: 1 });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', jid: 'a', reason: 'ServiceUnavailable: down' }));
    expect(retried).toMatchObject({ moved: 1, busy: 0 });
    expect(sent(sqs).map(({ jid }) => jid)).toEqual(['a']);
  });

  it('sends again, never loses, when it dies between the send and the delete (at-least-once)', async () => {
    const { table, sqs, deps, clock } = setup();
    await table.putScheduled(makeJob('a'), T0 + 5_000);
    const dying: SweepDeps = {
      ...deps,
      table: {
        streamSetRange: table.streamSetRange.bind(table),
        claimSetEntry: table.claimSetEntry.bind(table),
        releaseClaim: table.releaseClaim.bind(table),
        putSetEntry: table.putSetEntry.bind(table),
        deleteSetEntry: () => Promise.reject(new Error('process killed')),
      },
    };

    const first = await sweep(dying, { owner: 'sweep-1', remainingTimeMs: () => 60_000 });
    const beforeLapse = await sweep(deps, { owner: 'sweep-2' });
    clock.advance(60_000 + 30_001);
    const afterLapse = await sweep(deps, { owner: 'sweep-3' });

    expect(first).toMatchObject({ moved: 1, lingering: 1 });
    expect(beforeLapse).toMatchObject({ busy: 1, moved: 0 });
    expect(afterLapse).toMatchObject({ moved: 1, lingering: 0 });
    expect(sent(sqs).map(({ jid }) => jid)).toEqual(['a', 'a']);
    expect((await table.readSetRange('scheduled')).entries).toEqual([]);
  });

  it('stops cleanly when its time runs out, and the next sweep continues where it stopped', async () => {
    const { table, sqs, deps } = setup();
    for (let i = 0; i < 50; i += 1) await table.putScheduled(makeJob(`j${String(i).padStart(2, '0')}`), T0 + i * 1000);
    let left = 60_000;
    // Each batch of 10 is one SendMessageBatch that costs 20 s of the budget: 3 fit before less than 5 s is left.
    const remainingTimeMs = () => left;
    const metered: SweepDeps = { ...deps, sqs: { send: async (command) => { left -= 20_000; return sqs.send(command); } } };

    const first = await sweep(metered, { owner: 'sweep-1', batchSize: 10, remainingTimeMs });
    const second = await sweep(deps, { owner: 'sweep-2', batchSize: 10 });

    expect(first).toMatchObject({ stopped: true, moved: 30 });
    expect(second).toMatchObject({ stopped: false, moved: 20 });
    expect(sent(sqs).map(({ jid }) => jid)).toEqual(Array.from({ length: 50 }, (_, i) => `j${String(i).padStart(2, '0')}`));
  });

  it('stops after maxEntries', async () => {
    const { table, deps } = setup();
    for (let i = 0; i < 5; i += 1) await table.putScheduled(makeJob(`j${i}`), T0 + i * 1000);

    expect(await sweep(deps, { owner: 's', maxEntries: 3 })).toMatchObject({ due: 3, moved: 3, stopped: true });
    expect(await sweep(deps, { owner: 's2', maxEntries: 3 })).toMatchObject({ due: 2, moved: 2, stopped: false });
  });
});

describe('createSchedulerHandler', () => {
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
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'sweep done', owner: 'sweep:req-1', moved: 1, lookahead_s: 150 }));
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
