/**
 * What workers are running now, for the Busy page (`GET /v1/busy`), pure.
 *
 * A worker instance keeps a board of the jobs it runs (no I/O). Only jobs that have run longer than
 * {@link BUSY}.reportAfterMs are written: while one runs, its instance writes one item per queue
 * (key `busy` / `<queue>#<instance>`, lib/storage/keys.ts) at most every {@link BUSY}.reportEveryMs,
 * and deletes it when none is left. A job shorter than that is never written: it shows only in its
 * queue's in-flight count, which SQS keeps. So the report costs nothing for short jobs, and at most
 * one write per instance per ten seconds, the stats flush's own pace, while long ones run
 * (docs/decisions.md, "Busy jobs are reported by the instances that run them").
 *
 * Item of one instance and one queue:
 * | attribute | type | meaning                                                       |
 * |-----------|------|---------------------------------------------------------------|
 * | `at`      | N    | epoch ms of the report                                        |
 * | `j`       | L    | the longest-running jobs, at most {@link BUSY}.maxJobs, each a map: `i` jid, `t` jobtype, `s` started (epoch ms), `a` attempt, `p` percent, `m` progress message |
 * | `n`       | N    | jobs running longer than the threshold, listed or not          |
 * | `ttl`     | N    | epoch s; a report its instance could not clear (a crash, a timeout) expires |
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { busyKey } from '../storage/keys.js';
import type { ItemUpdate } from './cohort.js';

/** When busy jobs are reported and how a reader treats the reports. */
export const BUSY = {
  /** A job is reported once it has run this long; shorter ones show only in their queue's in-flight count. */
  reportAfterMs: 10_000,
  /** While a reported job runs, its instance writes its report again this often. */
  reportEveryMs: 10_000,
  /** How often a running invocation checks whether a report is due (no I/O unless one is). */
  checkEveryMs: 1_000,
  /**
   * A report older than this is left out: its instance stopped without clearing it (killed at a
   * timeout or a crash), since a live one rewrites it every {@link BUSY}.reportEveryMs.
   */
  staleAfterMs: 35_000,
  /** Jobs listed per report, longest-running first (the rest are counted): keeps a write under 2 KB. */
  maxJobs: 10,
  /** Characters of a progress message kept in a report. */
  maxMessage: 80,
  /** Seconds a report lives past its write: longer than any invocation (15 minutes). */
  ttlSeconds: 16 * 60,
} as const;

/** A job an instance runs. */
export interface RunningJob {
  readonly jid: string;
  readonly jobtype: string;
  readonly queue: string;
  /** Epoch ms its handler started. */
  readonly startedMs: number;
  /** 1 for a first run, 2 after one failure, … */
  readonly attempt: number;
  /** The last `ctx.progress` of the run, if it reported any. */
  readonly progress?: { readonly percent: number; readonly message?: string };
}

/** A running job's handle: its progress, and its end. */
export interface BusyEntry {
  progress(percent: number, message?: string): void;
  end(): void;
}

/** The jobs one instance runs (no I/O). */
export class BusyBoard {
  private readonly running = new Map<number, RunningJob>();
  private next = 0;

  /** Notes that `job` started; `end()` the handle when it stops, whatever the outcome. */
  begin(job: Omit<RunningJob, 'progress'>): BusyEntry {
    const id = this.next;
    this.next += 1;
    this.running.set(id, job);
    return new BusyHandle(this.running, id);
  }

  /** Jobs running for at least {@link BUSY}.reportAfterMs at `nowMs`, per queue, longest first. */
  longRunning(nowMs: number): Map<string, RunningJob[]> {
    const byQueue = new Map<string, RunningJob[]>();
    for (const job of this.running.values()) {
      if (nowMs - job.startedMs < BUSY.reportAfterMs) continue;
      byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    }
    for (const jobs of byQueue.values()) jobs.sort((a, b) => a.startedMs - b.startedMs);
    return byQueue;
  }

  /** How many jobs run now. */
  get size(): number {
    return this.running.size;
  }
}

/**
 * The writes an instance's reports need at `nowMs`: a report per queue with long-running jobs whose
 * last one is {@link BUSY}.reportEveryMs old (or was never written), and a clearing write per queue
 * reported before and now without any. `reported` (queue → ms of the last report) is what was written.
 */
export function dueReports(long: ReadonlyMap<string, readonly RunningJob[]>, reported: ReadonlyMap<string, number>, nowMs: number): { queue: string; jobs: readonly RunningJob[] }[] {
  const due: { queue: string; jobs: readonly RunningJob[] }[] = [];
  for (const [queue, jobs] of long) {
    const last = reported.get(queue);
    if (last === undefined || nowMs - last >= BUSY.reportEveryMs) due.push({ queue, jobs });
  }
  for (const queue of reported.keys()) if (!long.has(queue)) due.push({ queue, jobs: [] });
  return due;
}

