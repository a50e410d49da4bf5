import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadlineMarginMs } from '../../lib/common/deadline.js';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { FakeSqs, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

function setup(jobs: Readonly<Record<string, JobHandler>>, options: { concurrency?: number; deadlineMarginMs?: number } = {}) {
  const sqs = new FakeSqs();
  const log = memoryLog();
  const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs }, log: log.sink, ...options });
  return { sqs, log, handler };
}

describe('the worker near the Lambda deadline', () => {
  it('hands back the records it did not start once less than the margin is left', async () => {
    let started = 0;
    const { handler, log } = setup({ Work: async () => { started += 1; } }, { concurrency: 1, deadlineMarginMs: 2000 });
    const records = Array.from({ length: 5 }, () => sqsRecord({ body: { jobtype: 'Work' } }));
    // Plenty of time for the first two jobs, then only 1.5 s.
    const context = lambdaContext(() => (started < 2 ? 10_000 : 1_500));

    const result = await handler(sqsEvent(records), context);

    expect(started).toBe(2);
    expect(result.batchItemFailures).toEqual(records.slice(2).map((record) => ({ itemIdentifier: record.messageId })));
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'batch done', received: 5, succeeded: 2, handed_back: 3, hard_stop: false }));
  });

  it('starts nothing when the invocation begins inside a fixed margin', async () => {
    let started = 0;
    const { handler } = setup({ Work: async () => { started += 1; } }, { deadlineMarginMs: 3000 });
    const records = [sqsRecord({ body: { jobtype: 'Work' } }), sqsRecord({ body: { jobtype: 'Work' } })];

    const result = await handler(sqsEvent(records), lambdaContext(() => 2_999));

    expect(started).toBe(0);
    expect(result.batchItemFailures).toHaveLength(2);
  });

  it.each([
    { name: 'no number', remaining: Number.NaN },
    { name: 'more than a timer can hold', remaining: 3_000_000_000 },
  ])('runs everything when the remaining time is $name', async ({ remaining }) => {
    let finished = 0;
    const { handler } = setup({ Work: async () => { await new Promise((resolve) => setTimeout(resolve, 20)); finished += 1; } });

    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Work' } }), sqsRecord({ body: { jobtype: 'Work' } })]), lambdaContext(() => remaining));

    expect(result.batchItemFailures).toEqual([]);
    expect(finished).toBe(2);
  });

  it('gives up on jobs still running at half the margin: aborts their signal, hands them back, sends nothing for them', async () => {
    const deadline = Date.now() + 300;
    const signals: AbortSignal[] = [];
    const hang: JobHandler = (_args, ctx) => new Promise((_resolve, reject) => {
      signals.push(ctx.signal);
      ctx.signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
    const { handler, sqs } = setup({ Hang: hang, Quick: async () => undefined }, { concurrency: 2, deadlineMarginMs: 200 });
    const quick = sqsRecord({ body: { jobtype: 'Quick' } });
    const hanging = [sqsRecord({ body: { jobtype: 'Hang' } }), sqsRecord({ body: { jobtype: 'Hang' } })];

    const started = Date.now();
    const result = await handler(sqsEvent([quick, ...hanging]), lambdaContext(() => deadline - Date.now()));
    const elapsed = Date.now() - started;

    expect(result.batchItemFailures).toEqual(hanging.map((record) => ({ itemIdentifier: record.messageId })));
    expect(signals.map((signal) => signal.aborted)).toEqual([true, true]);
    // The hard stop is at 100 ms before the deadline: about 200 ms after the start.
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(300);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sqs.batches).toEqual([]);
  });
});

describe('the default deadline margin: a fifth of the time the invocation starts with, at most 3 s', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // Lambda's default timeout, a common one, and the longest.
  const TIMEOUTS = [
    { timeout: '3 s', timeoutMs: 3_000, marginMs: 600, hardStopAtMs: 2_700 },
    { timeout: '30 s', timeoutMs: 30_000, marginMs: 3_000, hardStopAtMs: 28_500 },
    { timeout: '900 s', timeoutMs: 900_000, marginMs: 3_000, hardStopAtMs: 898_500 },
  ] as const;

  it.each(TIMEOUTS)('is $marginMs ms for a $timeout timeout', ({ timeoutMs, marginMs }) => {
    expect(deadlineMarginMs(timeoutMs)).toBe(marginMs);
  });

  it.each([
    { remainingMs: 0, marginMs: 0 },
    { remainingMs: 2_999, marginMs: 599 },
    { remainingMs: 14_999, marginMs: 2_999 },
    { remainingMs: 15_000, marginMs: 3_000 },
    { remainingMs: Number.POSITIVE_INFINITY, marginMs: 3_000 },
  ])('is $marginMs ms with $remainingMs ms left at the start', ({ remainingMs, marginMs }) => {
    expect(deadlineMarginMs(remainingMs)).toBe(marginMs);
  });

  it.each(TIMEOUTS)('with a $timeout timeout, starts jobs while $marginMs ms are left and none once less is', async ({ timeoutMs, marginMs }) => {
    let started = 0;
    const { handler, log } = setup({ Work: async () => { started += 1; } }, { concurrency: 1 });
    const records = Array.from({ length: 5 }, () => sqsRecord({ body: { jobtype: 'Work' } }));
    // The whole timeout at the start and for two jobs; exactly the margin for the third; then 1 ms less.
    const context = lambdaContext(() => (started < 2 ? timeoutMs : started < 3 ? marginMs : marginMs - 1));

    const result = await handler(sqsEvent(records), context);

    expect(started).toBe(3);
    expect(result.batchItemFailures).toEqual(records.slice(3).map((record) => ({ itemIdentifier: record.messageId })));
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'batch done', received: 5, succeeded: 3, handed_back: 2, hard_stop: false }));
  });

  it.each(TIMEOUTS)('with a $timeout timeout, gives up on a running job $hardStopAtMs ms into the invocation', async ({ timeoutMs, hardStopAtMs }) => {
    vi.useFakeTimers({ now: new Date('2026-11-22T12:00:00Z') });
    const startMs = Date.now();
    const deadlineMs = startMs + timeoutMs;
    let abortedAtMs: number | undefined;
    const hang: JobHandler = (_args, ctx) => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        abortedAtMs = Date.now() - startMs;
        reject(new Error('aborted'));
      });
    });
    const { handler } = setup({ Hang: hang });
    const record = sqsRecord({ body: { jobtype: 'Hang' } });

    const pending = handler(sqsEvent([record]), lambdaContext(() => deadlineMs - Date.now()));
    await vi.advanceTimersByTimeAsync(timeoutMs);
    const result = await pending;

    expect(abortedAtMs).toBe(hardStopAtMs);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
  });

  it('runs every one of 35 quick jobs with Lambda\'s default 3 s timeout (a fixed 3 s margin ran none)', async () => {
    const deadlineMs = Date.now() + 3_000;
    let finished = 0;
    const { handler } = setup({ Work: async () => { await new Promise((resolve) => setTimeout(resolve, 10)); finished += 1; } });
    const records = Array.from({ length: 35 }, () => sqsRecord({ body: { jobtype: 'Work' } }));

    const result = await handler(sqsEvent(records), lambdaContext(() => deadlineMs - Date.now()));

    expect(result.batchItemFailures).toEqual([]);
    expect(finished).toBe(35);
  });
});
