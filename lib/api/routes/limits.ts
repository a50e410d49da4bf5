/**
 * `GET /v1/limits`: the state of quotas and limiters, read from the limits table by partition
 * (keys from lib/limiters/keys.ts). Every configured quota is shown, plus the tenants and limiter
 * names asked for (`?tenant=a,b&limiter=stripe,erp:42`). Limiter names are not listed otherwise:
 * each is its own partition, and finding them all would need a table scan. A quota or limiter of a
 * high rate is spread over shards (lib/limiters/shards.ts): a quota's shards are summed, a limiter's
 * listed one by one with their shard numbers.
 */
import { ENTRY_ID_PATTERN, LIMITER_ATTRIBUTES as A, limiterPartitionKey, quotaKey, entryIdOf } from '../../limiters/keys.js';
import { SPEC_BOUNDS, validateLimiterName } from '../../limiters/spec.js';
import { MAX_SHARDS, shardsOf } from '../../limiters/shards.js';
import { isHopperError } from '../../errors/base.js';
import type { QuotaBucket } from '../../quota/index.js';
import type { ApiContext } from '../context.js';
import { badParameter, json, type ApiRequest, type ApiResponse } from '../http.js';
import type { Route } from '../router.js';

/** Most names one request may ask for. */
export const MAX_LIMIT_NAMES = 50;

/** The route. */
export function limitRoutes(ctx: ApiContext): Route[] {
  return [{ method: 'GET', path: '/v1/limits', handle: (request) => readLimits(ctx, request) }];
}

function names(request: ApiRequest, parameter: string): string[] {
  const raw = request.query[parameter];
  if (raw === undefined || raw === '') return [];
  const list = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (list.length > MAX_LIMIT_NAMES) throw badParameter(parameter, `at most ${MAX_LIMIT_NAMES} comma-separated names`, `${list.length} names`);
  return list;
}

type Item = Readonly<Record<string, unknown>>;

function numberOf(item: Item, attribute: string): bigint | undefined {
  const value = item[attribute];
  if (typeof value !== 'object' || value === null || !('N' in value) || typeof value.N !== 'string' || !/^-?\d+$/.test(value.N)) return undefined;
  return BigInt(value.N);
}

function iso(ms: bigint | number | undefined): string | null {
  if (ms === undefined) return null;
  const value = Number(ms);
  return Number.isFinite(value) ? new Date(value).toISOString() : null;
}

/** What an item says, by type (its sort key). `bucket` is the quota's shape, when known. */
function describeItem(type: string, item: Item, nowMs: number, bucket?: QuotaBucket): Record<string, unknown> {
  switch (type) {
    case 'concurrent':
    case 'window': {
      const entries = Object.keys(item).flatMap((attribute) => {
        const id = entryIdOf(attribute);
        const at = id === undefined || !ENTRY_ID_PATTERN.test(id) ? undefined : numberOf(item, attribute);
        return at === undefined ? [] : [Number(at)];
      });
      const live = type === 'concurrent' ? entries.filter((expiry) => expiry > nowMs) : entries;
      return type === 'concurrent'
        ? { type, in_use: live.length, lease_expiries: live.sort((a, b) => a - b).map((ms) => iso(ms)) }
        : { type, admitted: entries.length, oldest: iso(entries.length === 0 ? undefined : Math.min(...entries)) };
    }
    case 'bucket':
      return { type, count: Number(numberOf(item, A.bucketCount) ?? 0n), bucket_start: iso(numberOf(item, A.bucketStart)), interval_ms: Number(numberOf(item, A.bucketInterval) ?? 0n) };
    default: {
      const tat = numberOf(item, A.tat);
      const scale = numberOf(item, A.scale);
      if (tat === undefined || scale === undefined || scale <= 0n) return { type };
      const busyUntil = Number((tat + scale - 1n) / scale);
      const result: Record<string, unknown> = { type, busy_until: iso(Math.max(busyUntil, nowMs)) };
      if (bucket !== undefined && scale === BigInt(bucket.refill)) {
        // Points in use: what is still draining, in points of `intervalMs / refill` ms each.
        const draining = tat - BigInt(nowMs) * scale;
        const used = draining <= 0n ? 0 : Number((draining + BigInt(bucket.intervalMs) - 1n) / BigInt(bucket.intervalMs));
        result.capacity = bucket.capacity;
        result.available = Math.max(0, bucket.capacity - used);
      }
      return result;
    }
  }
}

