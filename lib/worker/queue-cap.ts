/**
 * A queue's `maxConcurrency` inside one invocation (lib/config/queue-concurrency.ts): how many of
 * its jobs run at once here, and, when the event source mapping cannot bound the queue by itself
 * (a cap of 1: the mapping runs at least 2 invocations), the lease each job holds on the queue's
 * concurrent limiter while its handler runs.
 */
import type { QueueConcurrency } from '../config/queue-concurrency.js';
import { queueLeaseName } from '../config/queue-concurrency.js';
import type { Limiter, LimiterFactory } from '../limiters/limiter.js';
import { SPEC_BOUNDS } from '../limiters/spec.js';

/** The cap of the queue an invocation serves. */
export interface InvocationCap {
  /** Most of the invocation's jobs running at once. */
  readonly concurrency: number;
  /** The queue's lease, when jobs must hold one. */
  readonly lease?: Limiter;
}

/**
 * The cap of an invocation of `queue`: the worker's own concurrency, lowered to the queue's share
 * per invocation, and the queue's lease when it needs one. A lease waits for a free slot as long as
 * the invocation allows (the limiter factory bounds every wait by the time left).
 */
export function invocationCap(queue: string | undefined, caps: Readonly<Record<string, QueueConcurrency>>, workerConcurrency: number, limiter: LimiterFactory): InvocationCap {
  const cap = queue === undefined || !Object.hasOwn(caps, queue) ? undefined : caps[queue];
  if (queue === undefined || cap === undefined) return { concurrency: workerConcurrency };
  const concurrency = Math.min(workerConcurrency, cap.perInvocation);
  if (cap.leaseSeconds === undefined) return { concurrency };
  const lease = limiter(queueLeaseName(queue), { type: 'concurrent', limit: cap.jobs, lockTimeout: cap.leaseSeconds, wait: SPEC_BOUNDS.waitMaxSeconds });
  return { concurrency, lease };
}
