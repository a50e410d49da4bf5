/**
 * What a worker invocation reports about its records, without a request of its own: CloudWatch
 * metrics per (queue, jobtype) as EMF lines (lib/observability/emf.ts), the stats rollup of its
 * successes with the latest wait (lib/stats/rollup.ts), and the cohort events of its jobs
 * (lib/stats/cohort.ts) — the last two are written by the recorder's next due flush.
 */
import type { SQSRecord } from 'aws-lambda';
import { limitedCount } from '../limiters/reschedule.js';
import { INVALID_JOBTYPE, METRICS, type MetricsBatch } from '../observability/emf.js';
import { cohortOf } from '../stats/cohort.js';
import type { StatsRecorder } from '../stats/recorder.js';
import { physicalNameFromArn, type QueueResolver } from '../aws/queues.js';
import type { RecordOutcome } from './record.js';

/** How long a job waited, and when it started. */
type Lag = { readonly ms: number; readonly atMs: number };

/** What {@link observeOutcomes} reports to. */
export interface Observers {
  readonly metrics: MetricsBatch;
  readonly stats: StatsRecorder;
  readonly queues: QueueResolver;
}

/**
 * Reports the outcomes of one invocation.
 *
 * - Metrics: `Processed` (handler ran to an end), `Failed` (handler threw, unknown jobtype, invalid
 *   body), `Retried` (a failure sent back to its queue by the worker itself), `Expired`,
 *   `Superseded` (a debounced job a later one of its key replaced), `RateLimited`, `Duration`
 *   (handler run time), `Latency` (wait before start).
 * - Rollup: successes per queue, with the latest wait seen (and each tier's, for a queue with tiers), and the failures the worker retried
 *   itself (due within 15 minutes); the others are the retry function's to count, crashes included.
 * - Cohorts: `started` with its latency for a job's first attempt (not after a failure or a
 *   limiter's reschedule), `done` for a success on any attempt.
 * - Nothing for a batch callback's duplicate copy or a deferred one: it did not run.
 */
export function observeOutcomes(
  records: readonly SQSRecord[],
  results: ReadonlyMap<number, RecordOutcome>,
  observers: Observers,
  reported: { readonly waits: ReadonlyMap<string, Lag>; readonly tierWaits?: ReadonlyMap<string, ReadonlyMap<string, Lag>> },
  atMs: number,
): void {
  const { metrics, stats, queues } = observers;
  const { waits, tierWaits } = reported;
  const succeeded = new Map<string, number>();
  const retried = new Map<string, number>();
  for (const [index, outcome] of results) {
    const record = records[index];
    // A batch callback's second copy, or one whose run could not be claimed yet, did not run here.
    if (record === undefined || outcome.kind === 'duplicate' || outcome.kind === 'deferred') continue;
    const queue = outcome.kind === 'expired' || outcome.kind === 'superseded' || outcome.run === undefined
      ? queues.nameOf(record.eventSourceARN) ?? physicalNameFromArn(record.eventSourceARN)
      : outcome.run.queue;
    const jobtype = outcome.job?.jobtype ?? INVALID_JOBTYPE;
    if (outcome.kind === 'expired' || outcome.kind === 'superseded') {
      metrics.count(queue, jobtype, outcome.kind === 'expired' ? METRICS.expired : METRICS.superseded);
      continue;
    }
    const { run, job } = outcome;
    if (run?.durationMs !== undefined) metrics.observe(queue, jobtype, METRICS.duration, run.durationMs);
    if (run !== undefined) metrics.observe(queue, jobtype, METRICS.latency, run.waitedMs);
    if (outcome.kind === 'rate_limited') metrics.count(queue, jobtype, METRICS.rateLimited);
    else if (outcome.kind === 'continued') continue;
    else {
      if (run?.durationMs !== undefined) metrics.count(queue, jobtype, METRICS.processed);
      if (outcome.kind === 'failed') metrics.count(queue, jobtype, METRICS.failed);
      else succeeded.set(queue, (succeeded.get(queue) ?? 0) + 1);
      if (outcome.kind === 'failed' && outcome.retried !== undefined) {
        metrics.count(queue, jobtype, METRICS.retried);
        retried.set(queue, (retried.get(queue) ?? 0) + 1);
      }
    }
    const cohort = job === undefined ? undefined : cohortOf(job);
    if (cohort === undefined || job === undefined) continue;
    if (run !== undefined && job.failure === undefined && limitedCount(job) === 0 && job.custom?.slice === undefined) stats.recordCohort(cohort, { kind: 'started', latencyMs: run.waitedMs }, atMs);
    if (outcome.kind === 'succeeded') stats.recordCohort(cohort, { kind: 'done' }, atMs);
    if (outcome.kind === 'failed' && outcome.retried !== undefined) stats.recordCohort(cohort, { kind: 'failed' }, atMs);
  }
  for (const queue of new Set([...succeeded.keys(), ...retried.keys(), ...waits.keys()])) {
    const lag = waits.get(queue);
    const tierLags = tierWaits?.get(queue);
    const failed = retried.get(queue) ?? 0;
    stats.record({
      writer: { kind: 'worker', queue }, processed: (succeeded.get(queue) ?? 0) + failed, failed, atMs,
      ...(lag === undefined ? {} : { lag }), ...(tierLags === undefined ? {} : { tierLags }),
    });
  }
  stats.countJobs(records.length);
  metrics.flush(atMs);
}
