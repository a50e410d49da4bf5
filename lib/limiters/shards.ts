/**
 * Rate limiters and quota buckets whose rate one item cannot take, spread over several items.
 *
 * Every acquire is a write to the limiter's item, a refusal too (a failed condition is billed and
 * counts against the item's throughput), and one partition key takes at most 1,000 write units a
 * second. A rate limiter admits at most its rate, so its rate says how often its item is written
 * once callers honour its retry-after: a limiter (or quota) of more than
 * {@link SHARD_WRITES_PER_SECOND} a second is split into `ceil(rate / 250)` shards (at most
 * {@link MAX_SHARDS}), each an item of its own partition key with an equal share of the limit,
 * capacity and refill (shares differ by one at most and add up to the whole). An acquire tries one
 * shard picked at random and, refused, one other: the limit is never exceeded (the shares add up
 * to it), and a caller is refused only when two shards are out of room.
 *
 * Keys: shard `k` of the item `{pk, sk}` is `{pk: <pk>#<k>, sk: <sk>#<k>}`. An unsharded item's sort
 * key is the limiter's type alone (keys.ts), so no shard's key equals another limiter's. A limiter
 * whose rate changes its shard count starts again from full shards, as a limiter whose type changes
 * does.
 *
 * Concurrent limiters are not sharded: their writes follow the runs they admit (two per run), not a
 * rate their spec states, and splitting leases over shards would refuse runs while another shard
 * has a free slot. docs/decisions.md says what that leaves.
 */
import type { Random } from '../common/random.js';
import type { ItemKey } from '../storage/keys.js';
import type { ResolvedLimiterSpec } from './spec.js';
import type { AcquireRequest, AcquireResult, LimiterStore } from './store.js';

/** Admissions a second one shard is meant to take at most: a quarter of a partition's 1,000 write units, leaving room for refusals. */
export const SHARD_WRITES_PER_SECOND = 250;
/** Most shards of one limiter: 16,000 admissions a second. */
export const MAX_SHARDS = 64;

/** One shard of a limiter: its item and its share of the spec. */
export interface Shard {
  readonly key: ItemKey;
  readonly spec: ResolvedLimiterSpec;
}

/** Admissions a second `spec` allows at most; undefined for a concurrent limiter. */
function ratePerSecond(spec: ResolvedLimiterSpec): number | undefined {
  switch (spec.type) {
    case 'concurrent': return undefined;
    case 'points': return (spec.refill / spec.intervalMs) * 1000;
    default: return (spec.limit / spec.intervalMs) * 1000;
  }
}

/** How many shards `spec` is spread over (1: its own item, as before shards). */
export function shardCount(spec: ResolvedLimiterSpec): number {
  const rate = ratePerSecond(spec);
  if (rate === undefined) return 1;
  // Every shard keeps at least one unit of limit, capacity and refill.
  const floor = spec.type === 'points' ? Math.min(spec.capacity, spec.refill) : spec.limit;
  return Math.max(1, Math.min(MAX_SHARDS, floor, Math.ceil(rate / SHARD_WRITES_PER_SECOND)));
}

