import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { allowedSeconds } from '../../lib/worker/reservation.js';
import { FakeSqs, QUEUE_URLS, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const START = Date.parse('2026-11-22T12:00:00.000Z');
const FIFTEEN_MINUTES = 15 * 60_000;

/** A worker whose queue `default` has a 60-second visibility timeout, on fake time. */
function setup(jobs: Readonly<Record<string, JobHandler>>, visibility: Record<string, number> = { default: 60 }) {
  const sqs = new FakeSqs();
  const log = memoryLog();
  const handler = createWorker({ jobs, env: { ...TEST_ENV, HOPPER_QUEUE_VISIBILITY: JSON.stringify(visibility) }, clients: { sqs }, log: log.sink });
  return { sqs, log, handler };
}

/** A handler that takes `ms` of (fake) time. */
const takes = (ms: number): JobHandler => () => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds since START at which each visibility change was made, with its length. */
function changes(sqs: FakeSqs): [number, number][] {
  return sqs.visibilityChanges.map((change) => [(change.atMs - START) / 1000, change.seconds]);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(START);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('reservations of running jobs', () => {
  it('sends nothing for a job that ends within half of its reservation', async () => {
    const { sqs, handler } = setup({ Quick: takes(29_000) });

    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Quick' } })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(29_000);

    expect((await done).batchItemFailures).toEqual([]);
    expect(sqs.visibilityChanges).toEqual([]);
  });

  it('renews a long job\'s reservation every half visibility timeout while it runs, and stops when it ends', async () => {
    const { sqs, handler } = setup({ Long: takes(100_000) });
    const record = sqsRecord({ body: { jobtype: 'Long' } });

    const done = handler(sqsEvent([record]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(100_000);
    await done;
    await vi.advanceTimersByTimeAsync(300_000);

    expect(changes(sqs)).toEqual([[30, 60], [60, 60], [90, 60]]);
    expect(sqs.visibilityChanges[0]).toMatchObject({ queueUrl: QUEUE_URLS.default, receiptHandle: record.receiptHandle });
  });

  it('extends to reserve_for at the start when it exceeds the queue\'s timeout, then renews by it', async () => {
    const ran: number[] = [];
    const { sqs, handler } = setup({
      Long: async () => {
        ran.push(Date.now() - START);
        await new Promise((resolve) => setTimeout(resolve, 650_000));
      },
    });

    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Long', reserve_for: 600 } })]), lambdaContext(() => 60 * 60_000));
    await vi.advanceTimersByTimeAsync(0);
    const atStart = changes(sqs);
    await vi.advanceTimersByTimeAsync(700_000);
    await done;

    expect(atStart).toEqual([[0, 600]]);
    expect(ran).toEqual([0]);
    expect(changes(sqs)).toEqual([[0, 600], [300, 600], [600, 600]]);
  });

  it('leaves the queue\'s timeout alone when reserve_for is shorter', async () => {
    const { sqs, handler } = setup({ Short: takes(10_000) });

    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Short', reserve_for: 20 } })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(10_000);
    await done;

    expect(sqs.visibilityChanges).toEqual([]);
  });

  it('lets a handler extend its reservation, after which the heartbeat renews by the new length', async () => {
    const { sqs, handler } = setup({
      Export: async (_args, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        await ctx.extend(3600);
        await new Promise((resolve) => setTimeout(resolve, 2_000_000));
      },
    });

    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Export' } })]), lambdaContext(() => 60 * 60_000));
    await vi.advanceTimersByTimeAsync(2_010_000);
    await done;

    expect(changes(sqs)).toEqual([[10, 3600], [1810, 3600]]);
  });

  it('rejects an extension SQS cannot take, naming the bounds', async () => {
    const errors: unknown[] = [];
    const { handler } = setup({
      Bad: async (_args, ctx) => {
        for (const seconds of [0, 43_201, 1.5]) await ctx.extend(seconds).catch((error: unknown) => errors.push(error));
      },
    });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Bad' } })]), lambdaContext(() => FIFTEEN_MINUTES));

    expect(errors.map((error) => (error instanceof Error ? `${error.name}: ${error.message}` : error))).toEqual([
      'ReservationError: extend(seconds) needs an integer from 1 to 43200, but 0 was provided',
      'ReservationError: extend(seconds) needs an integer from 1 to 43200, but 43201 was provided',
      'ReservationError: extend(seconds) needs an integer from 1 to 43200, but 1.5 was provided',
    ]);
  });

  it('counts from when the batch was received: a record started late renews sooner', async () => {
    const sqs = new FakeSqs();
    // One record at a time: the second starts 20 s after the batch was received, and runs 35 s.
    const serial = createWorker({ jobs: { First: takes(20_000), Long: takes(35_000) }, concurrency: 1, env: { ...TEST_ENV, HOPPER_QUEUE_VISIBILITY: '{"default":60}' }, clients: { sqs }, log: () => undefined });

    const done = serial(sqsEvent([sqsRecord({ body: { jobtype: 'First' } }), sqsRecord({ body: { jobtype: 'Long' } })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(60_000);
    await done;

    // Half of the message's 60 s is used at 30 s, 10 s into the second job: not 30 s into it.
    expect(changes(sqs)).toEqual([[30, 60]]);
  });

  it('renews a batch\'s jobs on their own schedules with one timer for the invocation', async () => {
    const { sqs, handler } = setup({ Long: takes(100_000), Short: takes(40_000) });
    const records = [
      sqsRecord({ body: { jobtype: 'Long' } }),
      sqsRecord({ body: { jobtype: 'Long', reserve_for: 120 } }),
      sqsRecord({ body: { jobtype: 'Short' } }),
    ];

    const done = handler(sqsEvent(records), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(0);
    // The three handlers' own timers, the invocation's hard stop, and one timer for every renewal.
    const timers = vi.getTimerCount();
    await vi.advanceTimersByTimeAsync(100_000);
    await done;
    await vi.advanceTimersByTimeAsync(300_000);

    expect(timers).toBe(records.length + 2);
    const byReceipt = (record: (typeof records)[number]) => sqs.visibilityChanges.filter((change) => change.receiptHandle === record.receiptHandle).map((change) => [(change.atMs - START) / 1000, change.seconds]);
    expect(byReceipt(records[0]!)).toEqual([[30, 60], [60, 60], [90, 60]]);
    expect(byReceipt(records[1]!)).toEqual([[0, 120], [60, 120]]);
    // Ended at 40 s, after its first renewal and before its second.
    expect(byReceipt(records[2]!)).toEqual([[30, 60]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps running a job whose renewal fails, logging it and trying again', async () => {
    const { sqs, log, handler } = setup({ Long: takes(45_000) });
    sqs.failVisibility = Object.assign(new Error('receipt handle has expired'), { name: 'InvalidParameterValue' });

    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Long' } })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(45_000);

    expect((await done).batchItemFailures).toEqual([]);
    expect(log.lines.filter((line) => line.message === 'could not extend the reservation')).toHaveLength(2);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'could not extend the reservation', reason: 'heartbeat', seconds: 60 }));
  });

  it('stops renewing a job the invocation gives up on at its deadline', async () => {
    const { sqs, handler } = setup({ Long: takes(10 * 60_000) }, { default: 30 });

    // 100 s left: the job is abandoned at the hard stop (98.5 s) and handed back.
    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Long' } })]), lambdaContext(() => 100_000 - (Date.now() - START)));
    await vi.advanceTimersByTimeAsync(100_000);
    const result = await done;
    const renewals = sqs.visibilityChanges.length;
    await vi.advanceTimersByTimeAsync(200_000);

    expect(result.batchItemFailures).toHaveLength(1);
    expect(renewals).toBe(6);
    expect(sqs.visibilityChanges).toHaveLength(renewals);
  });
});

describe('12 hours from the first receive', () => {
  const HOUR = 3_600_000;
  /** A record of a message SQS first received `ago` ms before START. */
  const receivedAgo = (ago: number, body: object) => sqsRecord({ body, attributes: { ApproximateFirstReceiveTimestamp: String(START - ago) } });

  it('allows what is left of 12 hours since the first receive, less a minute', () => {
    expect(allowedSeconds(START, START)).toBe(43_140);
    expect(allowedSeconds(START - 11 * HOUR, START)).toBe(3_540);
    expect(allowedSeconds(START - 12 * HOUR, START)).toBe(-60);
    expect(allowedSeconds(START + 5_000, START)).toBe(43_145);
    expect(allowedSeconds(START + 10 * HOUR, START)).toBe(43_200);
  });

  it('cuts reserve_for to end before 12 hours from the first receive, and renews no more', async () => {
    const { sqs, log, handler } = setup({ Long: takes(700_000) });

    // First received 11 h 50 min ago (a message redelivered many times): 540 s are left.
    const done = handler(sqsEvent([receivedAgo(11 * HOUR + 50 * 60_000, { jobtype: 'Long', reserve_for: 3600 })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(700_000);
    await done;

    expect(changes(sqs)).toEqual([[0, 540]]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'reservation capped at 12 hours from the first receive; the message becomes visible again when it ends', requested_s: 3600, seconds: 540, visible_at: '2026-11-22T12:09:00.000Z' }));
  });

  it('cuts ctx.extend the same way, and sends nothing once no time is left', async () => {
    const extended = setup({ Export: async (_args, ctx) => { await ctx.extend(43_200); } });
    await extended.handler(sqsEvent([receivedAgo(HOUR, { jobtype: 'Export' })]), lambdaContext(() => FIFTEEN_MINUTES));

    const late = setup({ Export: async (_args, ctx) => { await ctx.extend(600); } });
    await late.handler(sqsEvent([receivedAgo(12 * HOUR, { jobtype: 'Export' })]), lambdaContext(() => FIFTEEN_MINUTES));

    expect(changes(extended.sqs)).toEqual([[0, 39_540]]);
    expect(late.sqs.visibilityChanges).toEqual([]);
    expect(late.log.lines).toContainEqual(expect.objectContaining({ message: 'reservation capped at 12 hours from the first receive; the message becomes visible again when it ends', requested_s: 600, seconds: 0 }));
  });

  it('renews a heartbeat up to the cap and then stops', async () => {
    const { sqs, handler } = setup({ Long: takes(200_000) });

    // 100 s left of the 12 hours (less the margin): renewals of 60 s at 30 s, then 40 s at 60 s.
    const done = handler(sqsEvent([receivedAgo(12 * HOUR - 160_000, { jobtype: 'Long' })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(200_000);
    await done;

    expect(changes(sqs)).toEqual([[30, 60], [60, 40]]);
  });
});

describe('expired jobs', () => {
  it('drops the expired job of a batch without running it, logs it, and runs the one still fresh', async () => {
    const ran: string[] = [];
    const { log, handler } = setup({ Quote: async ([pair]) => { ran.push(String(pair)); } });
    const expired = { jid: 'q-old', jobtype: 'Quote', args: ['EURUSD'], custom: { expires_at: new Date(START).toISOString() } };
    const fresh = { jid: 'q-new', jobtype: 'Quote', args: ['GBPUSD'], custom: { expires_at: new Date(START + 1).toISOString() } };

    const result = await handler(sqsEvent([sqsRecord({ body: expired }), sqsRecord({ body: fresh })]), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect(ran).toEqual(['GBPUSD']);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'job expired; dropped without running', jid: 'q-old', expires_at: '2026-11-22T12:00:00.000Z' }));
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'batch done', received: 2, expired: 1, succeeded: 1 }));
  });

  it('judges expiry by HOPPER_CLOCK_OFFSET_MS when it is set', async () => {
    const ran: string[] = [];
    const sqs = new FakeSqs();
    const handler = createWorker({ jobs: { Quote: async () => { ran.push('ran'); } }, env: { ...TEST_ENV, HOPPER_CLOCK_OFFSET_MS: String(10 * 60_000) }, clients: { sqs }, log: () => undefined });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Quote', custom: { expires_at: new Date(START + 5 * 60_000).toISOString() } } })]), lambdaContext());

    expect(ran).toEqual([]);
  });
});
