/**
 * Rate limiters and quota buckets spread over shards (lib/limiters/shards.ts): how many, what each
 * holds, and that the whole never admits more than its limit while admitting nearly all of it.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../lib/common/random.js';
import { limiter } from '../../lib/limiters/limiter.js';
import { MemoryLimiterStore } from '../../lib/limiters/memory-store.js';
import { MAX_SHARDS, acquireSharded, shardCount, shardsOf } from '../../lib/limiters/shards.js';
import { resolveLimiterSpec, type ResolvedLimiterSpec } from '../../lib/limiters/spec.js';
import type { AcquireRequest, LimiterStore } from '../../lib/limiters/store.js';
import { checkQuotas } from '../../lib/quota/check.js';
import { resolveQuotas } from '../../lib/quota/config.js';

const spec = (value: unknown): ResolvedLimiterSpec => resolveLimiterSpec('test', value);

describe('shardCount', () => {
  it.each([
    ['a bucket of 250 a second: its own item', { type: 'bucket', limit: 250, per: 'second' }, 1],
    ['a bucket of 1,000 a second', { type: 'bucket', limit: 1_000, per: 'second' }, 4],
    ['a window of 60,000 a minute', { type: 'window', limit: 1_000, per: 1 }, 4],
    ['a leaky bucket of 10,000 a second', { type: 'leaky', limit: 10_000, per: 'second' }, 40],
    ['points refilled 10,000 a second', { type: 'points', capacity: 20_000, refill: 10_000, per: 'second' }, 40],
    ['a million a second: at most 64', { type: 'bucket', limit: 1_000_000, per: 'second' }, MAX_SHARDS],
    ['points whose capacity is smaller than the shards asked', { type: 'points', capacity: 3, refill: 10_000, per: 'second' }, 3],
    ['a concurrent limiter: never sharded', { type: 'concurrent', limit: 1_000 }, 1],
  ])('%s', (_, value, count) => {
    expect(shardCount(spec(value))).toBe(count);
  });

  it('splits limit, capacity and refill into shares that differ by one at most and add up to the whole', () => {
    const shards = shardsOf({ pk: 'quota#queue#email', sk: 'points' }, spec({ type: 'points', capacity: 10_001, refill: 1_003, per: 'second' }));
    expect(shards).toHaveLength(5);
    expect(shards.map((shard) => shard.key)).toEqual(Array.from({ length: 5 }, (_, index) => ({ pk: `quota#queue#email#${index}`, sk: `points#${index}` })));
    const capacities = shards.map((shard) => (shard.spec.type === 'points' ? shard.spec.capacity : 0));
    const refills = shards.map((shard) => (shard.spec.type === 'points' ? shard.spec.refill : 0));
    expect([capacities.reduce((a, b) => a + b), refills.reduce((a, b) => a + b)]).toEqual([10_001, 1_003]);
    expect(Math.max(...capacities) - Math.min(...capacities)).toBeLessThanOrEqual(1);
  });

  it('keeps a limiter under 250 a second on its own item, as before shards', () => {
    const key = { pk: 'limiter#stripe', sk: 'bucket' };
    expect(shardsOf(key, spec({ type: 'bucket', limit: 100, per: 'second' }))).toEqual([{ key, spec: spec({ type: 'bucket', limit: 100, per: 'second' }) }]);
  });
});

/** A store that counts the writes each item takes. */
function countingStore(): { store: LimiterStore; writes: Map<string, number> } {
  const inner = new MemoryLimiterStore();
  const writes = new Map<string, number>();
  const count = (request: { key: { pk: string } }) => writes.set(request.key.pk, (writes.get(request.key.pk) ?? 0) + 1);
  return {
    writes,
    store: {
      acquire: (request) => { count(request); return inner.acquire(request); },
      release: (request) => { count(request); return inner.release(request); },
      settle: (request) => { count(request); return inner.settle(request); },
    },
  };
}

