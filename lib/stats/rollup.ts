/**
 * Stats rollups, pure: counts kept in a function instance and written as one `UpdateItem ADD` per
 * flush, so that plain jobs cost at most 0.001 DynamoDB writes each under load (docs/decisions.md, "Stats are
 * rolled up per instance").
 *
 * Item of one hour and one writer (key in lib/storage/keys.ts, `statsHourKey`):
 * | attribute | type | meaning                                                          |
 * |-----------|------|------------------------------------------------------------------|
 * | `p`, `f`  | N    | jobs processed (succeeded or failed) and failed in the hour      |
 * | `p<mm>`, `f<mm>` | N | the same for minute `mm` of the hour (only minutes with counts) |
 * | `lag`     | N    | workers: ms the most recently started job had waited since it became due |
 * | `lag_at`  | N    | workers: epoch ms when that job started                           |
 * | `tlag.<tier>` | L | workers of a queue with priority tiers: `[lag, lag_at]` of the tier's most recently started job |
 * | `ttl`     | N    | epoch s; the item expires {@link STATS_ROLLUP}.ttlDays after its hour |
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { statsHourKey, type ItemKey, type StatsWriter } from '../storage/keys.js';

/** When an instance writes its counts, and how long hourly items live. */
export const STATS_ROLLUP = {
  /**
   * Jobs per write an instance may spend over its life (rollups and cohorts together): ≤ 0.001
   * writes per job under load, so neither a plain job's bill nor a worker invocation's time notices
   * them (bench/: cost per million jobs, overhead against a bare handler). History still lags at
   * most `flushMaxAgeMs`.
   */
  flushMinJobs: 1_000,
  /**
   * Age of the oldest unwritten count before a flush is due (at the end of the instance's next
   * invocation), so history lags at most this much, and an instance that is reclaimed takes at most
   * this much of its counts with it. Under load this is what paces the writes: a few a minute.
   */
  flushMaxAgeMs: 10_000,
  /** Days an hourly item is kept (totals are folded from it long before). */
  ttlDays: 90,
} as const;

/** Attribute names of rollup items. */
export const STATS_ATTRIBUTES = {
  processed: 'p',
  failed: 'f',
  lag: 'lag',
  lagAt: 'lag_at',
  /** Prefix of a tier's `[lag, lag_at]`: `tlag.<tier>`. */
  tierLagPrefix: 'tlag.',
  ttl: 'ttl',
} as const;

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** What one invocation saw. */
export interface StatsSample {
  readonly writer: StatsWriter;
  /** Jobs that ran to an end (success or failure). */
  readonly processed: number;
  readonly failed: number;
  /** Epoch ms the counts belong to. */
  readonly atMs: number;
  /** Workers: how long the most recently started job had waited, and when it started. */
  readonly lag?: { readonly ms: number; readonly atMs: number };
  /** Workers of a queue with tiers: the same, per tier (written on the same item: no request more). */
  readonly tierLags?: ReadonlyMap<string, { readonly ms: number; readonly atMs: number }>;
}

/** Counts not yet written, for one hourly item. */
export interface PendingRollup {
  readonly key: ItemKey;
  readonly hourMs: number;
  /** Minute of the hour (0–59) → counts. */
  readonly minutes: ReadonlyMap<number, { readonly processed: number; readonly failed: number }>;
  readonly lag?: { readonly ms: number; readonly atMs: number };
  /** Tier → the latest wait of its jobs. */
  readonly tierLags?: ReadonlyMap<string, { readonly ms: number; readonly atMs: number }>;
  /** When the oldest count in it was recorded. */
  readonly sinceMs: number;
}

interface MutablePending {
  key: ItemKey;
  hourMs: number;
  minutes: Map<number, { processed: number; failed: number }>;
  lag?: { ms: number; atMs: number };
  tierLags?: Map<string, { ms: number; atMs: number }>;
  sinceMs: number;
}

/**
 * Counts of one function instance, grouped by the hourly item they belong to; each flush takes one
 * item's counts (when a flush is due is the recorder's decision, recorder.ts).
 */
export class StatsAccumulator {
  private readonly pending = new Map<string, MutablePending>();

  /** Adds one invocation's counts. */
  add(sample: StatsSample): void {
    if (sample.processed === 0 && sample.failed === 0 && sample.lag === undefined && (sample.tierLags?.size ?? 0) === 0) return;
    const hourMs = Math.floor(sample.atMs / HOUR_MS) * HOUR_MS;
    const key = statsHourKey(hourMs, sample.writer);
    const id = `${key.pk}|${key.sk}`;
    const entry: MutablePending = this.pending.get(id) ?? { key, hourMs, minutes: new Map(), sinceMs: sample.atMs };
    const minute = Math.floor((sample.atMs - hourMs) / MINUTE_MS);
    const counts = entry.minutes.get(minute) ?? { processed: 0, failed: 0 };
    counts.processed += sample.processed;
    counts.failed += sample.failed;
    if (counts.processed > 0 || counts.failed > 0) entry.minutes.set(minute, counts);
    if (sample.lag !== undefined && (entry.lag === undefined || sample.lag.atMs >= entry.lag.atMs)) entry.lag = { ...sample.lag };
    for (const [tier, lag] of sample.tierLags ?? []) {
      entry.tierLags ??= new Map();
      const known = entry.tierLags.get(tier);
      if (known === undefined || lag.atMs >= known.atMs) entry.tierLags.set(tier, { ...lag });
    }
    entry.sinceMs = Math.min(entry.sinceMs, sample.atMs);
    this.pending.set(id, entry);
  }

