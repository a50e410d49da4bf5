import { describe, expect, it } from 'vitest';
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

  it('starts nothing when the invocation begins inside the margin', async () => {
    let started = 0;
    const { handler } = setup({ Work: async () => { started += 1; } });
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
