/**
 * Backlog limits, pure: whether a queue holds more than its `maxBacklog` messages or would make a
 * new job wait more than its `maxLatency` seconds, and when to come back, estimated from the rate
 * the queue has been drained at.
 */
import type { BacklogLimit } from './config.js';

/** What is known of a queue when an enqueue is checked. */
export interface QueueActivity {
  /** Messages waiting (visible), as SQS last said (a cached reading). */
  readonly visible: number;
  /** Jobs for the queue this API instance accepted since that reading. @default 0 */
  readonly acceptedSince?: number;
  /** Jobs for the queue in the request being checked. @default 0 */
  readonly requested?: number;
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
 * Checks `activity` against `limit`. The backlog is what SQS last said plus what was accepted since
 * and what the request adds: a queue at its `maxBacklog` refuses the next job. The expected wait of
 * a new job is that backlog divided by the drain rate; without a rate, the last reported lag stands
 * in while it is fresh, and without either the latency limit is not applied (nothing says the
 * queue is slow).
 */
export function checkBacklog(queue: string, limit: BacklogLimit, activity: QueueActivity, nowMs: number): BacklogVerdict {
  const acceptedSince = activity.acceptedSince ?? 0;
  const requested = activity.requested ?? 0;
  const backlog = activity.visible + acceptedSince + requested;
  // A paused queue does not drain, whatever it did before the pause.
  const rate = activity.paused !== true && activity.drainPerSecond !== undefined && activity.drainPerSecond > 0 ? activity.drainPerSecond : undefined;
  const after = (excess: number): number => {
    if (rate === undefined) return UNKNOWN_DRAIN_RETRY_AFTER_SECONDS;
    return Math.min(MAX_BACKLOG_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(excess / rate)));
  };
  if (limit.maxBacklog !== undefined && backlog > limit.maxBacklog) {
    const holds = acceptedSince + requested === 0
      ? `holds ${backlog} waiting jobs`
      : `would hold ${backlog} waiting jobs (${activity.visible} when SQS was last read, ${acceptedSince} accepted since, ${requested} in this request)`;
    return {
      over: true,
      reason: BACKLOG_REASONS.maxBacklog,
      retryAfterSeconds: after(backlog - limit.maxBacklog),
      message: `queue ${queue} ${holds}, over its maxBacklog of ${limit.maxBacklog}${activity.paused === true ? ' (the queue is paused)' : ''}`,
    };
  }
  if (limit.maxLatency !== undefined) {
    const freshLag = activity.lag !== undefined && nowMs - activity.lag.atMs <= LAG_FRESH_MS ? activity.lag.ms / 1000 : undefined;
    const expected = rate === undefined ? freshLag : backlog / rate;
    if (expected !== undefined && expected > limit.maxLatency) {
      return {
        over: true,
        reason: BACKLOG_REASONS.maxLatency,
        retryAfterSeconds: rate === undefined ? UNKNOWN_DRAIN_RETRY_AFTER_SECONDS : after(backlog - limit.maxLatency * rate),
        message: `a job sent to queue ${queue} now would wait about ${Math.round(expected)} s, over its maxLatency of ${limit.maxLatency} s`,
      };
    }
  }
  return { over: false };
}
