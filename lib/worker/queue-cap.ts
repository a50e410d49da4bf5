/**
 * A queue's `maxConcurrency` inside one invocation (lib/config/queue-concurrency.ts): how many of
 * its jobs run at once here, and, when the event source mapping cannot bound the queue by itself
 * (a cap of 1: the mapping runs at least 2 invocations), the lease each job holds on the queue's
 * concurrent limiter while its handler runs.
 */
import type { QueueConcurrency } from '../config/queue-concurrency.js';
import { queueLeaseName } from '../config/queue-concurrency.js';
import { rateLimitedDelay } from '../errors/worker.js';
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

/**
 * Runs `handler` within the queue's lease, if any.
 *
 * @returns undefined when the handler ran; the seconds after which to try again when no slot of
 *   the queue came free in time (the handler did not run).
 * @throws what the handler throws.
 */
export async function withinQueueCap(lease: Limiter | undefined, handler: () => Promise<void>): Promise<number | undefined> {
  if (lease === undefined) {
    await handler();
    return undefined;
  }
  let started = false;
  try {
    await lease.run(async () => {
      started = true;
      await handler();
    });
    return undefined;
  } catch (error) {
    // A refusal of the handler's own limiters is the handler's outcome, not the queue's.
    const wait = started ? undefined : rateLimitedDelay(error);
    if (wait === undefined) throw error;
    return wait;
  }
}
