import { describe, expect, it } from 'vitest';
import { CONCURRENCY_BOUNDS, concurrencyPlan } from '../../infra/concurrency-plan.js';

describe('concurrencyPlan', () => {
  it.each([
    // [cap, batch size asked, batch size, invocations, jobs per invocation]
    [2, 10, 1, 2, 1],
    [3, 10, 1, 3, 1],
    [7, 10, 1, 7, 1],
    [20, 2, 2, 10, 2],
    [25, 10, 5, 5, 5],
    [50, 10, 10, 5, 10],
    [1_000, 10, 10, 100, 10],
    [1_001, 10, 7, 143, 7],
    [5_000, 1, 1, 1_000, 1],
    [10_000, 10, 10, 1_000, 10],
  ])('spreads a cap of %i jobs (batches of %i asked) over batches of %i, %i invocations of %i jobs', (cap, asked, batchSize, invocations, perInvocation) => {
    expect(concurrencyPlan({ maxConcurrency: cap, batchSize: asked, workerTimeoutSeconds: 30 })).toEqual({ batchSize, maxInvocations: invocations, worker: { jobs: cap, perInvocation } });
  });

  it('never runs more jobs at once than the cap, and never fewer than it could', () => {
    for (let cap = 2; cap <= 2_000; cap += 1) {
      for (const asked of [1, 3, 10]) {
        const plan = concurrencyPlan({ maxConcurrency: cap, batchSize: asked });
        const invocations = plan.maxInvocations ?? 0;
        const perInvocation = plan.worker?.perInvocation ?? 0;
        let most = 0;
        for (let p = 1; p <= asked; p += 1) {
          const m = Math.min(CONCURRENCY_BOUNDS.maxInvocations, Math.floor(cap / p));
          if (m >= CONCURRENCY_BOUNDS.minInvocations) most = Math.max(most, m * p);
        }
        expect(invocations * perInvocation).toBeLessThanOrEqual(cap);
        expect(invocations * perInvocation).toBe(most);
        expect(plan.batchSize).toBe(perInvocation);
        expect(invocations).toBeGreaterThanOrEqual(CONCURRENCY_BOUNDS.minInvocations);
      }
    }
  });

  it('keeps a cap of one to one job by a lease as long as the worker\'s timeout', () => {
    expect(concurrencyPlan({ maxConcurrency: 1, batchSize: 10, workerTimeoutSeconds: 30 })).toEqual({ batchSize: 1, maxInvocations: 2, worker: { jobs: 1, perInvocation: 1, leaseSeconds: 30 } });
    expect(concurrencyPlan({ maxConcurrency: 1, batchSize: 10 })).toEqual({ batchSize: 1, maxInvocations: 2, worker: { jobs: 1, perInvocation: 1, leaseSeconds: 900 } });
  });

  it('leaves a queue without a cap alone', () => {
    expect(concurrencyPlan({ batchSize: 7 })).toEqual({ batchSize: 7 });
  });
});
