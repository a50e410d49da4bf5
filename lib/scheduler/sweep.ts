/**
 * One sweep of the scheduled and retry sets: every entry due before now + lookahead goes to its
 * queue with the delay that lands it at its due time. The shards are swept side by side, each
 * earliest first, a batch at a time, until nothing is due or the time budget is spent (the next
 * sweep continues where this one stopped).
 *
 * A sweep with helpers (other invocations, each with a CPU of its own) reads the first page of
 * every shard itself, and hands the rest of each shard that has more (a backlog) to the helpers,
 * the shards dealt between them; each entry is read by one of them only.
 */
import { SORTED_SETS, type SortedSetName } from '../storage/keys.js';
import type { SetEntry } from '../storage/set-items.js';
import type { StateTable } from '../storage/state-table.js';
import { mapSettled } from '../common/concurrency.js';
import { moveDue, type DueMoverDeps, type MoveOutcome } from './move.js';
import { INVALID_JOBTYPE, METRICS, type MetricsBatch } from '../observability/emf.js';

/** Defaults of a sweep. */
export const SWEEP_DEFAULTS = {
  /**
   * How far ahead a sweep looks, in seconds. EventBridge Scheduler fires a `rate(1 minute)`
   * schedule anywhere within each minute, so two sweeps can be almost two minutes apart; looking
   * 150 seconds ahead covers that gap and the invocation's own latency.
   */
  lookaheadSeconds: 150,
  /** Entries sent and deleted together, per shard. */
  batchSize: 100,
  /** Shards swept at once (each has at most one query, or one batch's sends and deletes, in flight). */
  lanes: 8,
  /** Time kept in reserve: no batch starts with less than this left. */
  deadlineMarginMs: 5_000,
} as const;

/** The counts of a {@link SweepResult}. */
export const SWEEP_COUNTS = ['due', 'moved', 'dead', 'busy', 'failed', 'lingering', 'unread'] as const;

/** The sets a sweep moves from. */
export const SWEPT_SETS: readonly SortedSetName[] = ['scheduled', 'retry'];

/** One shard to sweep, from after `after` (a sort key) when given. */
export interface ShardRange {
  readonly set: SortedSetName;
  readonly shard: number;
  readonly after?: string;
}

/** What a helper is asked to sweep. */
export interface HelperRequest {
  readonly shards: readonly ShardRange[];
  /** The sweep's horizon: entries due before it, epoch ms. */
  readonly untilMs: number;
  /** When the sweep that asks must have returned, epoch ms: the helper stops starting batches its margin before. */
  readonly deadlineMs: number;
}

/** Sweeps in other invocations. */
export interface SweepHelpers {
  /** Most helpers at once. */
  readonly max: number;
  /** Runs one helper and resolves to its counts. */
  invoke(request: HelperRequest): Promise<SweepResult>;
}

/** Counts of one sweep. */
export interface SweepResult {
  /** Due entries seen (held by an admin call included). */
  readonly due: number;
  readonly moved: number;
  readonly dead: number;
  /** Held by an admin call ("run now", "retry") that is moving them. */
  readonly busy: number;
  /** Left in their set after an error; the next sweep retries them. */
  readonly failed: number;
  /** Moved, but their entry could not be deleted (the next sweep sends them again). */
  readonly lingering: number;
  /** Shards whose read failed; their entries wait for the next sweep. */
  readonly unread: number;
  /** True when the sweep stopped for time (or `maxEntries`) with due entries possibly left. */
  readonly stopped: boolean;
}

/** One sweep's parameters. */
export interface SweepOptions {
  /** Milliseconds left before the sweep must have returned. @default - no deadline */
  readonly remainingTimeMs?: () => number;
  /** @default 150 */
  readonly lookaheadSeconds?: number;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 8 */
  readonly lanes?: number;
  /** @default 5000 */
  readonly deadlineMarginMs?: number;
  /** Stop after this many due entries (benchmarks, tests). @default - no limit */
  readonly maxEntries?: number;
  /** Sweep only these shards (a helper's share). @default - every shard of the swept sets */
  readonly shards?: readonly ShardRange[];
  /** The horizon, when the sweep is a helper of another. @default - now + lookahead */
  readonly untilMs?: number;
  /** Hand the backlog to helpers. @default - none: this sweep does it all */
  readonly helpers?: SweepHelpers;
}

/** What a sweep needs: a mover's dependencies and a table it can stream shards from. */
export interface SweepDeps extends DueMoverDeps {
  readonly table: DueMoverDeps['table'] & Pick<StateTable, 'streamShardRange' | 'readShardPage'>;
  /** Counts the jobs moved onto queues (`Enqueued`) and into the dead set (`Dead`). @default - not counted */
  readonly metrics?: MetricsBatch;
}

type Counts = { -readonly [K in Exclude<keyof SweepResult, 'stopped'>]: number };

/**
 * Sweeps once. Nothing else may sweep at the same time (the scheduler function's reserved
 * concurrency of 1 makes sure of it on AWS); entries an admin call holds are counted as busy and
 * left alone. The read horizon is fixed at the start, the delay of each job is computed when it is
 * sent.
 */
