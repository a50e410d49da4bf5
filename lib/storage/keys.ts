/**
 * Every storage key Hopper writes is built here, so the layout of the state table can be read in
 * one place (and changed in one place).
 *
 * State table (pk, sk are strings; `ttl` is the TTL attribute, epoch seconds):
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | scheduled job     | `scheduled#<shard>`    | `<due ms, 13 digits>#<jid>` |
 * | retry (> 15 min)  | `retry#<shard>`        | `<due ms, 13 digits>#<jid>` |
 * | dead job          | `dead#<shard>`         | `<failed ms, 13 digits>#<jid>` |
 * | cron run record   | `cron#<name>`          | `meta`                     |
 * | cron tick marker  | `cron#<name>`          | `tick#<scheduled time, ISO-8601 UTC>` |
 *
 * Sorted sets are sharded by a hash of the jid so that no single partition takes every write;
 * readers query each shard and merge by sort key.
 */

/**
 * The sorted sets of the state table and how many shards each has. Every scheduled job is written
 * twice to its shard (put, then deleted by the sweep): 64 shards keep 10,000 scheduled jobs a second
 * at about 310 write units a second per shard, under a third of a partition's 1,000.
 */
export const SORTED_SETS = {
  scheduled: { prefix: 'scheduled', shards: 64 },
  retry: { prefix: 'retry', shards: 16 },
  dead: { prefix: 'dead', shards: 4 },
} as const;

export type SortedSetName = keyof typeof SORTED_SETS;

/**
 * Shard counts a set had before, whose entries may still wait under them: the scheduled set had 16
 * until it had 64. A count divides the current one, so a former shard is one of today's and every
 * reader of the whole set reads it; only a reader that goes to one jid's shard must try both.
 */
export const FORMER_SET_SHARDS: Readonly<Partial<Record<SortedSetName, number>>> = { scheduled: 16 };

/** Attribute names of the state table's key and TTL. */
export const STATE_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
} as const;

/**
 * Stats rollups (lib/stats), in the state table:
 * | item              | pk      | sk                                                       |
 * |-------------------|---------|----------------------------------------------------------|
 * | one hour, one writer | `stats` | `<hour ms, 13 digits>#w#<queue>` (workers), `<hour ms>#r` (retry function) |
 * | totals            | `stats` | `total`                                                  |
 *
 * One partition, so a single Query reads any span of hours.
 */
export const STATS_KEYS = {
  partition: 'stats',
  totalSortKey: 'total',
  workerMark: 'w',
  retryMark: 'r',
} as const;

/**
 * Cohorts (lib/stats/cohort.ts), in the state table: one item per minute of `enqueued_at`, in a
 * partition of their own so they do not share the stats partition's write throughput.
 * | item              | pk        | sk                          |
 * |-------------------|-----------|-----------------------------|
 * | one cohort        | `cohorts` | `<minute ms, 13 digits>`    |
 */
export const COHORT_KEYS = {
  partition: 'cohorts',
} as const;

/** The key of the cohort of jobs enqueued in the minute starting at `minuteMs`. */
export function cohortKey(minuteMs: number): ItemKey {
  return { pk: COHORT_KEYS.partition, sk: timeSortKeyBound(minuteMs) };
}

/**
 * What workers run now (lib/stats/busy.ts): one item per queue and function instance, written only
 * while a job of that instance has run longer than a report's threshold, in a partition of its own.
 * | item              | pk      | sk                          |
 * |-------------------|---------|-----------------------------|
 * | one instance's report | `busy` | `<queue>#<instance>`     |
 */
export const BUSY_KEYS = {
  partition: 'busy',
} as const;

/** The key of the report of `instance` (its log stream) about `queue`. */
export function busyKey(queue: string, instance: string): ItemKey {
  return { pk: BUSY_KEYS.partition, sk: `${queue}#${instance}` };
}

/** Who wrote a stats rollup: the workers of `queue`, or the retry function. */
export type StatsWriter = { readonly kind: 'worker'; readonly queue: string } | { readonly kind: 'retry' };

/** The key of `writer`'s rollup for the hour starting at `hourMs`. */
export function statsHourKey(hourMs: number, writer: StatsWriter): ItemKey {
  const hour = timeSortKeyBound(hourMs);
  return {
    pk: STATS_KEYS.partition,
    sk: writer.kind === 'worker' ? `${hour}#${STATS_KEYS.workerMark}#${writer.queue}` : `${hour}#${STATS_KEYS.retryMark}`,
  };
}

/** The key of the totals folded from finished hours. */
export function statsTotalKey(): ItemKey {
  return { pk: STATS_KEYS.partition, sk: STATS_KEYS.totalSortKey };
}

