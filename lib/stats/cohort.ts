/**
 * Cohorts: jobs grouped by the minute they were first enqueued (`enqueued_at` of their first
 * attempt; a retried job carries it as `failure.first_enqueued_at`). For each cohort Hopper counts
 * the jobs started, done, dead and the failed attempts, and keeps a histogram of the latency from
 * enqueue to first start, so an operator sees a slow cohort moving through the system.
 *
 * Item of one cohort (key in lib/storage/keys.ts, `cohortKey`), written with the stats rollups (one
 * `UpdateItem ADD` per cohort per flush, recorder.ts):
 * | attribute | type | meaning                                                            |
 * |-----------|------|--------------------------------------------------------------------|
 * | `s`       | N    | jobs whose first attempt started                                   |
 * | `d`       | N    | jobs that succeeded (on any attempt)                               |
 * | `x`       | N    | jobs moved to the dead set                                         |
 * | `f`       | N    | failed attempts (each failure the retry function moved)            |
 * | `h<i>`    | N    | first starts whose latency fell in bucket `i` ({@link LATENCY_BUCKETS}) |
 * | `mx`      | N    | the largest latency seen, ms (exact)                               |
 * | `ttl`     | N    | epoch s; the item expires {@link COHORTS}.ttlDays after its minute  |
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { cohortKey } from '../storage/keys.js';
import type { Job } from '../job/model.js';

/** Bounds of the cohort API and the lifetime of cohort items. */
export const COHORTS = {
  /** Days a cohort item is kept. */
  ttlDays: 2,
  /** Minutes `GET /v1/stats/cohorts` shows unless asked. */
  defaultMinutes: 60,
  /** Most minutes it shows (a day). */
  maxMinutes: 1440,
} as const;

/** Attribute names of cohort items. */
export const COHORT_ATTRIBUTES = {
  started: 's',
  done: 'd',
  dead: 'x',
  failed: 'f',
  bucket: 'h',
  max: 'mx',
  ttl: 'ttl',
} as const;

const MINUTE_MS = 60_000;

/**
 * Upper bounds (ms, inclusive) of the latency buckets: 10 ms × √2^i for i = 0…47, from 10 ms to
 * about 33 hours; bucket 48 holds everything slower. Each bucket is √2 wider than the one before,
 * so a percentile read from it is off by at most that factor, whatever the scale.
 */
export const LATENCY_BUCKETS: readonly number[] = Array.from({ length: 48 }, (_, i) => Math.round(10 * 2 ** (i / 2)));

/** The bucket of a latency of `ms`. */
export function bucketOf(ms: number): number {
  // The first bound at or above `ms` (the bounds ascend), by halving: once per started job.
  let low = 0;
  let high = LATENCY_BUCKETS.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ms <= (LATENCY_BUCKETS[middle] ?? Number.POSITIVE_INFINITY)) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The epoch ms of the minute `job` belongs to, or undefined when it carries no enqueue time. */
export function cohortOf(job: Job): number | undefined {
  const enqueued = job.failure?.first_enqueued_at ?? job.enqueued_at;
  if (enqueued === undefined) return undefined;
  const ms = Date.parse(enqueued);
  return Number.isFinite(ms) ? Math.floor(ms / MINUTE_MS) * MINUTE_MS : undefined;
}

/** What happened to one job of a cohort in one invocation. */
export type CohortEvent =
  | { readonly kind: 'started'; readonly latencyMs: number }
  | { readonly kind: 'done' | 'dead' | 'failed' };

/** Counts of one cohort not yet written. */
export interface PendingCohort {
  readonly minuteMs: number;
  started: number;
  done: number;
  dead: number;
  failed: number;
  /** Bucket index → first starts. */
  readonly buckets: Map<number, number>;
  max: number | undefined;
}

/** Cohort counts of one function instance, by minute. */
export class CohortAccumulator {
  private readonly pending = new Map<number, PendingCohort>();

  /** Adds one event of the cohort of the minute `minuteMs`. */
  add(minuteMs: number, event: CohortEvent): void {
    const cohort = this.pending.get(minuteMs) ?? { minuteMs, started: 0, done: 0, dead: 0, failed: 0, buckets: new Map(), max: undefined };
    if (event.kind === 'started') {
      cohort.started += 1;
      const latency = Math.max(0, Math.round(event.latencyMs));
      const bucket = bucketOf(latency);
      cohort.buckets.set(bucket, (cohort.buckets.get(bucket) ?? 0) + 1);
      cohort.max = Math.max(cohort.max ?? 0, latency);
    } else {
      cohort[event.kind] += 1;
    }
    this.pending.set(minuteMs, cohort);
  }

  /** Cohorts with unwritten counts. */
  get size(): number {
    return this.pending.size;
  }

  /** Removes and returns every pending cohort. */
  takeAll(): PendingCohort[] {
    const all = [...this.pending.values()];
    this.pending.clear();
    return all;
  }

  /** Puts back counts whose write failed. */
  restore(cohort: PendingCohort): void {
    const known = this.pending.get(cohort.minuteMs);
    if (known === undefined) {
      this.pending.set(cohort.minuteMs, cohort);
      return;
    }
    known.started += cohort.started;
    known.done += cohort.done;
    known.dead += cohort.dead;
    known.failed += cohort.failed;
    for (const [bucket, n] of cohort.buckets) known.buckets.set(bucket, (known.buckets.get(bucket) ?? 0) + n);
    if (cohort.max !== undefined) known.max = Math.max(known.max ?? 0, cohort.max);
  }
}

