/**
 * `bucket` (Sidekiq's bucket limiter): at most `limit` per interval, counted in buckets aligned
 * to interval boundaries since the epoch, so per-minute buckets start at :00 of every UTC minute.
 * Five calls at 12:42:51.999 and five more at 12:42:52.000 fall in different buckets.
 * Pure: clock passed in.
 */
import { allow, refuse, type Decision } from './decision.js';

/** The current bucket: where it starts, how long it is, how many it admitted. */
export interface BucketState {
  readonly startMs: number;
  readonly intervalMs: number;
  readonly count: number;
}

/** A bucket decision that says whether `newState` opens a new bucket or counts in the stored one. */
export interface BucketDecision extends Decision<BucketState | undefined> {
  /** `restart`: newState is a new bucket; `advance`: newState adds to the stored bucket. */
  readonly step: 'advance' | 'restart';
}

/** The limit and interval of a bucket limiter. */
export interface BucketRequest {
  readonly limit: number;
  readonly intervalMs: number;
}

/** Start of the interval-aligned bucket containing `nowMs`. */
export function bucketStart(nowMs: number, intervalMs: number): number {
  return Math.floor(nowMs / intervalMs) * intervalMs;
}

/**
 * Counts one call in the bucket of `nowMs`. A stored bucket that starts *later* than ours (another
 * caller's clock runs ahead) is treated as the current one, so a lagging clock never reopens a
 * bucket that has already been filled.
 *
 * @example
 * takeFromBucket({ startMs: 60_000, intervalMs: 60_000, count: 5 }, 90_000, { limit: 5, intervalMs: 60_000 })
 * // refused, retryAfterMs 30_000 (the next bucket starts at 120_000)
 */
export function takeFromBucket(state: BucketState | undefined, nowMs: number, request: BucketRequest): BucketDecision {
  const start = bucketStart(nowMs, request.intervalMs);
  const current = state !== undefined && state.intervalMs === request.intervalMs && state.startMs >= start ? state : undefined;
  if (current === undefined) {
    return { ...allow({ startMs: start, intervalMs: request.intervalMs, count: 1 }), step: 'restart' };
  }
  if (current.count >= request.limit) {
    return { ...refuse(state, current.startMs + current.intervalMs - nowMs), step: 'advance' };
  }
  return { ...allow({ ...current, count: current.count + 1 }), step: 'advance' };
}
