/**
 * One sweep of the scheduled and retry sets: every entry due before now + lookahead goes to its
 * queue with the delay that lands it at its due time, earliest first, a batch at a time, until
 * nothing is due or the time budget is spent (the next sweep continues where this one stopped).
 */
import type { SortedSetName } from '../storage/keys.js';
import type { SetEntry } from '../storage/set-items.js';
import type { StateTable } from '../storage/state-table.js';
import { moveEntries, type MoveOutcome, type MoverDeps } from './move.js';
import { INVALID_JOBTYPE, METRICS, type MetricsBatch } from '../observability/emf.js';

/** Defaults of a sweep. */
export const SWEEP_DEFAULTS = {
  /**
   * How far ahead a sweep looks, in seconds. EventBridge Scheduler fires a `rate(1 minute)`
   * schedule anywhere within each minute, so two sweeps can be almost two minutes apart; looking
   * 150 seconds ahead covers that gap and the invocation's own latency.
   */
  lookaheadSeconds: 150,
  /** Entries claimed, sent and deleted together. */
  batchSize: 100,
  /** Time kept in reserve: no batch starts with less than this left. */
  deadlineMarginMs: 5_000,
  /** How long a claim lasts beyond the sweep's own deadline, for a sweep that dies mid-batch. */
  claimGraceMs: 30_000,
  /** Claim length when the sweep has no deadline (tests, local runs). */
  claimWithoutDeadlineMs: 120_000,
} as const;

/** The sets a sweep moves from. */
export const SWEPT_SETS: readonly SortedSetName[] = ['scheduled', 'retry'];

/** Counts of one sweep. */
export interface SweepResult {
  /** Due entries seen (claimed by others included). */
  readonly due: number;
  readonly moved: number;
  readonly dead: number;
  /** Held by another mover (an overlapping sweep). */
  readonly busy: number;
  /** Moved or deleted by someone else between the read and the claim. */
  readonly gone: number;
  /** Left in their set after an error; the next sweep retries them. */
  readonly failed: number;
  /** Moved, but their entry could not be deleted (they may run twice). */
  readonly lingering: number;
  /** True when the sweep stopped for time (or `maxEntries`) with due entries possibly left. */
  readonly stopped: boolean;
}

/** One sweep's parameters. */
export interface SweepOptions {
  /** Identifies this sweep in claims (the Lambda request id). */
  readonly owner: string;
  /** Milliseconds left before the sweep must have returned. @default - no deadline */
  readonly remainingTimeMs?: () => number;
  /** @default 150 */
  readonly lookaheadSeconds?: number;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 5000 */
  readonly deadlineMarginMs?: number;
  /** Stop after this many due entries (benchmarks, tests). @default - no limit */
  readonly maxEntries?: number;
}

/** What a sweep needs: a mover's dependencies and a table it can stream from. */
export interface SweepDeps extends MoverDeps {
  readonly table: MoverDeps['table'] & Pick<StateTable, 'streamSetRange'>;
  /** Counts the jobs moved onto queues (`Enqueued`) and into the dead set (`Dead`). @default - not counted */
  readonly metrics?: MetricsBatch;
}

/**
 * Sweeps once. Entries whose claim another mover holds are counted as busy and left alone; the
 * read horizon is fixed at the start, the delay of each job is computed when it is sent.
 */
export async function sweep(deps: SweepDeps, options: SweepOptions): Promise<SweepResult> {
  const lookaheadMs = (options.lookaheadSeconds ?? SWEEP_DEFAULTS.lookaheadSeconds) * 1000;
  const batchSize = options.batchSize ?? SWEEP_DEFAULTS.batchSize;
  const margin = options.deadlineMarginMs ?? SWEEP_DEFAULTS.deadlineMarginMs;
  const remaining = options.remainingTimeMs ?? (() => Number.POSITIVE_INFINITY);
  const startMs = deps.clock().getTime();
  const leftAtStart = remaining();
  const claimUntilMs = startMs + (Number.isFinite(leftAtStart) ? leftAtStart + SWEEP_DEFAULTS.claimGraceMs : SWEEP_DEFAULTS.claimWithoutDeadlineMs);
  const counts = { due: 0, moved: 0, dead: 0, busy: 0, gone: 0, failed: 0, lingering: 0 };
  const outOfTime = (): boolean => remaining() < margin;

  let stopped = false;
  let batch: SetEntry[] = [];
  const flush = async (): Promise<void> => {
    const outcomes = await moveEntries(batch, deps, { owner: options.owner, claimUntilMs, via: 'scheduler' });
    for (const [index, outcome] of outcomes.entries()) {
      count(counts, outcome);
      const entry = batch[index];
      if (deps.metrics === undefined || entry === undefined || (outcome.kind !== 'moved' && outcome.kind !== 'dead')) continue;
      deps.metrics.count(entry.queue ?? 'unknown', entry.jobtype ?? INVALID_JOBTYPE, outcome.kind === 'moved' ? METRICS.enqueued : METRICS.dead);
    }
    batch = [];
  };

  // Page size matches the batch: a full batch reads about one page per shard that has due entries.
  for await (const entry of deps.table.streamSetRange(SWEPT_SETS, { untilMs: startMs + lookaheadMs, pageSize: Math.min(1000, batchSize) })) {
    if (outOfTime() || (options.maxEntries !== undefined && counts.due >= options.maxEntries)) {
      stopped = true;
      break;
    }
    counts.due += 1;
    if (entry.claimedUntilMs !== undefined && entry.claimedUntilMs >= deps.clock().getTime()) {
      counts.busy += 1;
      continue;
    }
    batch.push(entry);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return { ...counts, stopped };
}

function count(counts: { moved: number; dead: number; busy: number; gone: number; failed: number; lingering: number }, outcome: MoveOutcome): void {
  counts[outcome.kind] += 1;
  if ((outcome.kind === 'moved' || outcome.kind === 'dead') && outcome.lingering) counts.lingering += 1;
}