describe('a sharded limiter', () => {
  it('admits at most its limit in a second, nearly all of it, and spreads the writes over its shards', async () => {
    const { store, writes } = countingStore();
    const clock = { ms: 1_700_000_000_000 };
    const bucket = limiter('busy', { type: 'bucket', limit: 2_000, per: 'second' }, { store, now: () => clock.ms, random: mulberry32(7) });
    let admitted = 0;
    for (let call = 0; call < 3_000; call += 1) {
      if ((await bucket.acquire()).allowed) admitted += 1;
    }
    expect(admitted).toBeLessThanOrEqual(2_000);
    expect(admitted).toBeGreaterThan(1_900);
    expect(writes.size).toBe(8);
    // 3,000 calls and a second try for each refused: no item took more than a fifth of them.
    expect(Math.max(...writes.values())).toBeLessThan(3_000 / 5);
  });

  it('takes a cost larger than a shard\'s capacity in parts, and gives the parts back when one is refused', async () => {
    const store = new MemoryLimiterStore();
    const key = { pk: 'quota#queue#q', sk: 'points' };
    const points = spec({ type: 'points', capacity: 1_000, refill: 1_000, per: 'second' });
    const request = (cost: number): AcquireRequest => ({ key, spec: points, nowMs: 0, token: 'quota', cost });
    const first = await acquireSharded(store, request(600), mulberry32(1));
    expect(first.allowed && first.taken.map((take) => take.cost)).toEqual([250, 250, 100]);
    // 400 points are left, 250 at most in one shard: 500 cannot be placed, and is refused with any
    // part it took given back.
    expect((await acquireSharded(store, request(500), mulberry32(2))).allowed).toBe(false);
    let left = 0;
    for (const shard of shardsOf(key, points)) {
      while ((await store.acquire({ ...request(1), key: shard.key, spec: shard.spec })).allowed) left += 1;
    }
    expect(left).toBe(400);
  });

  it('places any cost up to the whole capacity, however the shares divide it', async () => {
    // 999 points a second: 4 shards of 250, 250, 250 and 249; the whole 999 at once is admitted.
    const points = spec({ type: 'points', capacity: 999, refill: 999, per: 'second' });
    const request: AcquireRequest = { key: { pk: 'quota#queue#q', sk: 'points' }, spec: points, nowMs: 0, token: 'quota', cost: 999 };
    const taken = await acquireSharded(new MemoryLimiterStore(), request, mulberry32(5));
    expect(taken.allowed && taken.taken.map((take) => take.cost).sort()).toEqual([249, 250, 250, 250]);
  });

  it('gives the parts taken back when the table fails on a later part', async () => {
    const inner = new MemoryLimiterStore();
    let calls = 0;
    const failing: LimiterStore = {
      acquire: (request) => (++calls === 2 ? Promise.reject(new Error('table unreachable')) : inner.acquire(request)),
      release: (request) => inner.release(request),
      settle: (request) => inner.settle(request),
    };
    const key = { pk: 'quota#queue#q', sk: 'points' };
    const points = spec({ type: 'points', capacity: 1_000, refill: 1_000, per: 'second' });
    await expect(acquireSharded(failing, { key, spec: points, nowMs: 0, token: 'quota', cost: 600 }, mulberry32(1))).rejects.toThrow('table unreachable');
    let left = 0;
    for (const shard of shardsOf(key, points)) {
      while ((await inner.acquire({ key: shard.key, spec: shard.spec, nowMs: 0, token: 'quota', cost: 1 })).allowed) left += 1;
    }
    expect(left).toBe(1_000);
  });
});

describe('a queue quota of 10,000 jobs a second', () => {
  it('admits at most its burst at once over 40 shards, one request of 1,000 jobs too', async () => {
    const { store, writes } = countingStore();
    const quotas = resolveQuotas({ queues: { email: { limit: 10_000, per: 'second', burst: 12_000 } } });
    const options = { store, now: () => 0, random: mulberry32(11) };
    expect((await checkQuotas(quotas, { queue: 'email', jobs: 1_000 }, options)).allowed).toBe(true);
    let admitted = 1_000;
    for (let request = 0; request < 12_000; request += 1) {
      if ((await checkQuotas(quotas, { queue: 'email', jobs: 1 }, options)).allowed) admitted += 1;
    }
    expect(admitted).toBeLessThanOrEqual(12_000);
    expect(admitted).toBeGreaterThan(11_500);
    expect(writes.size).toBe(40);
  });
});