export async function sweep(deps: SweepDeps, options: SweepOptions = {}): Promise<SweepResult> {
  const lookaheadMs = (options.lookaheadSeconds ?? SWEEP_DEFAULTS.lookaheadSeconds) * 1000;
  const batchSize = options.batchSize ?? SWEEP_DEFAULTS.batchSize;
  const lanes = options.lanes ?? SWEEP_DEFAULTS.lanes;
  const margin = options.deadlineMarginMs ?? SWEEP_DEFAULTS.deadlineMarginMs;
  const remaining = options.remainingTimeMs ?? (() => Number.POSITIVE_INFINITY);
  const untilMs = options.untilMs ?? deps.clock().getTime() + lookaheadMs;
  const counts = Object.fromEntries(SWEEP_COUNTS.map((key) => [key, 0])) as Counts;
  let stopped = false;
  const mustStop = (): boolean => {
    if (remaining() < margin || (options.maxEntries !== undefined && counts.due >= options.maxEntries)) stopped = true;
    return stopped;
  };

  const flush = async (batch: readonly SetEntry[]): Promise<void> => {
    if (batch.length === 0) return;
    const outcomes = await moveDue(batch, deps);
    outcomes.forEach((outcome, index) => {
      count(counts, outcome);
      const entry = batch[index];
      if (deps.metrics === undefined || entry === undefined || (outcome.kind !== 'moved' && outcome.kind !== 'dead')) return;
      deps.metrics.count(entry.queue ?? 'unknown', entry.jobtype ?? INVALID_JOBTYPE, outcome.kind === 'moved' ? METRICS.enqueued : METRICS.dead);
    });
  };
  /** Counts a due entry; true when it is to be moved (false: an admin call holds it). */
  const admit = (entry: SetEntry): boolean => {
    counts.due += 1;
    const held = entry.claimedUntilMs !== undefined && entry.claimedUntilMs >= deps.clock().getTime();
    if (held) counts.busy += 1;
    return !held;
  };
  /** The entries of `entries` to move, until the sweep must stop. */
  const take = (entries: Iterable<SetEntry>): SetEntry[] => {
    const batch: SetEntry[] = [];
    for (const entry of entries) {
      if (mustStop()) break;
      if (admit(entry)) batch.push(entry);
    }
    return batch;
  };

  const sweepShard = async ({ set, shard, after }: ShardRange): Promise<void> => {
    let batch: SetEntry[] = [];
    // A page is a batch: one query, then its sends and its deletes, then the next page.
    for await (const entry of deps.table.streamShardRange(set, shard, { untilMs, pageSize: Math.min(1000, batchSize), ...(after === undefined ? {} : { after }) })) {
      if (mustStop()) break;
      if (!admit(entry)) continue;
      batch.push(entry);
      if (batch.length >= batchSize) {
        await flush(batch);
        batch = [];
      }
    }
    await flush(batch);
  };

  const unread = (shards: readonly ShardRange[], reason: unknown): void => {
    counts.unread += shards.length;
    const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
    for (const shard of shards) deps.logger.error('could not read a shard of due jobs; they wait for the next sweep', { set: shard.set, shard: shard.shard, reason: text });
  };
  /** Runs `work` on each shard, `lanes` at a time; a shard whose work failed is counted unread. */
  const eachShard = async (shards: readonly ShardRange[], work: (range: ShardRange) => Promise<void>): Promise<void> => {
    const results = await mapSettled(shards, lanes, work);
    results.forEach((result, index) => {
      const shard = shards[index];
      if (result.status === 'rejected' && shard !== undefined) unread([shard], result.reason);
    });
  };

  const shards: readonly ShardRange[] = options.shards ?? SWEPT_SETS.flatMap((set) => Array.from({ length: SORTED_SETS[set].shards }, (_, shard) => ({ set, shard })));
  const helpers = options.helpers;
  if (helpers === undefined || helpers.max < 1) {
    await eachShard(shards, sweepShard);
    return { ...counts, stopped };
  }

  // First pages here; whatever follows them (a backlog) goes to the helpers.
  const deep: ShardRange[] = [];
  await eachShard(shards, async (range) => {
    const page = await deps.table.readShardPage(range.set, range.shard, { untilMs, limit: Math.min(1000, batchSize), ...(range.after === undefined ? {} : { after: range.after }) });
    await flush(take(page.entries));
    if (page.cursor !== undefined && !stopped) deep.push({ set: range.set, shard: range.shard, after: page.cursor });
  });
  if (deep.length === 0 || stopped) return { ...counts, stopped };

  // The deep shards dealt round the helpers. This sweep keeps none: a helper has a CPU of its own
  // (a vCPU at 1,769 MB), which the sweep, small and running once a minute, does not.
  const shares: ShardRange[][] = Array.from({ length: Math.min(helpers.max, deep.length) }, () => []);
  deep.forEach((range, index) => shares[index % shares.length]?.push(range));
  // The helpers stop as this sweep does: their margin before the same end.
  const left = remaining();
  const deadlineMs = deps.clock().getTime() + (Number.isFinite(left) ? left : 15 * 60_000);
  const helped = await Promise.allSettled(shares.map((share) => helpers.invoke({ shards: share, untilMs, deadlineMs })));
  helped.forEach((result, index) => {
    const share = shares[index] ?? [];
    if (result.status === 'rejected') {
      unread(share, result.reason);
      return;
    }
    for (const key of SWEEP_COUNTS) counts[key] += result.value[key];
    if (result.value.stopped) stopped = true;
  });
  return { ...counts, stopped };
}

function count(counts: Counts, outcome: MoveOutcome): void {
  if (outcome.kind === 'gone') return;
  counts[outcome.kind] += 1;
  if ((outcome.kind === 'moved' || outcome.kind === 'dead') && outcome.lingering) counts.lingering += 1;
}
