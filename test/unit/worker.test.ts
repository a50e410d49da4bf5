import { describe, expect, it } from 'vitest';
import { ConfigurationError, RateLimitedError, UnrecoverableJobError } from '../../lib/errors/base.js';
import { MemoryLimiterStore } from '../../lib/limiters/index.js';
import type { StatsSample } from '../../lib/stats/rollup.js';
import { NO_STATS } from '../../lib/stats/recorder.js';
import { describeError, parseJob } from '../../lib/job/model.js';
import { planFailure } from '../../lib/retry/plan.js';
import { createWorker, type JobContext, type JobHandler, type WorkerOptions } from '../../lib/worker/index.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function setup(jobs: Readonly<Record<string, JobHandler>>, options: Partial<WorkerOptions> = {}) {
  const sqs = new FakeSqs();
  const log = memoryLog();
  const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs }, now: () => NOW, log: log.sink, ...options });
  return { sqs, log, handler };
}

const ok: JobHandler = async () => undefined;
const boomError = (): TypeError => Object.assign(new TypeError('cannot read properties of undefined'), { stack: 'TypeError: cannot read properties of undefined\n    at handler (jobs.ts:3:7)' });
const boom: JobHandler = async () => {
  throw boomError();
};

describe('createWorker', () => {
  it('acknowledges every record when every job succeeds, sending nothing', async () => {
    const ran: unknown[] = [];
    const { sqs, handler } = setup({ Greet: async (args) => { ran.push(args); } });

    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Greet', args: ['a'] } }), sqsRecord({ body: { jobtype: 'Greet', args: ['b'] } })]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual([['a'], ['b']]);
    expect(sqs.batches).toEqual([]);
  });

  it('sends a failure envelope for the one failing record of three and acknowledges all three', async () => {
    const { sqs, handler } = setup({ Ok: ok, Boom: boom });
    // Out of retries (retry 0): the worker cannot retry it itself, the retry function decides.
    const failing = sqsRecord({ body: { jobtype: 'Boom', args: [1], jid: 'jid-boom', created_at: '2026-11-22T11:00:00.000Z', retry: 0 } });

    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Ok' } }), failing, sqsRecord({ body: { jobtype: 'Ok' } })]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs.sentTo(RETRIES_URL)).toEqual([{
      delaySeconds: undefined,
      body: {
        hopper: 'failure',
        queue: 'default',
        job: { jid: 'jid-boom', jobtype: 'Boom', args: [1], queue: 'default', created_at: '2026-11-22T11:00:00.000Z', retry: 0 },
        message_id: failing.messageId,
        error: { errtype: 'TypeError', message: 'cannot read properties of undefined', backtrace: ['at handler (jobs.ts:3:7)'] },
        failed_at: '2026-11-22T12:00:00.000Z',
      },
    }]);
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([]);
  });

  it('hands back only the failing record when its envelope cannot be sent', async () => {
    const { sqs, handler } = setup({ Ok: ok, Boom: boom });
    sqs.failQueues.set(RETRIES_URL, Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' }));
    // Out of retries (retry 0): its failure goes to the retries queue as an envelope.
    const records = [sqsRecord({ body: { jobtype: 'Ok' } }), sqsRecord({ body: { jobtype: 'Boom', retry: 0 } }), sqsRecord({ body: { jobtype: 'Ok' } })];

    const result = await handler(sqsEvent(records), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.messageId }] });
    expect(sqs.batches).toEqual([]);
  });

  it('sends a failing job with retries left back to its own queue, with the delay and failure the retry function would give it', async () => {
    const { sqs, log, handler } = setup({ Boom: boom });
    const body = {
      jobtype: 'Boom', args: [1], jid: 'jid-boom', queue: 'critical', enqueued_at: '2026-11-22T11:58:00.000Z',
      failure: { retry_count: 2, failed_at: '2026-11-22T11:57:00.000Z', next_at: '2026-11-22T11:58:00.000Z', message: 'earlier', errtype: 'Error', first_enqueued_at: '2026-11-22T11:00:00.000Z' },
    };
    const record = sqsRecord({ body, queueUrl: QUEUE_URLS.critical });

    const result = await handler(sqsEvent([record]), lambdaContext());

    const job = parseJob(JSON.stringify(body), { now: NOW, defaultJid: record.messageId, defaultRetry: 25 });
    const planned = planFailure(job, describeError(boomError()), NOW.getTime(), false, { now: NOW, queueUrls: QUEUE_URLS, deadTtlDays: 180 });
    if (planned.kind !== 'enqueue') throw new Error(`expected the retry function to enqueue, not ${planned.kind}`);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs.sentTo(RETRIES_URL)).toEqual([]);
    expect(sqs.sentTo(QUEUE_URLS.critical)).toEqual([{ delaySeconds: planned.delaySeconds, body: JSON.parse(JSON.stringify(planned.job)) }]);
    // Third retry: 3⁴ + 15 s + floor(random · 40) with random seeded by 'jid-boom#3' (0.9703…).
    expect(planned.delaySeconds).toBe(134);
    expect(planned.job).toEqual({
      ...job,
      enqueued_at: '2026-11-22T12:00:00.000Z',
      failure: {
        retry_count: 3,
        failed_at: '2026-11-22T12:00:00.000Z',
        next_at: '2026-11-22T12:02:14.000Z',
        message: 'cannot read properties of undefined',
        errtype: 'TypeError',
        backtrace: ['at handler (jobs.ts:3:7)'],
        first_enqueued_at: '2026-11-22T11:00:00.000Z',
      },
    });
    expect(log.lines).toContainEqual(expect.objectContaining({
      level: 'INFO', message: 'retry enqueued', jid: 'jid-boom', retry_count: 3, errtype: 'TypeError', error: 'cannot read properties of undefined', delay_s: 134,
    }));
  });

  it('hands back a failing job whose send to its own queue fails, without an envelope instead', async () => {
    const { sqs, handler } = setup({ Ok: ok, Boom: boom });
    sqs.failQueues.set(QUEUE_URLS.default, Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' }));
    const records = [sqsRecord({ body: { jobtype: 'Ok' } }), sqsRecord({ body: { jobtype: 'Boom' } }), sqsRecord({ body: { jobtype: 'Ok' } })];

    const result = await handler(sqsEvent(records), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.messageId }] });
    expect(sqs.batches).toEqual([]);
  });

  it('still sends a failure envelope for a job of a batch, whose failure the retry function records in the batch', async () => {
    const { sqs, handler } = setup({ Boom: boom });
    const record = sqsRecord({ body: { jobtype: 'Boom', jid: 'in-batch', created_at: '2026-11-22T11:00:00.000Z', custom: { bid: 'b1' } } });

    const result = await handler(sqsEvent([record]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([]);
    expect(sqs.sentTo(RETRIES_URL)).toEqual([{
      delaySeconds: undefined,
      body: {
        hopper: 'failure',
        queue: 'default',
        job: { jid: 'in-batch', jobtype: 'Boom', args: [], queue: 'default', created_at: '2026-11-22T11:00:00.000Z', retry: 25, custom: { bid: 'b1' } },
        message_id: record.messageId,
        error: { errtype: 'TypeError', message: 'cannot read properties of undefined', backtrace: ['at handler (jobs.ts:3:7)'] },
        failed_at: '2026-11-22T12:00:00.000Z',
      },
    }]);
  });

  it('tries an entry SQS failed on its side once more before handing it back', async () => {
    const { sqs, handler } = setup({ Boom: boom });
    sqs.failEntry = (_entry, attempt) => (attempt === 1 ? { Code: 'InternalError', SenderFault: false } : undefined);

    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Boom' } })]), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.batches).toHaveLength(2);
  });

  it('hands back a record whose envelope SQS keeps rejecting', async () => {
    const { sqs, log, handler } = setup({ Boom: boom });
    sqs.failEntry = () => ({ Code: 'InternalError', SenderFault: false, Message: 'try later' });
    const record = sqsRecord({ body: { jobtype: 'Boom', retry: 0 } });

    const result = await handler(sqsEvent([record]), lambdaContext());

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', message_id: record.messageId, reason: 'InternalError: try later' }));
  });

  it('sends up to ten envelopes per request', async () => {
    const { sqs, handler } = setup({ Boom: boom });

    await handler(sqsEvent(Array.from({ length: 23 }, () => sqsRecord({ body: { jobtype: 'Boom', retry: 0 } }))), lambdaContext());

    expect(sqs.batches.map((batch) => [batch.queueUrl, batch.entries.length])).toEqual([[RETRIES_URL, 10], [RETRIES_URL, 10], [RETRIES_URL, 3]]);
  });

  describe.each([
    { name: 'a body that is not JSON', body: '{"jobtype":', field: 'body' },
    { name: 'a missing jobtype', body: '{"args":[]}', field: 'jobtype' },
    { name: 'args that are not an array', body: '{"jobtype":"Ok","args":"a@example.com"}', field: 'args' },
  ])('with $name', ({ body, field }) => {
    it('sends an unrecoverable envelope with the raw body and the reason', async () => {
      const { sqs, handler } = setup({ Ok: ok });

      const result = await handler(sqsEvent([sqsRecord({ body, queueUrl: QUEUE_URLS.critical })]), lambdaContext());

      expect(result.batchItemFailures).toEqual([]);
      const [sent] = sqs.sentTo(RETRIES_URL);
      expect(sent?.body).toMatchObject({ hopper: 'failure', queue: 'critical', raw: body, unrecoverable: true, error: { errtype: 'InvalidJobError' } });
      expect(sent?.body).toHaveProperty('error.message', expect.stringContaining(`invalid job: ${field} must be`));
    });
  });

  it('sends an unknown jobtype straight to the dead set, naming the jobtypes it handles', async () => {
    const { sqs, handler } = setup({ Ok: ok, Greet: ok });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'constructor' } })]), lambdaContext());

    expect(sqs.sentTo(RETRIES_URL)[0]?.body).toMatchObject({
      unrecoverable: true,
      job: { jobtype: 'constructor' },
      error: { errtype: 'UnknownJobTypeError', message: 'no handler for jobtype "constructor" in this worker (it handles: Ok, Greet)' },
    });
  });

  it('marks an UnrecoverableJobError unrecoverable, and an ordinary error not', async () => {
    const { sqs, handler } = setup({
      Gone: async () => { throw new UnrecoverableJobError('user 7 no longer exists'); },
      Boom: boom,
    });

    // After five retries, the next is due in more than 15 minutes (6⁴ + 15 s at least): the retry
    // function puts it in the retry set, so its failure goes to the retries queue as an envelope.
    const previous = { retry_count: 5, failed_at: '2026-11-22T11:00:00.000Z', message: 'earlier', errtype: 'Error' };
    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Gone', jid: 'gone' } }), sqsRecord({ body: { jobtype: 'Boom', jid: 'boom', failure: previous } })]), lambdaContext());

    const bodies = sqs.sentTo(RETRIES_URL).map((sent) => sent.body);
    expect(bodies).toHaveLength(2);
    expect(bodies).toContainEqual(expect.objectContaining({ job: expect.objectContaining({ jid: 'gone' }), unrecoverable: true }));
    const ordinary = bodies.find((body) => JSON.stringify(body).includes('"jid":"boom"'));
    expect(ordinary).toMatchObject({ hopper: 'failure', job: { jid: 'boom', failure: previous }, error: { errtype: 'TypeError' } });
    expect(ordinary).not.toHaveProperty('unrecoverable');
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([]);
  });

  it('gives a job without jid and queue the message id and the queue it came from', async () => {
    const seen: JobContext[] = [];
    const { handler } = setup({ Ok: async (_args, ctx) => { seen.push(ctx); } });
    const record = sqsRecord({ body: { jobtype: 'Ok' }, queueUrl: QUEUE_URLS.critical });

    await handler(sqsEvent([record]), lambdaContext());

    expect(seen[0]?.jid).toBe(record.messageId);
    expect(seen[0]?.job.queue).toBe('critical');
  });

  it('gives a job without retry the JobSystem default from HOPPER_DEFAULT_RETRY, and decides its retries by it', async () => {
    const { sqs, handler } = setup({ Boom: boom }, { env: { ...TEST_ENV, HOPPER_DEFAULT_RETRY: '3' } });
    const thirdRetry = { retry_count: 2, failed_at: '2026-11-22T11:58:00.000Z', message: 'earlier', errtype: 'Error' };

    await handler(sqsEvent([
      sqsRecord({ body: { jobtype: 'Boom', jid: 'default-first' } }),
      sqsRecord({ body: { jobtype: 'Boom', jid: 'nine-first', retry: 9 } }),
      sqsRecord({ body: { jobtype: 'Boom', jid: 'default-spent', failure: thirdRetry } }),
      sqsRecord({ body: { jobtype: 'Boom', jid: 'nine-fourth', retry: 9, failure: thirdRetry } }),
    ]), lambdaContext());

    // Retries left: back on the queue by the worker, each with its own retry.
    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => sent.body)).toEqual([
      expect.objectContaining({ jid: 'default-first', retry: 3, failure: expect.objectContaining({ retry_count: 0 }) }),
      expect.objectContaining({ jid: 'nine-first', retry: 9, failure: expect.objectContaining({ retry_count: 0 }) }),
      expect.objectContaining({ jid: 'nine-fourth', retry: 9, failure: expect.objectContaining({ retry_count: 3 }) }),
    ]);
    // The fourth failure of a job with the default 3 retries is its last: an envelope, for the dead set.
    expect(sqs.sentTo(RETRIES_URL).map((sent) => sent.body)).toEqual([
      expect.objectContaining({ hopper: 'failure', job: expect.objectContaining({ jid: 'default-spent', retry: 3, failure: thirdRetry }) }),
    ]);
  });

  it('gives handlers a context with the job, a structured logger and the remaining time', async () => {
    let remaining = 0;
    const { log, handler } = setup({
      Charge: async ([user], ctx) => {
        ctx.logger.info('charging', { user });
        remaining = ctx.remainingTimeMs();
      },
    });
    const body = { jobtype: 'Charge', args: [7], jid: 'jid-7', failure: { retry_count: 2, failed_at: '2026-11-22T11:00:00.000Z', message: 'x', errtype: 'Error' } };

    await handler(sqsEvent([sqsRecord({ body })]), lambdaContext(() => 42_000));

    expect(remaining).toBe(42_000);
    expect(log.lines).toContainEqual({
      level: 'INFO',
      message: 'charging',
      time: '2026-11-22T12:00:00.000Z',
      request_id: 'request-1',
      jid: 'jid-7',
      jobtype: 'Charge',
      queue: 'default',
      attempt: 4,
      user: 7,
    });
  });

  it('drops an expired job without running it and counts it', async () => {
    let ran = false;
    const { sqs, log, handler } = setup({ Ok: async () => { ran = true; } });
    const body = { jobtype: 'Ok', custom: { expires_at: '2026-11-22T11:59:59.000Z' } };

    const result = await handler(sqsEvent([sqsRecord({ body })]), lambdaContext());

    expect(ran).toBe(false);
    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.batches).toEqual([]);
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'batch done', received: 1, expired: 1, succeeded: 0 }));
  });

  it('puts a rate-limited job back on its queue after the wait plus jitter, keeping its retries and counting the reschedule', async () => {
    const { sqs, handler } = setup({ Call: async () => { throw new RateLimitedError('stripe', 42.5); } });

    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Call', jid: 'j-1', queue: 'critical' } })]), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.sentTo(RETRIES_URL)).toEqual([]);
    // 43 s (42.5 rounded up) + floor(random · 5) with random seeded by 'j-1#limited#1' (0.6690…).
    expect(sqs.sentTo(QUEUE_URLS.critical)).toEqual([{ delaySeconds: 46, body: expect.objectContaining({ jid: 'j-1', queue: 'critical', custom: { limited_count: 1 } }) }]);
    expect(sqs.sentTo(QUEUE_URLS.critical)[0]?.body).not.toHaveProperty('failure');
  });

  it('spreads the jitter with the reschedule count', async () => {
    const { sqs, handler } = setup({ Call: async () => { throw new RateLimitedError('stripe', 10); } });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Call', jid: 'j-2', custom: { limited_count: 2 } } })]), lambdaContext());

    // Third reschedule: 10 s + floor(random · 15) with random seeded by 'j-2#limited#3' (0.2386…).
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: 13, body: expect.objectContaining({ custom: { limited_count: 3 } }) }]);
  });

  it('handles a job rate limited for the 21st time as an ordinary failure', async () => {
    const { sqs, handler } = setup({ Call: async () => { throw new RateLimitedError('stripe', 10); } });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Call', jid: 'j-3', custom: { limited_count: 20 } } })]), lambdaContext());

    // Not rescheduled (its limited count stays 20): charged a retry like any failure, its first
    // due in 15 s + floor(random · 10) with random seeded by 'j-3#0' (0.2212…).
    expect(sqs.sentTo(RETRIES_URL)).toEqual([]);
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{
      delaySeconds: 17,
      body: expect.objectContaining({
        jid: 'j-3',
        custom: { limited_count: 20 },
        failure: expect.objectContaining({ retry_count: 0, errtype: 'RateLimitedError', next_at: '2026-11-22T12:00:17.000Z' }),
      }),
    }]);
  });

  it('gives handlers a limiter that throttles through the store the worker was given', async () => {
    const store = new MemoryLimiterStore();
    const seen: boolean[] = [];
    const { sqs, handler } = setup({
      Call: async (_args, ctx) => {
        await ctx.limiter('erp', { type: 'concurrent', limit: 1, lockTimeout: 60, wait: 0 }).run(async () => {
          seen.push(true);
          await new Promise((resolve) => setTimeout(resolve, 20));
        });
      },
    }, { limiterStore: store, concurrency: 2 });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Call', jid: 'a' } }), sqsRecord({ body: { jobtype: 'Call', jid: 'b' } })]), lambdaContext());

    // The second job found the only lease taken (wait 0) and went back to its queue.
    expect(seen).toEqual([true]);
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([expect.objectContaining({ body: expect.objectContaining({ jid: 'b', custom: { limited_count: 1 } }) })]);
  });

  it('counts the successes and the failures it retried itself of each invocation per queue with the latest wait, and asks for one flush', async () => {
    const samples: StatsSample[] = [];
    let flushes = 0;
    const stats = { ...NO_STATS, record: (sample: StatsSample) => { samples.push(sample); }, flush: async () => { flushes += 1; } };
    const { handler } = setup({ Ok: ok, Boom: boom }, { stats, concurrency: 1 });

    await handler(sqsEvent([
      sqsRecord({ body: { jobtype: 'Ok', enqueued_at: '2026-11-22T11:59:58.000Z' } }),
      sqsRecord({ body: { jobtype: 'Ok', enqueued_at: '2026-11-22T11:59:59.500Z' } }),
      // Out of retries: its failure goes to the retry function, which counts it.
      sqsRecord({ body: { jobtype: 'Boom', retry: 0, enqueued_at: '2026-11-22T11:59:59.000Z' } }),
      sqsRecord({ body: { jobtype: 'Boom', enqueued_at: '2026-11-22T11:59:57.000Z' } }),
    ]), lambdaContext());

    // The failure was retried by the worker (due within 15 minutes), so it counts it: processed
    // includes it. The wait is that of the last job started.
    expect(samples).toEqual([{ writer: { kind: 'worker', queue: 'default' }, processed: 3, failed: 1, atMs: NOW.getTime(), lag: { ms: 3000, atMs: NOW.getTime() } }]);
    expect(flushes).toBe(1);
  });

  it('runs at most `concurrency` jobs at once', async () => {
    let running = 0;
    let peak = 0;
    const { handler } = setup({
      Slow: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      },
    }, { concurrency: 3 });

    const result = await handler(sqsEvent(Array.from({ length: 12 }, () => sqsRecord({ body: { jobtype: 'Slow' } }))), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect(peak).toBe(3);
  });

  it('runs ten at once by default', async () => {
    let running = 0;
    let peak = 0;
    const { handler } = setup({
      Slow: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      },
    });

    await handler(sqsEvent(Array.from({ length: 25 }, () => sqsRecord({ body: { jobtype: 'Slow' } }))), lambdaContext());

    expect(peak).toBe(10);
  });

  it.each([
    { option: { concurrency: 0 }, message: 'concurrency must be an integer of at least 1, but 0 was provided' },
    { option: { deadlineMarginMs: -1 }, message: 'deadlineMarginMs must be a non-negative number, but -1 was provided' },
  ])('rejects $option', ({ option, message }) => {
    expect(() => createWorker({ jobs: {}, ...option })).toThrow(message);
  });

  it('reports missing configuration when invoked, not when imported', async () => {
    const handler = createWorker({ jobs: { Ok: ok }, env: {}, clients: { sqs: new FakeSqs() } });

    await expect(handler(sqsEvent([sqsRecord({ body: { jobtype: 'Ok' } })]), lambdaContext())).rejects.toThrow(ConfigurationError);
  });
});
