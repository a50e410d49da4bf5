/**
 * How much of an invocation a worker keeps in reserve before Lambda's deadline, and so the shortest
 * timeout a worker may have. One rule for the worker (lib/worker) and the JobSystem construct,
 * which refuses a worker whose timeout is below the minimum at synth.
 */

/** The worker's deadline margin rule. */
export const DEADLINE_MARGIN = {
  /** The margin is this fraction of the time the invocation has when it starts… */
  fraction: 0.2,
  /** …but never more than this, in milliseconds (invocations of 15 s and more all keep 3 s). */
  maxMs: 3000,
  /**
   * The shortest worker timeout, in seconds (Lambda's default): a fifth of it, 600 ms, is what the
   * invocation keeps after its last start to send failure envelopes, record batch successes and
   * flush stats, which on a new instance includes loading the AWS SDK; running jobs are given up at
   * half of it (300 ms left). Shorter timeouts leave too little for that.
   */
  minTimeoutSeconds: 3,
} as const;

/**
 * The deadline margin of an invocation that has `remainingMs` when it starts: a fifth of it, at
 * most 3000 ms, in whole milliseconds. No job starts once less than the margin is left, and jobs
 * still running at half the margin are handed back to SQS.
 *
 * @example
 * deadlineMarginMs(3_000); // 600   (Lambda's default 3 s timeout)
 * deadlineMarginMs(30_000); // 3000
 * deadlineMarginMs(900_000); // 3000
 */
export function deadlineMarginMs(remainingMs: number): number {
  if (!Number.isFinite(remainingMs)) return DEADLINE_MARGIN.maxMs;
  return Math.min(DEADLINE_MARGIN.maxMs, Math.max(0, Math.floor(remainingMs * DEADLINE_MARGIN.fraction)));
}
