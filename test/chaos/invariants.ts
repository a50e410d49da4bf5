/**
 * The invariant checker of the chaos suite: accounts for every job a run enqueued and every batch
 * callback it expected, from what the worker recorded (the sink), the dead set and the scheduled and
 * retry sets. Pure: the run collects the inputs, this module judges them.
 *
 * - Every jid is *succeeded* (the sink has a run of it), *dead* (the dead set has it, with a
 *   reason), or *waiting* (still in the scheduled or retry set) — otherwise it is *lost*.
 * - A job planned to succeed that is dead, or planned to die that succeeded, is *misplaced*.
 * - Runs of a job beyond the first are counted as duplicates (at-least-once allows them).
 * - Each batch callback expected fired exactly once (its callback job ran once); one that ran
 *   twice is *doubled*, one that never ran is *missing*, one that was not expected is *unexpected*.
 * - Each batch's counters, as its item holds them at the end, count its jobs exactly once: every
 *   job added, none pending, the dead ones as failures and dead, the others as succeeded; a batch
 *   whose counters differ is *miscounted*.
 */
import type { EntryReason } from '../../lib/storage/set-items.js';

/** What a planned job should end as. */
export type Expected = 'succeeded' | 'dead';

/** One job the run enqueued. */
export interface PlannedJob {
  readonly jid: string;
  /** What the run enqueued it as (plain, scheduled, batch, unique, limited, …), for the report. */
  readonly kind: string;
  readonly expected: Expected;
}

/** One batch the run created, its jobs, and the callback events it must fire. */
export interface PlannedBatch {
  readonly bid: string;
  readonly events: readonly string[];
  readonly jobs: readonly { readonly jid: string }[];
}

/** A batch's counters as its item holds them. */
export interface BatchCounts {
  readonly total: number;
  readonly pending: number;
  readonly succeeded: number;
  readonly failures: number;
  readonly dead: number;
}

/** One line of the worker's sink: a job run, or a batch callback run. */
export type SinkLine =
  | { readonly jid: string; readonly attempt: number; readonly step: string }
  | { readonly jid: string; readonly callback: { readonly bid: unknown; readonly event: unknown } | null };

/** What the run found at the end. */
export interface Observed {
  readonly sink: readonly SinkLine[];
  readonly dead: readonly { readonly jid: string; readonly reason?: EntryReason }[];
  /** Jids in the scheduled and retry sets. */
  readonly waiting: readonly string[];
  /** Each batch's counters at the end, by bid (a batch missing here is miscounted). */
  readonly batchCounts: ReadonlyMap<string, BatchCounts>;
}

/** The checker's verdict. */
export interface InvariantReport {
  readonly jobs: number;
  readonly jobsByKind: Readonly<Record<string, number>>;
  readonly succeeded: number;
  readonly dead: number;
  readonly waiting: number;
  /** Jids found nowhere. */
  readonly lost: readonly string[];
  /** Dead entries without a reason (errtype and message). */
  readonly deadWithoutReason: readonly string[];
  readonly deadByReason: Readonly<Record<string, number>>;
  /** Jobs whose end differs from their plan. */
  readonly misplaced: readonly { readonly jid: string; readonly expected: Expected; readonly found: string }[];
  /** Runs beyond the first, summed over jobs. */
  readonly duplicateRuns: number;
  readonly callbacks: {
    readonly expected: number;
    readonly fired: number;
    readonly doubled: readonly string[];
    readonly missing: readonly string[];
    readonly unexpected: readonly string[];
  };
  /** Batches whose counters do not count their jobs exactly once. */
  readonly miscounted: readonly { readonly bid: string; readonly expected: BatchCounts; readonly found: BatchCounts | null }[];
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Judges a run; see the module comment. */
export function checkInvariants(jobs: readonly PlannedJob[], batches: readonly PlannedBatch[], observed: Observed): InvariantReport {
  const runs = new Map<string, number>();
  const callbackRuns = new Map<string, number>();
  for (const line of observed.sink) {
    if ('callback' in line) {
      const name = line.callback === null ? `${line.jid} (no status)` : `${String(line.callback.bid)}:${String(line.callback.event)}`;
      callbackRuns.set(name, (callbackRuns.get(name) ?? 0) + 1);
    } else runs.set(line.jid, (runs.get(line.jid) ?? 0) + 1);
  }
  const deadByJid = new Map(observed.dead.map((entry) => [entry.jid, entry]));
  const waiting = new Set(observed.waiting);

  const lost: string[] = [];
  const misplaced: { jid: string; expected: Expected; found: string }[] = [];
  let succeeded = 0;
  let dead = 0;
  let waitingCount = 0;
  let duplicateRuns = 0;
  for (const job of jobs) {
    const ran = runs.get(job.jid) ?? 0;
    duplicateRuns += Math.max(0, ran - 1);
    const isDead = deadByJid.has(job.jid);
    const found = ran > 0 ? 'succeeded' : isDead ? 'dead' : waiting.has(job.jid) ? 'waiting' : undefined;
    if (found === undefined) {
      lost.push(job.jid);
      continue;
    }
    if (found === 'succeeded') succeeded += 1;
    else if (found === 'dead') dead += 1;
    else waitingCount += 1;
    if (found !== 'waiting' && found !== job.expected) misplaced.push({ jid: job.jid, expected: job.expected, found });
  }

  const planned = new Set(jobs.map((job) => job.jid));
  const ours = observed.dead.filter((entry) => planned.has(entry.jid));
  const expectedCallbacks = new Set(batches.flatMap((batch) => batch.events.map((event) => `${batch.bid}:${event}`)));
  const miscounted = batches.flatMap((batch) => {
    const deadJobs = batch.jobs.filter((job) => deadByJid.has(job.jid)).length;
    const expected: BatchCounts = { total: batch.jobs.length, pending: 0, succeeded: batch.jobs.length - deadJobs, failures: deadJobs, dead: deadJobs };
    const found = observed.batchCounts.get(batch.bid);
    const same = found !== undefined && (Object.keys(expected) as (keyof BatchCounts)[]).every((counter) => found[counter] === expected[counter]);
    return same ? [] : [{ bid: batch.bid, expected, found: found ?? null }];
  });
  return {
    jobs: jobs.length,
    jobsByKind: countBy(jobs, (job) => job.kind),
    succeeded,
    dead,
    waiting: waitingCount,
    lost,
    deadWithoutReason: ours.filter((entry) => !entry.reason?.errtype || !entry.reason.message).map((entry) => entry.jid),
    deadByReason: countBy(ours, (entry) => entry.reason?.errtype ?? 'none'),
    misplaced,
    duplicateRuns,
    callbacks: {
      expected: expectedCallbacks.size,
      fired: [...callbackRuns.keys()].filter((name) => expectedCallbacks.has(name)).length,
      doubled: [...callbackRuns].filter(([, count]) => count > 1).map(([name]) => name),
      missing: [...expectedCallbacks].filter((name) => !callbackRuns.has(name)),
      unexpected: [...callbackRuns.keys()].filter((name) => !expectedCallbacks.has(name)),
    },
    miscounted,
  };
}
