/**
 * A queue's `maxConcurrency` inside the worker: the per-invocation share the construct passes in
 * HOPPER_QUEUE_CONCURRENCY bounds the jobs running at once, and a queue capped at one job holds a
 * lease of its own limiter per job across invocations.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, RateLimitedError } from '../../lib/errors/base.js';
import { parseQueueConcurrency, queueLeaseName } from '../../lib/config/queue-concurrency.js';
import { limiter, MemoryLimiterStore } from '../../lib/limiters/index.js';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { FakeSqs, QUEUE_URLS, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handler that counts how many of its runs overlap. */
function overlapCounter(runMs: number) {
  const state = { running: 0, peak: 0, ran: 0 };
  const handler: JobHandler = async () => {
    state.running += 1;
    state.peak = Math.max(state.peak, state.running);
    await sleep(runMs);
    state.running -= 1;
    state.ran += 1;
  };
  return { state, handler };
}

function worker(caps: Record<string, unknown>, jobs: Record<string, JobHandler>, store = new MemoryLimiterStore(), deadlineMarginMs?: number) {
  const sqs = new FakeSqs();
  const log = memoryLog();
  const handler = createWorker({ jobs, env: { ...TEST_ENV, HOPPER_QUEUE_CONCURRENCY: JSON.stringify(caps) }, clients: { sqs }, limiterStore: store, log: log.sink, ...(deadlineMarginMs === undefined ? {} : { deadlineMarginMs }) });
  return { sqs, log, handler, store };
}

const records = (count: number, jobtype = 'Slow') => Array.from({ length: count }, (_, index) => sqsRecord({ body: { jobtype, jid: `job-${index}` } }));

describe('a capped queue in the worker', () => {
  it('runs at most the queue\'s share per invocation, below the worker\'s own concurrency', async () => {
    const { state, handler: slow } = overlapCounter(5);
    const { handler } = worker({ default: { jobs: 6, perInvocation: 3 } }, { Slow: slow });

    const result = await handler(sqsEvent(records(12)), lambdaContext());

    expect({ failures: result.batchItemFailures, peak: state.peak, ran: state.ran }).toEqual({ failures: [], peak: 3, ran: 12 });
  });

  it('leaves other queues at the worker\'s concurrency', async () => {
    const { state, handler: slow } = overlapCounter(5);
    const { handler } = worker({ critical: { jobs: 2, perInvocation: 1 } }, { Slow: slow });

    await handler(sqsEvent(records(12)), lambdaContext());

    expect(state.peak).toBe(10);
  });

  it('keeps a cap of one to one job at a time across concurrent invocations, by a lease per job', async () => {
    const { state, handler: slow } = overlapCounter(10);
    const store = new MemoryLimiterStore();
    const caps = { default: { jobs: 1, perInvocation: 1, leaseSeconds: 30 } };
    const first = worker(caps, { Slow: slow }, store);
    const second = worker(caps, { Slow: slow }, store);

    const results = await Promise.all([first.handler(sqsEvent(records(3)), lambdaContext()), second.handler(sqsEvent(records(3)), lambdaContext())]);

    expect({ failures: results.flatMap((result) => result.batchItemFailures), peak: state.peak, ran: state.ran }).toEqual({ failures: [], peak: 1, ran: 6 });
    // Every lease was given back.
    expect((await limiter(queueLeaseName('default'), { type: 'concurrent', limit: 1, wait: 0 }, { store }).acquire()).allowed).toBe(true);
  });

  it('sends a job that gets no slot before the deadline back to its queue unchanged, without running it', async () => {
    const store = new MemoryLimiterStore();
    const held = await limiter(queueLeaseName('default'), { type: 'concurrent', limit: 1, lockTimeout: 30 }, { store }).acquire();
    let ran = 0;
    const { sqs, handler } = worker({ default: { jobs: 1, perInvocation: 1, leaseSeconds: 30 } }, { Slow: async () => { ran += 1; } }, store, 3_000);

    // 3.2 s left and a 3 s margin: the lease may be waited for 200 ms.
    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Slow', jid: 'late', args: [1], created_at: '2026-11-22T12:00:00.000Z' } })]), lambdaContext(() => 3_200));

    expect({ held: held.allowed, ran, failures: result.batchItemFailures }).toEqual({ held: true, ran: 0, failures: [] });
    const [sent] = sqs.sentTo(QUEUE_URLS.default);
    expect(sent).toEqual({ body: { jid: 'late', jobtype: 'Slow', args: [1], queue: 'default', created_at: '2026-11-22T12:00:00.000Z', retry: 25 }, delaySeconds: 1 });
  });

  it('counts a refusal of the handler\'s own limiter as the job\'s, inside the queue\'s lease', async () => {
    const { sqs, handler } = worker({ default: { jobs: 1, perInvocation: 1, leaseSeconds: 30 } }, {
      Limited: async () => { throw new RateLimitedError('stripe', 7); },
    });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Limited', jid: 'own' } })]), lambdaContext());

    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([expect.objectContaining({ body: expect.objectContaining({ jid: 'own', custom: { limited_count: 1 } }) })]);
  });
});

describe('parseQueueConcurrency', () => {
  it('reads the caps the construct set', () => {
    expect(parseQueueConcurrency({ HOPPER_QUEUE_CONCURRENCY: '{"a":{"jobs":1,"perInvocation":1,"leaseSeconds":30},"b":{"jobs":50,"perInvocation":10}}' })).toEqual({
      a: { jobs: 1, perInvocation: 1, leaseSeconds: 30 },
      b: { jobs: 50, perInvocation: 10 },
    });
    expect(parseQueueConcurrency({})).toEqual({});
  });

  it('names the variable and the queue of a malformed entry', () => {
    expect(() => parseQueueConcurrency({ HOPPER_QUEUE_CONCURRENCY: '{"a":{"jobs":0,"perInvocation":1}}' })).toThrow(ConfigurationError);
    expect(() => parseQueueConcurrency({ HOPPER_QUEUE_CONCURRENCY: '{"a":{"jobs":0,"perInvocation":1}}' })).toThrow(
      'environment variable HOPPER_QUEUE_CONCURRENCY: a must be { jobs, perInvocation, leaseSeconds? } of positive integers, but {"jobs":0,"perInvocation":1} was provided',
    );
  });
});