/** Reads the hour and writer back out of an hourly stats sort key. */
export function parseStatsHourKey(sk: string): { hourMs: number; writer: StatsWriter } | undefined {
  const match = /^(\d{13})#(?:w#([A-Za-z0-9_-]{1,64})|r)$/.exec(sk);
  if (match?.[1] === undefined) return undefined;
  const hourMs = Number(match[1]);
  return { hourMs, writer: match[2] === undefined ? { kind: 'retry' } : { kind: 'worker', queue: match[2] } };
}

/** The primary key of one item. */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/*
 * Batches and unique locks (items that are not sorted sets):
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | batch (counters)  | `batch#<bid>`          | `batch`                    |
 * | job of a batch    | `batch#<bid>#<shard>`  | `job#<jid>`                |
 * | add to a batch    | `batch#<bid>`          | `add#<digest of the jids>` |
 * | unique lock       | `unique#<sha-256 hex>` | `lock`                     |
 * The batch function's stream filter selects batch and job items by this layout (lib/batch/stream-filter.ts).
 *
 * A batch's job items are spread over `BATCH_JOB_SHARDS` partition keys by a hash of the jid: every
 * job of a batch writes its outcome to its item, and one partition key takes at most 1,000 write
 * units a second. 32 shards keep a batch fed 10,000 jobs a second at about 310 units a second per
 * key, under a third of a partition. Job items written before the shards (`batch#<bid>` /
 * `job#<jid>`) are still read and counted: their partition key is the batch's own.
 */

/** Key prefix and sort keys of batch items. */
export const BATCH_KEYS = {
  prefix: 'batch#',
  batchSortKey: 'batch',
  jobSortKeyPrefix: 'job#',
  addSortKeyPrefix: 'add#',
} as const;

/**
 * The recent-batches index (a global secondary index of the state table, sparse: only batch items
 * carry its keys). Partition: the UTC day a batch was created; sort key: its creation time and bid,
 * so a day's batches read newest first. Projects `bid`, `description` and `parent` (set once, at creation:
 * a batch's counter updates never write the index).
 * | index    | partition key (`rpk`)      | sort key (`rsk`)               |
 * |----------|----------------------------|--------------------------------|
 * | `recent` | `batches#<YYYY-MM-DD>`     | `<created ms, 13 digits>#<bid>` |
 */
export const RECENT_BATCHES = {
  indexName: 'recent',
  partitionKey: 'rpk',
  sortKey: 'rsk',
  prefix: 'batches#',
  projected: ['bid', 'description', 'parent'],
} as const;

/** The index keys of a batch created at `createdMs`. */
export function recentBatchKeys(bid: string, createdMs: number): { rpk: string; rsk: string } {
  return { rpk: recentBatchesDay(createdMs), rsk: `${timeSortKeyBound(createdMs)}#${bid}` };
}

/** The index partition of the UTC day of `ms`. */
export function recentBatchesDay(ms: number): string {
  return `${RECENT_BATCHES.prefix}${new Date(ms).toISOString().slice(0, 10)}`;
}

/** Key prefix and sort key of unique locks. */
export const UNIQUE_KEYS = {
  prefix: 'unique#',
  sortKey: 'lock',
} as const;

/*
 * Start marks (lib/storage/start-marks.ts): a worker that runs a job delivered more than once marks
 * it first, so that the retry function can tell a job redriven after crashes from one redriven after
 * deliveries no handler saw (throttles, failed starts).
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | a run began       | `startmark#<jid>`      | `attempt#<retry_count>`    |
 * | uncharged redrives | `startmark#<jid>`     | `uncharged#<retry_count>`  |
 * (`retry_count` −1 for a job that has not failed yet.)
 */

/** Key prefix and sort key prefixes of start marks. */
export const START_MARK_KEYS = {
  prefix: 'startmark#',
  attemptPrefix: 'attempt#',
  unchargedPrefix: 'uncharged#',
} as const;

/** The key of the mark that a run of job `jid` began at `retryCount` (−1 before any failure). */
export function startMarkKey(jid: string, retryCount: number): ItemKey {
  return { pk: `${START_MARK_KEYS.prefix}${jid}`, sk: `${START_MARK_KEYS.attemptPrefix}${retryCount}` };
}

/** The key of the count of uncharged redrives of job `jid` at `retryCount`. */
export function unchargedRedrivesKey(jid: string, retryCount: number): ItemKey {
  return { pk: `${START_MARK_KEYS.prefix}${jid}`, sk: `${START_MARK_KEYS.unchargedPrefix}${retryCount}` };
}

/*
 * Steps of `ctx.once` (lib/storage/once-steps.ts): one item per job and step key, written only by
 * jobs that call it.
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | a step of a job   | `once#<jid>`           | `step#<key>`               |
 */