  /** When the oldest unwritten count was recorded; undefined when nothing is pending. */
  get oldestMs(): number | undefined {
    let oldest: number | undefined;
    for (const entry of this.pending.values()) oldest = Math.min(oldest ?? entry.sinceMs, entry.sinceMs);
    return oldest;
  }

  /** Hourly items with unwritten counts. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Removes and returns the item to write: the one with the most jobs, or, when none has enough,
   * the oldest (so a trickle still reaches the table within a minute).
   */
  take(): PendingRollup | undefined {
    let chosen: [string, MutablePending] | undefined;
    for (const candidate of this.pending) {
      if (chosen === undefined || jobsOf(candidate[1]) > jobsOf(chosen[1]) || (jobsOf(candidate[1]) === jobsOf(chosen[1]) && candidate[1].sinceMs < chosen[1].sinceMs)) {
        chosen = candidate;
      }
    }
    if (chosen === undefined) return undefined;
    this.pending.delete(chosen[0]);
    return chosen[1];
  }

  /** Puts back counts whose write failed, so the next flush carries them. */
  restore(rollup: PendingRollup): void {
    for (const [minute, counts] of rollup.minutes) {
      this.add({ writer: writerOf(rollup.key), processed: counts.processed, failed: counts.failed, atMs: rollup.hourMs + minute * MINUTE_MS });
    }
    const id = `${rollup.key.pk}|${rollup.key.sk}`;
    const entry = this.pending.get(id);
    if (entry !== undefined && rollup.lag !== undefined && (entry.lag === undefined || rollup.lag.atMs > entry.lag.atMs)) entry.lag = { ...rollup.lag };
    if (rollup.tierLags !== undefined) this.add({ writer: writerOf(rollup.key), processed: 0, failed: 0, atMs: rollup.sinceMs, tierLags: rollup.tierLags });
  }
}

function jobsOf(entry: MutablePending): number {
  let jobs = 0;
  for (const counts of entry.minutes.values()) jobs += counts.processed;
  return jobs;
}

function writerOf(key: ItemKey): StatsWriter {
  const parts = key.sk.split('#');
  return parts[1] === 'w' && parts[2] !== undefined ? { kind: 'worker', queue: parts[2] } : { kind: 'retry' };
}

/** The `UpdateItem` of one rollup: ADD to the hour's and minutes' counts, SET the lag and TTL. */
export function rollupUpdate(rollup: PendingRollup): {
  Key: Record<string, AttributeValue>;
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, AttributeValue>;
} {
  const names: Record<string, string> = { '#ttl': STATS_ATTRIBUTES.ttl };
  const values: Record<string, AttributeValue> = { ':ttl': { N: String(Math.floor(rollup.hourMs / 1000) + STATS_ROLLUP.ttlDays * 86_400) } };
  const adds: string[] = [];
  let processed = 0;
  let failed = 0;
  for (const [minute, counts] of [...rollup.minutes].sort(([a], [b]) => a - b)) {
    const mm = String(minute).padStart(2, '0');
    processed += counts.processed;
    failed += counts.failed;
    if (counts.processed > 0) {
      names[`#p${mm}`] = `${STATS_ATTRIBUTES.processed}${mm}`;
      values[`:p${mm}`] = { N: String(counts.processed) };
      adds.push(`#p${mm} :p${mm}`);
    }
    if (counts.failed > 0) {
      names[`#f${mm}`] = `${STATS_ATTRIBUTES.failed}${mm}`;
      values[`:f${mm}`] = { N: String(counts.failed) };
      adds.push(`#f${mm} :f${mm}`);
    }
  }
  if (processed > 0) {
    names['#p'] = STATS_ATTRIBUTES.processed;
    values[':p'] = { N: String(processed) };
    adds.unshift('#p :p');
  }
  if (failed > 0) {
    names['#f'] = STATS_ATTRIBUTES.failed;
    values[':f'] = { N: String(failed) };
    adds.splice(processed > 0 ? 1 : 0, 0, '#f :f');
  }
  const sets = ['#ttl = :ttl'];
  if (rollup.lag !== undefined) {
    names['#lag'] = STATS_ATTRIBUTES.lag;
    names['#lagAt'] = STATS_ATTRIBUTES.lagAt;
    values[':lag'] = { N: String(Math.max(0, Math.round(rollup.lag.ms))) };
    values[':lagAt'] = { N: String(Math.round(rollup.lag.atMs)) };
    sets.push('#lag = :lag', '#lagAt = :lagAt');
  }
  [...(rollup.tierLags ?? [])].forEach(([tier, lag], index) => {
    names[`#tl${index}`] = `${STATS_ATTRIBUTES.tierLagPrefix}${tier}`;
    values[`:tl${index}`] = { L: [{ N: String(Math.max(0, Math.round(lag.ms))) }, { N: String(Math.round(lag.atMs)) }] };
    sets.push(`#tl${index} = :tl${index}`);
  });
  return {
    Key: { pk: { S: rollup.key.pk }, sk: { S: rollup.key.sk } },
    UpdateExpression: `SET ${sets.join(', ')}${adds.length === 0 ? '' : ` ADD ${adds.join(', ')}`}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
