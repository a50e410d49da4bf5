/**
 * How many jobs of each queue may run at once, as the JobSystem construct arranged it
 * (infra/concurrency-plan.ts computes it from the queue's `maxConcurrency`) and tells the functions
 * in `HOPPER_QUEUE_CONCURRENCY`: the worker runs at most `perInvocation` jobs of the queue per
 * invocation, and takes a lease of the queue's own concurrent limiter per job when the event
 * source mapping cannot bound the queue by itself (`lease`); the API shows the cap.
 */
import { ConfigurationError } from '../errors/base.js';
import { isRecord } from '../job/model.js';
import { ENV, jsonObjectFromEnv, type Env } from './env.js';

/** The concurrency of one queue whose `maxConcurrency` is set. */
export interface QueueConcurrency {
  /** Most jobs of the queue running at once, across every invocation (the queue's `maxConcurrency`). */
  readonly jobs: number;
  /** Most jobs one invocation runs at once. */
  readonly perInvocation: number;
  /**
   * Seconds a job's lease on the queue's cap lasts if its worker dies holding it (the worker's
   * timeout). Set when the mapping's smallest concurrency (2 invocations) exceeds the cap, so each
   * job holds a lease of the limiter {@link queueLeaseName} while it runs.
   */
  readonly leaseSeconds?: number;
}

/** The name of the concurrent limiter (limits table) that caps queue `queue` when a lease is needed. */
export function queueLeaseName(queue: string): string {
  return `hopper.queue:${queue}`;
}

/**
 * Reads `HOPPER_QUEUE_CONCURRENCY` (queue name → {@link QueueConcurrency}); queues without a cap are
 * absent, and an unset variable means no cap anywhere.
 *
 * @throws ConfigurationError naming the variable and the queue when an entry is malformed.
 */
export function parseQueueConcurrency(env: Env): Readonly<Record<string, QueueConcurrency>> {
  const caps: Record<string, QueueConcurrency> = {};
  for (const [queue, value] of Object.entries(jsonObjectFromEnv(env, ENV.queueConcurrency, 'queue name to { jobs, perInvocation, leaseSeconds? }'))) {
    const fail = (): never => {
      throw new ConfigurationError(`environment variable ${ENV.queueConcurrency}: ${queue} must be { jobs, perInvocation, leaseSeconds? } of positive integers, but ${JSON.stringify(value)} was provided`);
    };
    if (!isRecord(value)) return fail();
    const { jobs, perInvocation, leaseSeconds } = value;
    if (!isPositiveInteger(jobs) || !isPositiveInteger(perInvocation) || (leaseSeconds !== undefined && !isPositiveInteger(leaseSeconds))) return fail();
    caps[queue] = { jobs, perInvocation, ...(leaseSeconds === undefined ? {} : { leaseSeconds }) };
  }
  return caps;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}