/** Key prefix and sort key prefix of `ctx.once` steps. */
export const ONCE_KEYS = {
  prefix: 'once#',
  stepPrefix: 'step#',
} as const;

/** The key of step `key` of job `jid`. */
export function onceStepKey(jid: string, key: string): ItemKey {
  return { pk: `${ONCE_KEYS.prefix}${jid}`, sk: `${ONCE_KEYS.stepPrefix}${key}` };
}

/*
 * Tracked jobs (`custom.track` or `custom.result`, lib/storage/job-states.ts): where the job
 * stands, its progress and its result; written only for jobs that ask.
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | a tracked job     | `jobstate#<jid>`       | `state`                    |
 */

/** Key prefix and sort key of tracked jobs' states. */
export const JOB_STATE_KEYS = {
  prefix: 'jobstate#',
  sortKey: 'state',
} as const;

/** The key of tracked job `jid`'s state. */
export function jobStateKey(jid: string): ItemKey {
  return { pk: `${JOB_STATE_KEYS.prefix}${jid}`, sk: JOB_STATE_KEYS.sortKey };
}

/*
 * Iterating jobs (`iterate`, lib/worker/iterate.ts): the cursor of a job that runs in slices, and
 * which slice holds it; written only for jobs that iterate.
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | an iterating job  | `iter#<jid>`           | `cursor`                   |
 */

/** Key prefix and sort key of iterating jobs' cursors. */
export const ITERATION_KEYS = {
  prefix: 'iter#',
  sortKey: 'cursor',
} as const;

/** The key of iterating job `jid`'s cursor. */
export function iterationKey(jid: string): ItemKey {
  return { pk: `${ITERATION_KEYS.prefix}${jid}`, sk: ITERATION_KEYS.sortKey };
}

/*
 * Flows (lib/flow): one item per flow, holding its plan and where each step stands; each step runs
 * in a batch of its own, `<flow id>.<step>.<attempt>` (a batch id, so its items are batch items).
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | a flow            | `flow#<id>`            | `flow`                     |
 * The batch function's stream filter selects flow items by this layout (lib/batch/stream-filter.ts).
 */

/** Key prefix and sort key of flow items. */
export const FLOW_KEYS = {
  prefix: 'flow#',
  sortKey: 'flow',
} as const;

/** The key of flow `id`'s item. */
export function flowKey(id: string): ItemKey {
  return { pk: `${FLOW_KEYS.prefix}${id}`, sk: FLOW_KEYS.sortKey };
}

/** The batch id that runs attempt `attempt` of step `step` of flow `flowId`. */
export function flowStepBid(flowId: string, step: string, attempt: number): string {
  return `${flowId}.${step}.${attempt}`;
}

/** The key of batch `bid`'s own item (its counters, callbacks and claims). */
export function batchKey(bid: string): ItemKey {
  return { pk: `${BATCH_KEYS.prefix}${bid}`, sk: BATCH_KEYS.batchSortKey };
}

/** Partition keys a batch's job items are spread over (see the table above). */
export const BATCH_JOB_SHARDS = 32;

/** The partition key of shard `shard` of batch `bid`'s job items. */
export function batchJobPartitionKey(bid: string, shard: number): string {
  return `${BATCH_KEYS.prefix}${bid}#${shard}`;
}

/** Every partition key batch `bid`'s job items may be under: the shards, then the batch's own (job items written before the shards). */
export function batchJobPartitionKeys(bid: string): string[] {
  return [...Array.from({ length: BATCH_JOB_SHARDS }, (_, shard) => batchJobPartitionKey(bid, shard)), `${BATCH_KEYS.prefix}${bid}`];
}

/**
 * The batch and shard a job item's partition key names; `shard` is undefined for a job item under
 * the batch's own key (written before the shards). Bids contain no `#` (lib/batch/handle.ts).
 */
export function parseBatchJobPartitionKey(pk: string): { readonly bid: string; readonly shard: number | undefined } {
  const rest = pk.slice(BATCH_KEYS.prefix.length);
  const at = rest.indexOf('#');
  return at < 0 ? { bid: rest, shard: undefined } : { bid: rest.slice(0, at), shard: Number(rest.slice(at + 1)) };
}

/** The key of job `jid`'s membership item in batch `bid` (its status), in the jid's shard. */
export function batchJobKey(bid: string, jid: string): ItemKey {
  return { pk: batchJobPartitionKey(bid, fnv1a(jid) % BATCH_JOB_SHARDS), sk: `${BATCH_KEYS.jobSortKeyPrefix}${jid}` };
}

/** The key of the item that stands for one registration of jobs in batch `bid` (see lib/batch/plan.ts). */
export function batchAddKey(bid: string, digest: string): ItemKey {
  return { pk: `${BATCH_KEYS.prefix}${bid}`, sk: `${BATCH_KEYS.addSortKeyPrefix}${digest}` };
}

