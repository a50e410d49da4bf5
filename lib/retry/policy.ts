/**
 * The retry policy, pure: what happens after a job fails. Clock and randomness are parameters, so
 * the policy has exact answers in tests and the retry function can make them deterministic per
 * failure (see lib/retry/handler.ts).
 */
import type { Job } from '../job/model.js';
import type { Random } from '../common/random.js';

/** SQS cannot delay a message by more than 15 minutes; longer waits go to the retry set. */
export const MAX_SQS_DELAY_SECONDS = 900;

/** What to do with a job that just failed. */
export type NextAttempt =
  | {
      readonly action: 'retry';
      /** Seconds from the failure to the next attempt. */
      readonly delaySeconds: number;
      /** The failure's `retry_count`: 0 on the first failure. */
      readonly retryCount: number;
      /** When the next attempt is due. */
      readonly nextAt: Date;
    }
  | {
      readonly action: 'dead';
      /** The failure's `retry_count` (equal to `job.retry` when the retries ran out). */
      readonly retryCount: number;
    };

/**
 * Sidekiq's backoff: `count⁴ + 15 + rand(10 · (count + 1))` seconds, where `rand(n)` is an integer
 * in [0, n). Retry 0 waits 15–24 s, retry 5 about 11 minutes, retry 24 about 3.8 days; the 25
 * default retries span roughly three weeks.
 *
 * @example
 * retryDelaySeconds(0, () => 0.5) // 15 + floor(0.5 · 10) = 20
 */
export function retryDelaySeconds(retryCount: number, random: Random): number {
  return retryCount ** 4 + 15 + Math.floor(random() * 10 * (retryCount + 1));
}

/**
 * Decides between another attempt and the dead set. The failure being handled has
 * `retry_count = (job.failure?.retry_count ?? -1) + 1`, so the first failure has 0. `job.retry` is
 * the number of retries allowed: with `retry: N` the job runs at most N + 1 times and dies on its
 * (N + 1)-th failure; `retry: 0` dies on its first.
 *
 * @param job the job as it was run (its `failure` is the previous failure, if any).
 */
export function nextAttempt(job: Job, options: { readonly random: Random; readonly now: Date }): NextAttempt {
  const retryCount = (job.failure?.retry_count ?? -1) + 1;
  if (retryCount >= job.retry) return { action: 'dead', retryCount };
  const delaySeconds = retryDelaySeconds(retryCount, options.random);
  return {
    action: 'retry',
    delaySeconds,
    retryCount,
    nextAt: new Date(options.now.getTime() + delaySeconds * 1000),
  };
}
