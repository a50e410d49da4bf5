/**
 * When a job became due on its queue: the moment from which waiting counts as latency. A job that
 * waits out a delay on purpose (a retry's backoff, a schedule, a limiter's reschedule) is not
 * late while it does; only the wait after its due time is latency.
 */
import type { Job } from './model.js';

/**
 * Epoch ms at which `job` became due: the latest of when it entered its queue (`enqueued_at`,
 * else `sentMs`, SQS's SentTimestamp), its `at`, and the `failure.next_at` of the retry it is.
 * Undefined when none of them is a valid time.
 *
 * A job sent again at once by hand ("retry now" on a retry-set job) keeps the future `next_at` of
 * its retry, so until then it counts as not yet due: its latency is under-reported, never over.
 *
 * @example
 * // Retried 20 s after its failure: due at next_at, not at the retry function's enqueued_at.
 * dueAtMs({ ...job, enqueued_at: '…T12:00:00Z', failure: { …, next_at: '…T12:00:20Z' } }, undefined) // 12:00:20
 */
export function dueAtMs(job: Job, sentMs: number | undefined): number | undefined {
  // Once per job run: no arrays, as most jobs have neither `at` nor `failure`.
  const entered = job.enqueued_at === undefined ? sentMs : timeOf(job.enqueued_at);
  return later(later(entered, timeOf(job.at)), timeOf(job.failure?.next_at));
}

/** The later of two times, either of which may be missing (or not a time). */
function later(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || !Number.isFinite(a)) return b;
  return b === undefined ? a : Math.max(a, b);
}

function timeOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
