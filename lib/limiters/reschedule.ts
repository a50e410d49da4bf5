/**
 * What happens to a job whose handler threw `RateLimitedError`: it goes back on its queue after
 * the limiter's retry-after plus jitter, without consuming a retry, up to a cap. Past the cap the
 * error is handled as an ordinary failure (Sidekiq does the same after its `reschedule` count).
 * Pure: randomness passed in, like the retry policy.
 */
import type { Job } from '../job/model.js';
import type { Random } from '../common/random.js';

/** The job field that counts reschedules, and the defaults of the policy. */
export const LIMITED_RESCHEDULE = {
  /** `custom.limited_count`: how many times limiters have rescheduled the job. */
  countField: 'limited_count',
  /** Reschedules before a rate-limited job counts as failed (Sidekiq's default is 20). */
  defaultMaxReschedules: 20,
  /**
   * Jitter grows by the limiter's wait per reschedule, at most this many seconds (and at least
   * one) per reschedule, so jobs that keep colliding spread out over about as long as they wait.
   */
  jitterStepSeconds: 5,
  /** The jitter never exceeds this. */
  maxJitterSeconds: 300,
} as const;

/** What to do with a job that was rate limited. */
export type LimitedAttempt =
  | {
      readonly action: 'reschedule';
      /** Seconds until the job should run again (may exceed SQS's 900 s: use the scheduled set then). */
      readonly delaySeconds: number;
      /** The job to enqueue: the same job with `custom.limited_count` incremented. */
      readonly job: Job;
      readonly limitedCount: number;
    }
  | {
      /** The job has been rescheduled too often: treat the error as an ordinary failure. */
      readonly action: 'fail';
      readonly limitedCount: number;
    };

/** Options of {@link nextLimitedAttempt}. */
export interface LimitedAttemptOptions {
  readonly random: Random;
  /** @default 20 */
  readonly maxReschedules?: number;
}

/** How many times limiters have rescheduled `job` (0 when the field is absent or malformed). */
export function limitedCount(job: Job): number {
  const value = job.custom?.[LIMITED_RESCHEDULE.countField];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

/**
 * Decides between rescheduling a rate-limited job and failing it. The delay is the limiter's
 * retry-after r (at least 1 s) plus a jitter drawn from [0, min(300, n · clamp(r, 1, 5))) seconds,
 * where n is the reschedule being made (1 on the first): jobs turned away together do not all come
 * back in the same second, jobs turned away again and again spread out further, and a limiter that
 * frees room every second does not send its jobs away for many seconds.
 *
 * @param limited the `RateLimitedError` (anything with `retryAfterSeconds`).
 * @example
 * nextLimitedAttempt(job, { retryAfterSeconds: 12 }, { random: () => 0.5 })
 * // first reschedule: { action: 'reschedule', delaySeconds: 12 + floor(0.5 · 5) = 14, limitedCount: 1, job }
 * nextLimitedAttempt(job, { retryAfterSeconds: 1 }, { random: () => 0.5 })
 * // first reschedule: delaySeconds 1 + floor(0.5 · 1) = 1
 */
export function nextLimitedAttempt(job: Job, limited: { readonly retryAfterSeconds: number }, options: LimitedAttemptOptions): LimitedAttempt {
  const count = limitedCount(job) + 1;
  if (count > (options.maxReschedules ?? LIMITED_RESCHEDULE.defaultMaxReschedules)) return { action: 'fail', limitedCount: count - 1 };
  return {
    action: 'reschedule',
    delaySeconds: rescheduleDelaySeconds(limited.retryAfterSeconds, count, options.random),
    job: { ...job, custom: { ...job.custom, [LIMITED_RESCHEDULE.countField]: count } },
    limitedCount: count,
  };
}

/**
 * The delay of the `count`-th reschedule of a job told to come back after `retryAfterSeconds`: that
 * wait (at least 1 s) plus a jitter from [0, min(300, count · clamp(wait, 1, 5))) seconds.
 */
export function rescheduleDelaySeconds(retryAfterSeconds: number, count: number, random: Random): number {
  const base = Number.isFinite(retryAfterSeconds) ? Math.max(1, Math.ceil(retryAfterSeconds)) : 1;
  const step = Math.min(LIMITED_RESCHEDULE.jitterStepSeconds, base);
  const spread = Math.min(LIMITED_RESCHEDULE.maxJitterSeconds, step * count);
  return base + Math.floor(random() * spread);
}

/** `custom.held_count`: how many times a tenant's cap or the job's throttle has held the job back. */
export const HELD_COUNT_FIELD = 'held_count';

/** How many times the job was held back (0 when the field is absent or malformed). */
export function heldCount(job: Job): number {
  const value = job.custom?.[HELD_COUNT_FIELD];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

/**
 * A job held back by its tenant's cap or its throttle goes back on its queue after the limiter's
 * retry-after plus a jitter that grows with each hold (as a rate-limited job's does), so a tenant's
 * burst spreads out instead of coming back all at once. It never fails for it and uses no retry:
 * the count only spreads the delays (its jitter stops growing at 300 s).
 */
export function nextHeldAttempt(job: Job, retryAfterSeconds: number, random: Random): { readonly delaySeconds: number; readonly job: Job; readonly heldCount: number } {
  const count = heldCount(job) + 1;
  return {
    delaySeconds: rescheduleDelaySeconds(retryAfterSeconds, count, random),
    job: { ...job, custom: { ...job.custom, [HELD_COUNT_FIELD]: count } },
    heldCount: count,
  };
}