async function readLimits(ctx: ApiContext, request: ApiRequest): Promise<ApiResponse> {
  const limiterNames = names(request, 'limiter');
  for (const name of limiterNames) {
    try {
      validateLimiterName(name);
    } catch (error) {
      if (isHopperError(error, 'InvalidLimiterSpecError')) throw badParameter('limiter', `comma-separated limiter names of 1 to ${SPEC_BOUNDS.nameMaxLength} letters, digits or _ - . : @ / + =`, JSON.stringify(name));
      throw error;
    }
  }
  const { quotas } = ctx.config;
  const tenants = new Set([...quotas.tenants.keys(), ...names(request, 'tenant')]);
  const nowMs = ctx.now();
  const quotaViews = await Promise.all([
    ...[...tenants].map(async (tenant) => {
      const rule = quotas.tenants.get(tenant) ?? quotas.default;
      return quotaView(ctx, 'tenant', tenant, rule, nowMs);
    }),
    ...[...quotas.queues].map(([queue, bucket]) => quotaView(ctx, 'queue', queue, bucket, nowMs)),
  ]);
  const limiters = await Promise.all(limiterNames.map(async (name) => {
    // The limiter's own partition, and those of its shards when its rate spread it (the API does not
    // know a limiter's spec, so it reads every shard a limiter may have).
    const partitions = [limiterPartitionKey(name), ...Array.from({ length: MAX_SHARDS }, (_, shard) => `${limiterPartitionKey(name)}#${shard}`)];
    const items = (await Promise.all(partitions.map((pk) => ctx.limits.queryPartition(pk)))).flat();
    return { name, state: items.map((item) => describeShardItem(skOf(item), item, nowMs)) };
  }));
  return json(200, {
    quotas: {
      default: quotas.default === undefined ? null : ruleView(quotas.default),
      buckets: quotaViews,
    },
    limiters,
  });
}

/** An item's state; a shard's (sort key `<type>#<shard>`) says which shard it is. */
function describeShardItem(sk: string, item: Item, nowMs: number): Record<string, unknown> {
  const [type = sk, shard] = sk.split('#');
  return shard === undefined ? describeItem(type, item, nowMs) : { ...describeItem(type, item, nowMs), shard: Number(shard) };
}

function skOf(item: Item): string {
  const sk = item.sk;
  return typeof sk === 'object' && sk !== null && 'S' in sk && typeof sk.S === 'string' ? sk.S : 'unknown';
}

function ruleView(bucket: QuotaBucket): Record<string, unknown> {
  return { limit: bucket.refill, per_ms: bucket.intervalMs, burst: bucket.capacity };
}

async function quotaView(ctx: ApiContext, scope: 'tenant' | 'queue', id: string, rule: QuotaBucket | 'unlimited' | undefined, nowMs: number): Promise<Record<string, unknown>> {
  if (rule === undefined || rule === 'unlimited') return { scope, id, rule: rule === undefined ? null : 'unlimited', state: null };
  // A bucket of a high rate is spread over shards (lib/limiters/shards.ts): their states add up.
  const shards = shardsOf(quotaKey(scope, id), rule);
  const states = await Promise.all(shards.map(async (shard) => {
    const [item] = await ctx.limits.queryPartition(shard.key.pk);
    const bucket = shard.spec.type === 'points' ? shard.spec : rule;
    // A bucket nobody has drawn from yet has no item: it is full.
    if (item === undefined) return { available: bucket.capacity, busyUntil: undefined };
    const described = describeItem('points', item, nowMs, bucket);
    return { available: Number(described.available ?? bucket.capacity), busyUntil: described.busy_until };
  }));
  const busy = states.map((state) => state.busyUntil).filter((at): at is string => typeof at === 'string').sort().at(-1);
  const state: Record<string, unknown> = { type: 'points', available: states.reduce((sum, shard) => sum + shard.available, 0), capacity: rule.capacity, busy_until: busy ?? null };
  if (shards.length > 1) state.shards = shards.length;
  return { scope, id, rule: ruleView(rule), state };
}