/** The `UpdateItem` writing `instance`'s report about `queue`. */
export function busyUpdate(queue: string, instance: string, jobs: readonly RunningJob[], nowMs: number): ItemUpdate {
  const key = busyKey(queue, instance);
  const listed = jobs.slice(0, BUSY.maxJobs).map((job): AttributeValue => ({
    M: {
      i: { S: job.jid },
      t: { S: job.jobtype },
      s: { N: String(Math.round(job.startedMs)) },
      a: { N: String(job.attempt) },
      ...(job.progress === undefined ? {} : { p: { N: String(job.progress.percent) } }),
      ...(job.progress?.message === undefined ? {} : { m: { S: job.progress.message } }),
    },
  }));
  return {
    Key: { pk: { S: key.pk }, sk: { S: key.sk } },
    UpdateExpression: 'SET #at = :at, #j = :j, #n = :n, #ttl = :ttl',
    ExpressionAttributeNames: { '#at': 'at', '#j': 'j', '#n': 'n', '#ttl': 'ttl' },
    ExpressionAttributeValues: {
      ':at': { N: String(Math.round(nowMs)) },
      ':j': { L: listed },
      ':n': { N: String(jobs.length) },
      ':ttl': { N: String(Math.floor(nowMs / 1000) + BUSY.ttlSeconds) },
    },
  };
}

/** A reported job, as `GET /v1/busy` lists it. */
export interface BusyJobView {
  readonly queue: string;
  readonly jid: string;
  readonly jobtype: string;
  /** ISO-8601. */
  readonly started_at: string;
  /** Milliseconds it had run at the time of the answer. */
  readonly elapsed_ms: number;
  readonly attempt: number;
  /** The function instance running it (its CloudWatch Logs log stream). */
  readonly instance: string;
  /** ISO-8601: when its instance last reported it. */
  readonly reported_at: string;
  readonly progress?: { readonly percent: number; readonly message?: string };
}

/** What the reports of the busy partition say at `nowMs`. */
export interface BusyReports {
  /** Long-running jobs, longest first. */
  readonly jobs: readonly BusyJobView[];
  /** Per queue: jobs running longer than the threshold, listed or not. */
  readonly running: Readonly<Record<string, number>>;
  /** Reports left out as stale (their instance stopped without clearing them). */
  readonly stale: number;
}

/** Reads the items of the busy partition (sort key `<queue>#<instance>`). */
export function readBusyReports(items: readonly Record<string, AttributeValue>[], nowMs: number): BusyReports {
  const jobs: BusyJobView[] = [];
  const running: Record<string, number> = {};
  let stale = 0;
  for (const item of items) {
    const sk = item.sk?.S ?? '';
    const split = sk.indexOf('#');
    const at = Number(item.at?.N);
    if (split <= 0 || !Number.isFinite(at)) continue;
    const count = Number(item.n?.N ?? '0');
    if (count === 0) continue;
    if (nowMs - at > BUSY.staleAfterMs) {
      stale += 1;
      continue;
    }
    const queue = sk.slice(0, split);
    const instance = sk.slice(split + 1);
    running[queue] = (running[queue] ?? 0) + count;
    for (const entry of item.j?.L ?? []) {
      const job = entry.M;
      const startedMs = Number(job?.s?.N);
      if (job === undefined || job.i?.S === undefined || !Number.isFinite(startedMs)) continue;
      const percent = job.p?.N === undefined ? undefined : Number(job.p.N);
      jobs.push({
        queue,
        jid: job.i.S,
        jobtype: job.t?.S ?? '',
        started_at: new Date(startedMs).toISOString(),
        elapsed_ms: Math.max(0, nowMs - startedMs),
        attempt: Number(job.a?.N ?? '1'),
        instance,
        reported_at: new Date(at).toISOString(),
        ...(percent === undefined || !Number.isFinite(percent) ? {} : { progress: { percent, ...(job.m?.S === undefined ? {} : { message: job.m.S }) } }),
      });
    }
  }
  jobs.sort((a, b) => b.elapsed_ms - a.elapsed_ms || a.jid.localeCompare(b.jid));
  return { jobs, running, stale };
}

/** One running job's entry on a board: a small object rather than closures (one per job). */
class BusyHandle implements BusyEntry {
  constructor(
    private readonly running: Map<number, RunningJob>,
    private readonly id: number,
  ) {}

  progress(percent: number, message?: string): void {
    const current = this.running.get(this.id);
    // Whatever a handler passes, a report stays writable: DynamoDB refuses a number that is not one.
    if (current === undefined || typeof percent !== 'number' || !Number.isFinite(percent)) return;
    const kept = typeof message === 'string' ? { message: message.slice(0, BUSY.maxMessage) } : {};
    this.running.set(this.id, { ...current, progress: { percent: Math.min(100, Math.max(0, percent)), ...kept } });
  }

  end(): void {
    this.running.delete(this.id);
  }
}
