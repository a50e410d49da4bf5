/**
 * Backlog limits, pure: whether a queue holds more than its `maxBacklog` messages or would make a
 * new job wait more than its `maxLatency` seconds, and when to come back, estimated from the rate
 * the queue has been drained at.
 */
import type { BacklogLimit } from './config.js';

/** What is known of a queue when an enqueue is checked. */
export interface QueueActivity {
  /** Messages waiting (visible). */
  readonly visible: number;
  /** Jobs per second the workers have been finishing lately; undefined when none were seen. */
  readonly drainPerSecond: number | undefined;
  /** How long the most recently started job had waited, and when it started. */
  readonly lag: { readonly ms: number; readonly atMs: number } | undefined;
  /** The queue's worker mapping is disabled: nothing drains until someone resumes it. */
  readonly paused?: boolean;
}

/** Retry-After when the drain rate is unknown (a paused queue, a worker that has not reported). */
export const UNKNOWN_DRAIN_RETRY_AFTER_SECONDS = 30;
/** A reported lag older than this says nothing about the queue now. */
export const LAG_FRESH_MS = 120_000;
/** Longest Retry-After a backlog answer gives: past that, the producer should ask again anyway. */
export const MAX_BACKLOG_RETRY_AFTER_SECONDS = 900;

/** Why a queue refused. */
export const BACKLOG_REASONS = { maxBacklog: 'max_backlog', maxLatency: 'max_latency' } as const;

/** The verdict for one queue. */
export type BacklogVerdict =
  | { readonly over: false }
  | { readonly over: true; readonly reason: (typeof BACKLOG_REASONS)[keyof typeof BACKLOG_REASONS]; readonly retryAfterSeconds: number; readonly message: string };

/**
 * Checks `activity` against `limit`. The expected wait of a new job is the backlog divided by the
 * drain rate; without a rate, the last reported lag stands in while it is fresh, and without
 * either the latency limit is not applied (nothing says the queue is slow).
 */
export function checkBacklog(queue: string, limit: BacklogLimit, activity: QueueActivity, nowMs: number): BacklogVerdict {
  // A paused queue does not drain, whatever it did before the pause.
  const rate = activity.paused !== true && activity.drainPerSecond !== undefined && activity.drainPerSecond > 0 ? activity.drainPerSecond : undefined;
  const after = (excess: number): number => {
    if (rate === undefined) return UNKNOWN_DRAIN_RETRY_AFTER_SECONDS;
    return Math.min(MAX_BACKLOG_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(excess / rate)));
  };
  if (limit.maxBacklog !== undefined && activity.visible > limit.maxBacklog) {
    return {
      over: true,
      reason: BACKLOG_REASONS.maxBacklog,
      retryAfterSeconds: after(activity.visible - limit.maxBacklog),
      message: `queue ${queue} holds ${activity.visible} waiting jobs, over its maxBacklog of ${limit.maxBacklog}${activity.paused === true ? ' (the queue is paused)' : ''}`,
    };
  }
  if (limit.maxLatency !== undefined) {
    const freshLag = activity.lag !== undefined && nowMs - activity.lag.atMs <= LAG_FRESH_MS ? activity.lag.ms / 1000 : undefined;
    const expected = rate === undefined ? freshLag : activity.visible / rate;
    if (expected !== undefined && expected > limit.maxLatency) {
      return {
        over: true,
        reason: BACKLOG_REASONS.maxLatency,
        retryAfterSeconds: rate === undefined ? UNKNOWN_DRAIN_RETRY_AFTER_SECONDS : after(activity.visible - limit.maxLatency * rate),
        message: `a job sent to queue ${queue} now would wait about ${Math.round(expected)} s, over its maxLatency of ${limit.maxLatency} s`,
      };
    }
  }
  return { over: false };
}
