/**
 * A queue's `maxConcurrency` is the most of its jobs running at once, end to end. Three pieces
 * bound it, and this module sets all three from the cap C and the batch size B asked for:
 *
 * - the event source mapping's maximum concurrency M: invocations at once (Lambda allows 2 to 1000);
 * - the worker's jobs per invocation P (`HOPPER_QUEUE_CONCURRENCY`, read by `createWorker`);
 * - the mapping's batch size, set to P, so an invocation never holds a message it cannot start
 *   (a message waiting inside an invocation would count against the function's timeout).
 *
 * M · P ≤ C always. Of the choices with P ≤ B and 2 ≤ M ≤ 1000, the one running the most jobs at
 * once is taken, and of those the one with the most jobs per invocation (fewer invocations, fewer
 * environments, fewer receives). Examples with B = 10: C = 3 → M 3, P 1; C = 7 → M 7, P 1;
 * C = 25 → M 5, P 5; C = 50 → M 5, P 10; C = 10,000 → M 1000, P 10 (the largest cap).
 *
 * A cap of 1 is below what the mapping can bound (it runs at least 2 invocations): then M = 2,
 * P = 1, and each job also holds a lease of the queue's own concurrent limiter in the limits table
 * while it runs (two writes per job), which expires after the worker's timeout if the worker dies.
 * A queue without a cap keeps the batch size asked for and no mapping limit.
 */
import { Lazy, Token } from 'aws-cdk-lib';
import type { QueueConcurrency } from '../lib/config/queue-concurrency.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { validateIntegerRange } from './validation.js';

/** Bounds of the pieces, Lambda's and Hopper's. */
export const CONCURRENCY_BOUNDS = {
  /** Smallest and largest `maxConcurrency` of a queue, in jobs (1000 invocations of 10 jobs). */
  minJobs: 1,
  maxJobs: 10_000,
  /** An SQS event source mapping's MaximumConcurrency, in invocations. */
  minInvocations: 2,
  maxInvocations: 1000,
  /** Lambda's longest timeout, for a lease whose worker's timeout is a token. */
  maxLeaseSeconds: 900,
} as const;

/** What the construct sets for one queue. */
export interface ConcurrencyPlan {
  /** Records per invocation. */
  readonly batchSize: number;
  /** The mapping's MaximumConcurrency; undefined for a queue without a cap. */
  readonly maxInvocations?: number;
  /** What the worker is told; undefined for a queue without a cap. */
  readonly worker?: QueueConcurrency;
}

/** What a plan is made from. */
export interface ConcurrencyInput {
  /** The queue's (or the worker's) `maxConcurrency`, in jobs. */
  readonly maxConcurrency?: number;
  /** The batch size asked for (1 to 10). */
  readonly batchSize: number;
  /** The worker's timeout, seconds (a lease of a cap of 1 lasts that long); undefined when a token. */
  readonly workerTimeoutSeconds?: number;
}

/**
 * Spreads a queue's cap over the mapping, the batch size and the worker (see the module comment).
 *
 * @throws ConfigurationError when the cap is a token (the pieces are computed at synth).
 * @example
 * concurrencyPlan({ maxConcurrency: 50, batchSize: 10 })
 * // { batchSize: 10, maxInvocations: 5, worker: { jobs: 50, perInvocation: 10 } }
 * concurrencyPlan({ maxConcurrency: 1, batchSize: 10, workerTimeoutSeconds: 30 })
 * // { batchSize: 1, maxInvocations: 2, worker: { jobs: 1, perInvocation: 1, leaseSeconds: 30 } }
 */
export function concurrencyPlan(input: ConcurrencyInput): ConcurrencyPlan {
  const cap = input.maxConcurrency;
  if (cap === undefined) return { batchSize: input.batchSize };
  if (Token.isUnresolved(cap)) throw new ConfigurationError('maxConcurrency must be known at synth time (it sets the batch size and the mapping\'s concurrency), but a token was provided');
  const { minInvocations, maxInvocations } = CONCURRENCY_BOUNDS;
  if (cap < minInvocations) {
    const leaseSeconds = Math.min(CONCURRENCY_BOUNDS.maxLeaseSeconds, Math.max(1, input.workerTimeoutSeconds ?? CONCURRENCY_BOUNDS.maxLeaseSeconds));
    return { batchSize: 1, maxInvocations: minInvocations, worker: { jobs: cap, perInvocation: 1, leaseSeconds } };
  }
  let best = { perInvocation: 1, invocations: Math.min(maxInvocations, cap) };
  for (let perInvocation = 2; perInvocation <= input.batchSize; perInvocation += 1) {
    const invocations = Math.min(maxInvocations, Math.floor(cap / perInvocation));
    if (invocations < minInvocations) break;
    if (invocations * perInvocation >= best.invocations * best.perInvocation) best = { perInvocation, invocations };
  }
  return { batchSize: best.perInvocation, maxInvocations: best.invocations, worker: { jobs: cap, perInvocation: best.perInvocation } };
}

/** Validates a `maxConcurrency` (jobs) named `name`. */
export function validateMaxConcurrency(name: string, value: number | undefined): void {
  validateIntegerRange(name, value, CONCURRENCY_BOUNDS.minJobs, CONCURRENCY_BOUNDS.maxJobs);
}

/**
 * `HOPPER_QUEUE_CONCURRENCY`: the worker's part of each capped queue's plan, resolved at synth
 * (after every worker is added).
 */
export function queueConcurrencyEnv(plans: ReadonlyMap<string, ConcurrencyPlan>): string {
  return Lazy.string({
    produce: () => {
      const caps: Record<string, QueueConcurrency> = {};
      for (const [queue, plan] of plans) if (plan.worker !== undefined) caps[queue] = plan.worker;
      return JSON.stringify(caps);
    },
  });
}