/** The key of the unique lock whose digest is `digest` (see lib/unique/lock.ts). */
export function uniqueLockKey(digest: string): ItemKey {
  return { pk: `${UNIQUE_KEYS.prefix}${digest}`, sk: UNIQUE_KEYS.sortKey };
}

/** FNV-1a, 32 bit: a stable, cheap hash for spreading jids over shards. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The shard of `jid` in `set`. */
export function shardOf(set: SortedSetName, jid: string): number {
  return fnv1a(jid) % SORTED_SETS[set].shards;
}

/** The shards an entry of `jid` may be under: its shard, then its shard under the former count (when that differs). */
export function shardCandidates(set: SortedSetName, jid: string): number[] {
  const now = shardOf(set, jid);
  const former = FORMER_SET_SHARDS[set];
  const before = former === undefined ? now : fnv1a(jid) % former;
  return before === now ? [now] : [now, before];
}

/** The partition key of shard `shard` of `set`. */
export function setPartitionKey(set: SortedSetName, shard: number): string {
  return `${SORTED_SETS[set].prefix}#${shard}`;
}

/** Every partition key of `set`, for readers that merge the shards. */
export function setPartitionKeys(set: SortedSetName): string[] {
  return Array.from({ length: SORTED_SETS[set].shards }, (_, shard) => setPartitionKey(set, shard));
}

/** Sort keys order by time: epoch milliseconds zero-padded to 13 digits (good until year 2286). */
export function timeSortKey(epochMs: number, jid: string): string {
  return `${Math.max(0, Math.trunc(epochMs)).toString().padStart(13, '0')}#${jid}`;
}

/** The smallest sort key at or after `epochMs`, for range queries. */
export function timeSortKeyBound(epochMs: number): string {
  return Math.max(0, Math.trunc(epochMs)).toString().padStart(13, '0');
}

/** The key of `jid`'s entry in `set` at time `epochMs`. */
export function setEntryKey(set: SortedSetName, epochMs: number, jid: string): ItemKey {
  return { pk: setPartitionKey(set, shardOf(set, jid)), sk: timeSortKey(epochMs, jid) };
}

/** Reads the time and jid back out of a sorted-set sort key. */
export function parseTimeSortKey(sk: string): { epochMs: number; jid: string } | undefined {
  const match = /^(\d{13})#(.+)$/.exec(sk);
  if (!match?.[1] || !match[2]) return undefined;
  return { epochMs: Number(match[1]), jid: match[2] };
}

/**
 * The keys the entry `id` (its sort key, `<ms>#<jid>`) of `set` may have, in the order to try them
 * (see `shardCandidates`); undefined when `id` is not an entry id.
 */
export function entryKeyCandidates(set: SortedSetName, id: string): ItemKey[] | undefined {
  const parsed = parseTimeSortKey(id);
  if (parsed === undefined) return undefined;
  return shardCandidates(set, parsed.jid).map((shard) => ({ pk: setPartitionKey(set, shard), sk: id }));
}

/** Key parts of the cron items: one partition per cron holds its run record and its tick markers. */
export const CRON_KEYS = {
  prefix: 'cron',
  metaSortKey: 'meta',
  tickPrefix: 'tick',
} as const;

/** The key of cron `name`'s run record (last run, next run) that the dashboard reads. */
export function cronMetaKey(name: string): ItemKey {
  return { pk: `${CRON_KEYS.prefix}#${name}`, sk: CRON_KEYS.metaSortKey };
}

/**
 * The key of the marker of cron `name`'s tick scheduled at `scheduledMs`. The scheduled time, not
 * the time of the invocation, so that a tick delivered twice finds the same marker.
 */
export function cronTickKey(name: string, scheduledMs: number): ItemKey {
  return { pk: `${CRON_KEYS.prefix}#${name}`, sk: `${CRON_KEYS.tickPrefix}#${new Date(scheduledMs).toISOString()}` };
}

/*
 * Debounce (`custom.debounce`, lib/debounce): one item per key naming the job that is to run, the
 * last enqueued for the key; written only for debounced jobs.
 * | item              | pk                     | sk                         |
 * |-------------------|------------------------|----------------------------|
 * | a debounce key    | `debounce#<key>`       | `debounce`                 |
 * Keys exclude `#` (lib/job/debounce.ts), so no key reaches another item.
 */

/** Key prefix and sort key of debounce items. */
export const DEBOUNCE_KEYS = {
  prefix: 'debounce#',
  sortKey: 'debounce',
} as const;

/** The key of debounce key `key`'s item. */
export function debounceKey(key: string): ItemKey {
  return { pk: `${DEBOUNCE_KEYS.prefix}${key}`, sk: DEBOUNCE_KEYS.sortKey };
}
