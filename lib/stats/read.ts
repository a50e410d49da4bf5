/**
 * Reading stats rollups (rollup.ts) for the API: all-time totals, per-minute history, and each
 * queue's recent drain rate and reported wait. Totals are kept as a `total` item that readers fold
 * finished hours into, so a read never sums more than the hours since the last fold.
 */
import {
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type QueryCommandOutput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { BUSY_KEYS, cohortKey, COHORT_KEYS, parseStatsHourKey, statsTotalKey, STATS_KEYS, timeSortKeyBound } from '../storage/keys.js';
import { cohortView, type CohortView } from './cohort.js';
import { STATS_ATTRIBUTES } from './rollup.js';

/** A DynamoDB item in the low-level attribute-value format. */
export type StatsItem = Record<string, AttributeValue>;

/** The stats partition, as readers need it. */
export interface StatsTable {
  /** Items of the stats partition whose sort keys lie in `[lower, upper]`. */
  queryRange(lower: string, upper: string): Promise<StatsItem[]>;
  /**
   * Adds `processed`/`failed` to the totals and moves `through` from `fromHourMs` (absent: never
   * folded) to `toHourMs`, unless another reader folded first. @returns whether it folded.
   */
  fold(fromHourMs: number | undefined, toHourMs: number, processed: number, failed: number): Promise<boolean>;
  /** Cohort items (lib/stats/cohort.ts) of the minutes from `fromMinuteMs` to `toMinuteMs`, newest first. */
  queryCohorts(fromMinuteMs: number, toMinuteMs: number): Promise<StatsItem[]>;
  /** Every busy report (lib/stats/busy.ts), cleared ones included. */
  queryBusy(): Promise<StatsItem[]>;
}

/** Attribute of the totals item: the hour (epoch ms) before which every hour is folded in. */
export const TOTAL_THROUGH_ATTRIBUTE = 'through';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** An hour is folded once it ended this long ago: instances write their counts within a minute of the next invocation. */
export const FOLD_AFTER_MS = 10 * MINUTE_MS;
/** Minutes a drain rate is measured over (the current, unfinished minute excluded). */
export const DRAIN_WINDOW_MINUTES = 5;

/** One minute of history. */
export interface MinuteStats {
  /** Start of the minute, ISO-8601. */
  readonly at: string;
  readonly processed: number;
  readonly failed: number;
}

/** What `GET /v1/stats` shows. */
export interface StatsSummary {
  readonly processed: number;
  readonly failed: number;
  /**
   * Oldest first, ending with the current minute (or hour, when `step_minutes` is 60); points without
   * counts are 0. Each point starts at `at` and covers `step_minutes`.
   */
  readonly history: readonly MinuteStats[];
  /** Minutes each history point covers: 1, or 60 for spans of more than a day. */
  readonly step_minutes: number;
}

/** A queue's recent activity, as its workers reported it. */
export interface QueueReport {
  /** Jobs finished per second over the last {@link DRAIN_WINDOW_MINUTES} full minutes; undefined when none. */
  readonly drainPerSecond: number | undefined;
  /** How long the most recently started job had waited, and when it started. */
  readonly lag: { readonly ms: number; readonly atMs: number } | undefined;
  /** A queue with priority tiers: each tier's latest wait, the same way. */
  readonly tierLags?: ReadonlyMap<string, { readonly ms: number; readonly atMs: number }>;
}

function num(item: StatsItem, attribute: string): number {
  const value = Number(item[attribute]?.N ?? '0');
  return Number.isFinite(value) ? value : 0;
}

function hourOf(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** Sort-key bounds of every hourly item from `fromHourMs` to `toHourMs`, both included. */
function hourRange(fromHourMs: number, toHourMs: number): [string, string] {
  return [timeSortKeyBound(fromHourMs), `${timeSortKeyBound(toHourMs)}#~`];
}

/**
 * Totals and the last `minutes` minutes of history at `nowMs`, folding hours that ended more than
 * {@link FOLD_AFTER_MS} ago into the totals item (one conditional write, only when there are such
 * hours; a concurrent fold by another reader is harmless).
 */
export async function readStats(table: StatsTable, options: { readonly nowMs: number; readonly minutes: number; readonly stepMinutes?: number }): Promise<StatsSummary> {
  const { nowMs, minutes } = options;
  const step = options.stepMinutes ?? 1;
  const stepMs = step * MINUTE_MS;
  const points = Math.max(1, Math.ceil(minutes / step));
  const firstMinute = Math.floor(nowMs / stepMs) * stepMs - (points - 1) * stepMs;
  const [total] = await table.queryRange(STATS_KEYS.totalSortKey, STATS_KEYS.totalSortKey);
  const through = total?.[TOTAL_THROUGH_ATTRIBUTE]?.N === undefined ? undefined : num(total, TOTAL_THROUGH_ATTRIBUTE);
  const [lower, upper] = hourRange(Math.min(through ?? 0, hourOf(firstMinute)), hourOf(nowMs));
  const items = await table.queryRange(lower, upper);

  let processed = total === undefined ? 0 : num(total, STATS_ATTRIBUTES.processed);
  let failed = total === undefined ? 0 : num(total, STATS_ATTRIBUTES.failed);
  const foldTo = hourOf(nowMs - FOLD_AFTER_MS - HOUR_MS) + HOUR_MS;
  const fold = { processed: 0, failed: 0 };
  const byMinute = new Map<number, { processed: number; failed: number }>();
  for (const item of items) {
    const parsed = parseStatsHourKey(item.sk?.S ?? '');
    if (parsed === undefined) continue;
    const { hourMs } = parsed;
    if (through === undefined || hourMs >= through) {
      processed += num(item, STATS_ATTRIBUTES.processed);
      failed += num(item, STATS_ATTRIBUTES.failed);
      if (hourMs < foldTo) {
        fold.processed += num(item, STATS_ATTRIBUTES.processed);
        fold.failed += num(item, STATS_ATTRIBUTES.failed);
      }
    }
    for (let minute = 0; minute < 60; minute += 1) {
      const at = hourMs + minute * MINUTE_MS;
      if (at < firstMinute || at > nowMs) continue;
      const mm = String(minute).padStart(2, '0');
      const p = num(item, `${STATS_ATTRIBUTES.processed}${mm}`);
      const f = num(item, `${STATS_ATTRIBUTES.failed}${mm}`);
      if (p === 0 && f === 0) continue;
      const point = firstMinute + Math.floor((at - firstMinute) / stepMs) * stepMs;
      const counts = byMinute.get(point) ?? { processed: 0, failed: 0 };
      counts.processed += p;
      counts.failed += f;
      byMinute.set(point, counts);
    }
  }
  // Best effort: a fold lost to a concurrent reader or an error is simply done by a later read.
  if (foldTo > (through ?? 0)) await table.fold(through, foldTo, fold.processed, fold.failed).catch(() => false);

  const history = Array.from({ length: points }, (_, index) => {
    const at = firstMinute + index * stepMs;
    const counts = byMinute.get(at) ?? { processed: 0, failed: 0 };
    return { at: new Date(at).toISOString(), ...counts };
  });
  return { processed, failed, history, step_minutes: step };
}

/**
 * Each queue's drain rate over the last {@link DRAIN_WINDOW_MINUTES} full minutes and its latest
 * reported wait, from the workers' rollups: one Query over the current and previous hour.
 */
export async function readQueueReports(table: StatsTable, nowMs: number): Promise<Map<string, QueueReport>> {
  const currentMinute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  const windowStart = currentMinute - DRAIN_WINDOW_MINUTES * MINUTE_MS;
  const [lower, upper] = hourRange(hourOf(windowStart), hourOf(nowMs));
  const items = await table.queryRange(lower, upper);
  const drained = new Map<string, number>();
  const lags = new Map<string, { ms: number; atMs: number }>();
  const tierLags = new Map<string, Map<string, { ms: number; atMs: number }>>();
  for (const item of items) {
    const parsed = parseStatsHourKey(item.sk?.S ?? '');
    if (parsed === undefined || parsed.writer.kind !== 'worker') continue;
    const queue = parsed.writer.queue;
    for (let minute = 0; minute < 60; minute += 1) {
      const at = parsed.hourMs + minute * MINUTE_MS;
      if (at < windowStart || at >= currentMinute) continue;
      drained.set(queue, (drained.get(queue) ?? 0) + num(item, `${STATS_ATTRIBUTES.processed}${String(minute).padStart(2, '0')}`));
    }
    if (item[STATS_ATTRIBUTES.lagAt]?.N !== undefined) {
      const lag = { ms: num(item, STATS_ATTRIBUTES.lag), atMs: num(item, STATS_ATTRIBUTES.lagAt) };
      const known = lags.get(queue);
      if (known === undefined || lag.atMs > known.atMs) lags.set(queue, lag);
    }
    for (const [attribute, value] of Object.entries(item)) {
      const [ms, atMs] = (value.L ?? []).map((entry) => Number(entry.N));
      if (!attribute.startsWith(STATS_ATTRIBUTES.tierLagPrefix) || ms === undefined || atMs === undefined || !Number.isFinite(ms) || !Number.isFinite(atMs)) continue;
      const tier = attribute.slice(STATS_ATTRIBUTES.tierLagPrefix.length);
      const byTier = tierLags.get(queue) ?? new Map<string, { ms: number; atMs: number }>();
      const known = byTier.get(tier);
      if (known === undefined || atMs > known.atMs) byTier.set(tier, { ms, atMs });
      tierLags.set(queue, byTier);
    }
  }
  const reports = new Map<string, QueueReport>();
  for (const queue of new Set([...drained.keys(), ...lags.keys()])) {
    const jobs = drained.get(queue) ?? 0;
    const tiers = tierLags.get(queue);
    reports.set(queue, { drainPerSecond: jobs > 0 ? jobs / (DRAIN_WINDOW_MINUTES * 60) : undefined, lag: lags.get(queue), ...(tiers === undefined ? {} : { tierLags: tiers }) });
  }
  return reports;
}

/** The cohorts of the last `minutes` minutes at `nowMs` (the current one included), newest first; minutes without jobs are left out. */
export async function readCohorts(table: StatsTable, options: { readonly nowMs: number; readonly minutes: number }): Promise<CohortView[]> {
  const current = Math.floor(options.nowMs / MINUTE_MS) * MINUTE_MS;
  const items = await table.queryCohorts(current - (options.minutes - 1) * MINUTE_MS, current);
  return items.flatMap((item) => {
    const minuteMs = Number(item.sk?.S);
    return Number.isFinite(minuteMs) ? [cohortView(minuteMs, item)] : [];
  });
}

/** The commands {@link dynamoStatsTable} sends; a `DynamoDBClient` satisfies it. */
export interface StatsCommands {
  send(command: QueryCommand): Promise<QueryCommandOutput>;
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
}

/** The stats partition of the state table `tableName`. */
export function dynamoStatsTable(client: StatsCommands, tableName: string): StatsTable {
  return {
    queryRange: (lower, upper) => queryAll(client, tableName, STATS_KEYS.partition, lower, upper, true),
    queryCohorts: (fromMinuteMs, toMinuteMs) => queryAll(client, tableName, COHORT_KEYS.partition, cohortKey(fromMinuteMs).sk, cohortKey(toMinuteMs).sk, false),
    // Sort keys start with a queue name ([A-Za-z0-9_-]): every one lies between '!' and '~'.
    queryBusy: () => queryAll(client, tableName, BUSY_KEYS.partition, '!', '~', true),
    async fold(fromHourMs, toHourMs, processed, failed) {
      const key = statsTotalKey();
      try {
        await client.send(new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: 'SET #through = :to ADD #p :p, #f :f',
          ConditionExpression: fromHourMs === undefined ? 'attribute_not_exists(#through)' : '#through = :from',
          ExpressionAttributeNames: { '#through': TOTAL_THROUGH_ATTRIBUTE, '#p': STATS_ATTRIBUTES.processed, '#f': STATS_ATTRIBUTES.failed },
          ExpressionAttributeValues: {
            ':to': { N: String(toHourMs) },
            ':p': { N: String(processed) },
            ':f': { N: String(failed) },
            ...(fromHourMs === undefined ? {} : { ':from': { N: String(fromHourMs) } }),
          },
        }));
        return true;
      } catch (error) {
        if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
        throw error;
      }
    },
  };
}

/** Every item of partition `pk` whose sort key lies in `[lower, upper]`, in sort-key order or reversed. */
async function queryAll(client: StatsCommands, tableName: string, pk: string, lower: string, upper: string, ascending: boolean): Promise<StatsItem[]> {
  const items: StatsItem[] = [];
  let start: StatsItem | undefined;
  do {
    const output: QueryCommandOutput = await client.send(new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
      ExpressionAttributeValues: { ':pk': { S: pk }, ':lower': { S: lower }, ':upper': { S: upper } },
      ScanIndexForward: ascending,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }));
    items.push(...(output.Items ?? []));
    start = output.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}