/** Share `index` of `total` split into `count` whole parts that differ by one at most. */
function share(total: number, count: number, index: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/** Every shard of the limiter whose item is `key`, in shard order (one: `key` itself). */
export function shardsOf(key: ItemKey, spec: ResolvedLimiterSpec): Shard[] {
  const count = shardCount(spec);
  if (count === 1) return [{ key, spec }];
  return Array.from({ length: count }, (_, index): Shard => ({
    key: { pk: `${key.pk}#${index}`, sk: `${key.sk}#${index}` },
    spec: spec.type === 'points'
      ? { ...spec, capacity: share(spec.capacity, count, index), refill: share(spec.refill, count, index) }
      : spec.type === 'concurrent' ? spec : { ...spec, limit: share(spec.limit, count, index) },
  }));
}

/** What a sharded acquire took: from which shards, how much from each. */
export interface ShardTake {
  readonly shard: Shard;
  readonly cost: number;
}

/** The answer of {@link acquireSharded}: where the cost was taken, when it was. */
export type ShardedResult = { readonly allowed: true; readonly taken: readonly ShardTake[] } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * Takes `request.cost` from the limiter of `request.key`: from one shard picked at random, or,
 * refused, from one other; a cost larger than the smallest shard's capacity (points) is taken in
 * parts from distinct shards, the largest first, and given back if a part is refused or fails.
 */
export async function acquireSharded(store: LimiterStore, request: AcquireRequest, random: Random): Promise<ShardedResult> {
  const shards = shardsOf(request.key, request.spec);
  const [only] = shards;
  if (shards.length === 1 && only !== undefined) return taken(await store.acquire(request), [{ shard: only, cost: request.cost }]);
  const order = shuffled(shards, random);
  const smallest = Math.min(...shards.map((shard) => capacityOf(shard, request.cost)));
  if (request.cost <= smallest) {
    let retryAfterMs = Number.POSITIVE_INFINITY;
    for (const shard of order.slice(0, 2)) {
      const result = await store.acquire({ ...request, key: shard.key, spec: shard.spec });
      if (result.allowed) return { allowed: true, taken: [{ shard, cost: request.cost }] };
      retryAfterMs = Math.min(retryAfterMs, result.retryAfterMs);
    }
    return { allowed: false, retryAfterMs };
  }
  // A cost no one shard can hold: parts from distinct shards, the largest first, each at most its
  // shard's capacity (the capacities add up to the whole, so any cost up to it can be placed).
  const largestFirst = [...order].sort((a, b) => capacityOf(b, request.cost) - capacityOf(a, request.cost));
  const takes: ShardTake[] = [];
  let left = request.cost;
  try {
    for (const shard of largestFirst) {
      if (left <= 0) break;
      const cost = Math.min(left, capacityOf(shard, request.cost));
      const result = await store.acquire({ ...request, key: shard.key, spec: shard.spec, cost });
      if (!result.allowed) {
        await giveBack(store, takes, request.nowMs);
        return { allowed: false, retryAfterMs: result.retryAfterMs };
      }
      takes.push({ shard, cost });
      left -= cost;
    }
  } catch (error) {
    // A part the table failed to take leaves none of the others taken.
    await giveBack(store, takes, request.nowMs).catch(() => undefined);
    throw error;
  }
  return { allowed: true, taken: takes };
}

/** Points one shard can hold (a points shard's capacity; `cost` for the other kinds, which take 1). */
function capacityOf(shard: Shard, cost: number): number {
  return shard.spec.type === 'points' ? shard.spec.capacity : cost;
}

/** Gives points back to the shards they were taken from (points limiters and quotas only). */
export async function giveBack(store: LimiterStore, takes: readonly ShardTake[], nowMs: number): Promise<void> {
  await Promise.all(takes.map(({ shard, cost }) => (shard.spec.type === 'points' ? store.settle({ key: shard.key, spec: shard.spec, nowMs, delta: -cost }) : undefined)));
}

/**
 * Settles a points acquire after the fact: `delta` > 0 charges the first shard that paid (it may go
 * into debt, as an unsharded bucket does); `delta` < 0 gives back to the shards that paid, each at
 * most what it paid.
 */
export async function settleSharded(store: LimiterStore, takes: readonly ShardTake[], delta: number, nowMs: number): Promise<void> {
  const [first] = takes;
  if (delta === 0 || first === undefined || first.shard.spec.type !== 'points') return;
  if (delta > 0) {
    await store.settle({ key: first.shard.key, spec: first.shard.spec, nowMs, delta });
    return;
  }
  let left = -delta;
  const back: ShardTake[] = [];
  for (const take of takes) {
    if (left <= 0) break;
    const cost = Math.min(take.cost, left);
    back.push({ shard: take.shard, cost });
    left -= cost;
  }
  await giveBack(store, back, nowMs);
}

/**
 * Gives `cost` points back to the limiter of `key` when which shards paid is not known (a refund
 * after the fact): spread over the shards, each part at most a shard's capacity.
 */
export async function refundSharded(store: LimiterStore, key: ItemKey, spec: ResolvedLimiterSpec, cost: number, nowMs: number, random: Random): Promise<void> {
  const shards = shuffled(shardsOf(key, spec), random);
  const parts = Math.min(shards.length, Math.max(1, Math.ceil(cost / Math.max(1, Math.min(...shards.map((shard) => capacityOf(shard, cost)))))));
  await giveBack(store, shards.slice(0, parts).map((shard, index) => ({ shard, cost: share(cost, parts, index) })), nowMs);
}

function taken(result: AcquireResult, takes: readonly ShardTake[]): ShardedResult {
  return result.allowed ? { allowed: true, taken: takes } : result;
}

/** `items` in a random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[], random: Random): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    const swap = copy[index] as T;
    copy[index] = copy[other] as T;
    copy[other] = swap;
  }
  return copy;
}