/** An `UpdateItem`'s key and expressions. */
export interface ItemUpdate {
  Key: Record<string, AttributeValue>;
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, AttributeValue>;
  ConditionExpression?: string;
}

/**
 * The `UpdateItem` of one cohort: ADD its counts and buckets, SET the TTL and, when the item has
 * no maximum yet, this one (ask for `UPDATED_NEW` and see {@link raiseMaxUpdate}).
 */
export function cohortUpdate(cohort: PendingCohort): ItemUpdate {
  const key = cohortKey(cohort.minuteMs);
  const names: Record<string, string> = { '#ttl': COHORT_ATTRIBUTES.ttl };
  const values: Record<string, AttributeValue> = { ':ttl': { N: String(Math.floor(cohort.minuteMs / 1000) + COHORTS.ttlDays * 86_400) } };
  const sets = ['#ttl = :ttl'];
  const adds: string[] = [];
  const add = (name: string, attribute: string, n: number): void => {
    if (n === 0) return;
    names[`#${name}`] = attribute;
    values[`:${name}`] = { N: String(n) };
    adds.push(`#${name} :${name}`);
  };
  add('s', COHORT_ATTRIBUTES.started, cohort.started);
  add('d', COHORT_ATTRIBUTES.done, cohort.done);
  add('x', COHORT_ATTRIBUTES.dead, cohort.dead);
  add('f', COHORT_ATTRIBUTES.failed, cohort.failed);
  for (const [bucket, n] of [...cohort.buckets].sort(([a], [b]) => a - b)) add(`h${bucket}`, `${COHORT_ATTRIBUTES.bucket}${bucket}`, n);
  if (cohort.max !== undefined) {
    names['#mx'] = COHORT_ATTRIBUTES.max;
    values[':mx'] = { N: String(cohort.max) };
    sets.push('#mx = if_not_exists(#mx, :mx)');
  }
  return {
    Key: { pk: { S: key.pk }, sk: { S: key.sk } },
    UpdateExpression: `SET ${sets.join(', ')}${adds.length === 0 ? '' : ` ADD ${adds.join(', ')}`}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/**
 * The second write, needed only when the item's maximum (as {@link cohortUpdate} returned it) is
 * below this cohort's: SET it, on condition that it is still lower.
 */
export function raiseMaxUpdate(cohort: PendingCohort, storedMax: number | undefined): ItemUpdate | undefined {
  if (cohort.max === undefined || storedMax === undefined || storedMax >= cohort.max) return undefined;
  const key = cohortKey(cohort.minuteMs);
  return {
    Key: { pk: { S: key.pk }, sk: { S: key.sk } },
    UpdateExpression: 'SET #mx = :mx',
    ConditionExpression: '#mx < :mx',
    ExpressionAttributeNames: { '#mx': COHORT_ATTRIBUTES.max },
    ExpressionAttributeValues: { ':mx': { N: String(cohort.max) } },
  };
}

/** One cohort as `GET /v1/stats/cohorts` shows it. */
export interface CohortView {
  /** Start of the minute, ISO-8601. */
  readonly minute: string;
  readonly started: number;
  readonly done: number;
  readonly dead: number;
  /** started − done − dead, at least 0. */
  readonly pending: number;
  /** Failed attempts. */
  readonly failed: number;
  /** Latency from enqueue to first start, ms; null when no job of the cohort has started. */
  readonly latency_ms: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly max: number | null };
}

/**
 * The `q` quantile (0 < q ≤ 1) of a histogram: the rank's bucket, interpolated linearly between
 * the bucket's bounds, never above the exact maximum. Undefined for an empty histogram.
 *
 * @example
 * percentile(new Map([[10, 4]]), 0.5, 300) // bucket 10 is (226, 320]: 226 + 94 · 2/4 = 273
 */
export function percentile(buckets: ReadonlyMap<number, number>, q: number, max: number): number | undefined {
  const total = [...buckets.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let before = 0;
  for (const [bucket, n] of [...buckets].sort(([a], [b]) => a - b)) {
    if (n <= 0) continue;
    if (before + n >= rank) {
      const lower = bucket === 0 ? 0 : (LATENCY_BUCKETS[bucket - 1] ?? 0);
      const upper = LATENCY_BUCKETS[bucket] ?? max;
      return Math.min(max, Math.round(lower + ((upper - lower) * (rank - before)) / n));
    }
    before += n;
  }
  return max;
}

/** A cohort item as read from DynamoDB → what the API shows. */
export function cohortView(minuteMs: number, item: Record<string, AttributeValue>): CohortView {
  const num = (attribute: string): number => {
    const value = Number(item[attribute]?.N ?? '0');
    return Number.isFinite(value) ? value : 0;
  };
  const started = num(COHORT_ATTRIBUTES.started);
  const done = num(COHORT_ATTRIBUTES.done);
  const dead = num(COHORT_ATTRIBUTES.dead);
  const buckets = new Map<number, number>();
  for (let bucket = 0; bucket <= LATENCY_BUCKETS.length; bucket += 1) {
    const n = num(`${COHORT_ATTRIBUTES.bucket}${bucket}`);
    if (n > 0) buckets.set(bucket, n);
  }
  const max = item[COHORT_ATTRIBUTES.max]?.N === undefined ? undefined : num(COHORT_ATTRIBUTES.max);
  const at = (q: number): number | null => (max === undefined ? null : (percentile(buckets, q, max) ?? null));
  return {
    minute: new Date(minuteMs).toISOString(),
    started,
    done,
    dead,
    pending: Math.max(0, started - done - dead),
    failed: num(COHORT_ATTRIBUTES.failed),
    latency_ms: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: max ?? null },
  };
}
