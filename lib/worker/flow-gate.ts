/**
 * The limits a job holds while it runs, besides those its handler asks for: its tenant's caps on its
 * queue (`perTenant`, with runtime overrides), its own throttle (`custom.throttle`), and the queue's
 * `maxConcurrency` lease when the queue needs one (./queue-cap.ts). They are taken in that order,
 * each without waiting: a job over any of them goes back on its queue, delayed, never failed and
 * using no retry (./record.ts). A job without a tenant on a capped queue, or on a queue without
 * `perTenant`, reads nothing.
 */
import type { QueueTenantCaps } from '../config/tenant-caps.js';
import { rateLimitedDelay } from '../errors/worker.js';
import { describeError, type Job } from '../job/model.js';
import { THROTTLE_LIMITER_PREFIX, throttleOf } from '../job/throttle.js';
import type { Limiter, LimiterFactory } from '../limiters/limiter.js';
import { effectiveCap, tenantLimiterName } from '../limiters/tenant-caps.js';
import type { OverrideReader } from '../limiters/tenant-overrides.js';
import type { Logger } from '../observability/logger.js';

/** What the gate needs from the worker instance. */
export interface FlowGateScope {
  /** Queue name → its per-tenant caps (queues declaring `perTenant` only). */
  readonly tenantCaps: Readonly<Record<string, QueueTenantCaps>>;
  /** Reads a tenant's overrides (cached); absent: the declared caps only. */
  readonly overrides?: OverrideReader;
  /** The invocation's limiters. */
  readonly limiter: LimiterFactory;
}

/**
 * Whether `job` has limits of its own on `queue`: a throttle, or a tenant on a queue that caps its
 * tenants. Synchronous, so a plain job pays no more than this check.
 */
export function hasJobLimits(job: Job, queue: string, scope: Pick<FlowGateScope, 'tenantCaps'> | undefined): boolean {
  const custom = job.custom;
  if (custom === undefined) return false;
  return custom.throttle !== undefined || (custom.tenant !== undefined && scope !== undefined && Object.hasOwn(scope.tenantCaps, queue));
}

/** A job's own limits, in the order they are taken. */
export async function jobLimits(job: Job, queue: string, scope: Partial<Pick<FlowGateScope, 'tenantCaps'>> & Omit<FlowGateScope, 'tenantCaps'>, logger: Logger): Promise<Limiter[]> {
  const limits: Limiter[] = [];
  const tenant = job.custom?.tenant;
  const caps = scope.tenantCaps ?? {};
  const declared = Object.hasOwn(caps, queue) ? caps[queue] : undefined;
  if (tenant !== undefined && declared !== undefined) {
    let cap = declared.cap;
    if (scope.overrides !== undefined) {
      try {
        const overrides = await scope.overrides(tenant);
        cap = effectiveCap(declared.cap, overrides.all, Object.hasOwn(overrides.queues, queue) ? overrides.queues[queue] : undefined);
      } catch (error) {
        // The declared cap still holds; the override is read again by the next job.
        logger.warn('could not read the tenant\'s cap overrides; the declared cap applies', { tenant, error: describeError(error).message });
      }
    }
    if (cap.concurrency !== undefined) {
      limits.push(scope.limiter(tenantLimiterName('concurrency', queue, tenant), { type: 'concurrent', limit: cap.concurrency, lockTimeout: declared.leaseSeconds, wait: 0 }));
    }
    if (cap.rate !== undefined) {
      limits.push(scope.limiter(tenantLimiterName('rate', queue, tenant), { type: 'leaky', limit: cap.rate.limit, per: cap.rate.perSeconds, wait: 0 }));
    }
  }
  const throttle = throttleOf(job.custom);
  if (throttle !== undefined) limits.push(scope.limiter(`${THROTTLE_LIMITER_PREFIX}${throttle.key}`, { type: 'leaky', limit: throttle.limit, per: throttle.per, wait: 0 }));
  return limits;
}

/** Why a job did not start. */
export interface Held {
  /** Seconds after which to try again. */
  readonly waitSeconds: number;
  /** The limiter that refused it. */
  readonly limiter: string;
}

/**
 * Runs `handler` within every one of `limits` (outermost first).
 *
 * @returns undefined when the handler ran; what refused it when one of the limits had no room (the
 *   handler did not run, and every limit taken was given back).
 * @throws what the handler throws (a refusal of the handler's own limiters included).
 */
export async function withinLimits(limits: readonly Limiter[], handler: () => Promise<void>): Promise<Held | undefined> {
  let started = false;
  const run = async (index: number): Promise<void> => {
    const limit = limits[index];
    if (limit === undefined) {
      started = true;
      await handler();
      return;
    }
    await limit.run(() => run(index + 1));
  };
  try {
    await run(0);
    return undefined;
  } catch (error) {
    const waitSeconds = started ? undefined : rateLimitedDelay(error);
    if (waitSeconds === undefined) throw error;
    return { waitSeconds, limiter: limiterNameOf(error) };
  }
}

function limiterNameOf(error: unknown): string {
  return typeof error === 'object' && error !== null && 'limiter' in error && typeof error.limiter === 'string' ? error.limiter : 'a limiter';
}
