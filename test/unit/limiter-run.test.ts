import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../lib/errors/base.js';
import { LimiterUnavailableError } from '../../lib/errors/limiter.js';
import { limiter, limiterFactory, type LimiterOptions } from '../../lib/limiters/limiter.js';
import { MemoryLimiterStore } from '../../lib/limiters/memory-store.js';
import { InvalidLimiterSpecError } from '../../lib/limiters/spec.js';
import type { LimiterStore } from '../../lib/limiters/store.js';

/** A fake clock whose sleep advances it, and a record of every sleep. */
function fakeTime(startMs = Date.UTC(2026, 10, 22, 12)) {
  let nowMs = startMs;
  const sleeps: number[] = [];
  return {
    now: () => nowMs,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      nowMs += ms;
    },
    advance: (ms: number) => (nowMs += ms),
    sleeps,
  };
}

function setup(overrides: Partial<LimiterOptions> = {}) {
  const time = fakeTime();
  let token = 0;
  const options: LimiterOptions = {
    store: new MemoryLimiterStore(),
    now: time.now,
    sleep: time.sleep,
    newToken: () => `t${(token += 1)}`,
    random: () => 0.5,
    ...overrides,
  };
  return { time, options };
}

async function rejection(promise: Promise<unknown>): Promise<RateLimitedError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RateLimitedError) return error;
    throw error;
  }
  throw new Error('expected a RateLimitedError');
}

describe('limiter: concurrent', () => {
  it('runs the block and gives the lease back when it returns', async () => {
    const { options } = setup();
    const erp = limiter('erp', { type: 'concurrent', limit: 1 }, options);
    expect(await erp.run(() => 'first')).toBe('first');
    expect(await erp.withinLimit(async () => 'second')).toBe('second');
  });

  it('gives the lease back when the block throws', async () => {
    const { options } = setup();
    const erp = limiter('erp', { type: 'concurrent', limit: 1 }, options);
    await expect(erp.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await erp.run(() => 'after')).toBe('after');
  });

  it('throws RateLimitedError with the time the held lease is expected to end, from how long the last one was held', async () => {
    const { options, time } = setup();
    const erp = limiter('erp', { type: 'concurrent', limit: 1, lockTimeout: 30, wait: 0 }, options);
    await erp.run(() => time.advance(20_000));
    const held = await erp.acquire();
    time.advance(5_000);
    const error = await rejection(erp.run(() => 'never'));
    expect({ name: error.name, limiter: error.limiter, retryAfterSeconds: error.retryAfterSeconds }).toEqual({
      name: 'RateLimitedError',
      limiter: 'erp',
      retryAfterSeconds: 15,
    });
    expect(held.allowed).toBe(true);
  });

  it('waits 5 s by default, asking again when the lease is expected to end, with jitter', async () => {
    const { options, time } = setup();
    const erp = limiter('erp', { type: 'concurrent', limit: 1 }, options);
    await erp.acquire();
    await rejection(erp.run(() => 'never'));
    // Nothing released yet: the lease, held t ms, is expected to take t ms more (at least 50);
    // random() = 0.5 adds a quarter of that (at most 500 ms). At 3633.75 ms the next guess no longer fits.
    expect(time.sleeps).toEqual([62.5, 78.75, 177.5, 398.75, 897.5, 2_018.75]);
  });

  it('gives up at once when the lease is expected to end after the wait', async () => {
    const { options, time } = setup();
    const erp = limiter('erp', { type: 'concurrent', limit: 1, lockTimeout: 60 }, options);
    await erp.run(() => time.advance(10_000));
    await erp.acquire();
    const error = await rejection(erp.run(() => 'never'));
    expect({ retryAfterSeconds: error.retryAfterSeconds, sleeps: time.sleeps }).toEqual({ retryAfterSeconds: 10, sleeps: [] });
  });

  it('runs once a lease is released while it waits', async () => {
    const { options, time } = setup();
    const erp = limiter('erp', { type: 'concurrent', limit: 1, wait: 5 }, options);
    const held = await erp.acquire();
    const releasing = { ...options, sleep: async (ms: number) => {
      await time.sleep(ms);
      if (held.allowed && time.sleeps.length === 2) await held.release();
    } };
    expect(await limiter('erp', { type: 'concurrent', limit: 1, wait: 5 }, releasing).run(() => 'ran')).toBe('ran');
    expect(time.sleeps).toEqual([62.5, 78.75]);
  });

  it('turns a store that cannot be reached into LimiterUnavailableError, asked again within the wait', async () => {
    const memory = new MemoryLimiterStore();
    let failures = 2;
    const store: LimiterStore = {
      acquire: (request) => (failures-- > 0 ? Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' })) : memory.acquire(request)),
      release: (request) => memory.release(request),
      settle: (request) => memory.settle(request),
    };
    const { options, time } = setup({ store });
    const erp = limiter('erp', { type: 'concurrent', limit: 1, wait: 0 }, options);
    const error = await rejection(erp.run(() => 'never'));
    expect({ name: error.name, retryAfterSeconds: error.retryAfterSeconds, cause: error.cause instanceof Error ? error.cause.name : undefined }).toEqual({
      name: 'LimiterUnavailableError', retryAfterSeconds: 1, cause: 'ProvisionedThroughputExceededException',
    });
    expect(error).toBeInstanceOf(LimiterUnavailableError);
    // With a wait, the second failure is asked again a second later (plus jitter), and the third attempt runs.
    expect(await limiter('erp', { type: 'concurrent', limit: 1, wait: 5 }, options).run(() => 'ran')).toBe('ran');
    expect(time.sleeps).toEqual([1_250]);
  });

  it('keys limiters by name', async () => {
    const { options } = setup();
    await limiter('stripe:acct_1', { type: 'concurrent', limit: 1 }, options).acquire();
    expect((await limiter('stripe:acct_2', { type: 'concurrent', limit: 1 }, options).acquire()).allowed).toBe(true);
    expect((await limiter('stripe:acct_1', { type: 'concurrent', limit: 1 }, options).acquire()).allowed).toBe(false);
  });

  it('reports a failed release without failing the block', async () => {
    const failures: string[] = [];
    const memory = new MemoryLimiterStore();
    const store: LimiterStore = {
      acquire: (request) => memory.acquire(request),
      release: () => Promise.reject(new Error('network down')),
      settle: (request) => memory.settle(request),
    };
    const { options } = setup({ store, onCleanupError: (error, name) => failures.push(`${name}: ${error instanceof Error ? error.message : ''}`) });
    expect(await limiter('erp', { type: 'concurrent', limit: 1 }, options).run(() => 'done')).toBe('done');
    expect(failures).toEqual(['erp: network down']);
  });
});

describe('limiter: rate kinds', () => {
  it('waits exactly the retry-after when it fits in the wait', async () => {
    const { options, time } = setup();
    const api = limiter('api', { type: 'bucket', limit: 1, per: 'second', wait: 2 }, options);
    await api.run(() => undefined);
    expect(await api.run(() => 'second call')).toBe('second call');
    expect(time.sleeps).toEqual([1_000]);
  });

  it('does not wait when the retry-after lies beyond the wait', async () => {
    const { options, time } = setup();
    const api = limiter('api', { type: 'bucket', limit: 1, per: 'minute', wait: 5 }, options);
    await api.run(() => undefined);
    const error = await rejection(api.run(() => 'never'));
    expect(error.retryAfterSeconds).toBe(60);
    expect(time.sleeps).toEqual([]);
  });

  it('caps the wait with maxWaitMs (the Lambda time left)', async () => {
    const { options, time } = setup({ maxWaitMs: () => 500 });
    const api = limiter('api', { type: 'leaky', limit: 1, per: 'second', wait: 5 }, options);
    await api.run(() => undefined);
    await rejection(api.run(() => 'never'));
    expect(time.sleeps).toEqual([]);
  });

  it('admits exactly the window limit, then refuses until the oldest call leaves the window', async () => {
    const { options, time } = setup();
    const api = limiter('api', { type: 'window', limit: 3, per: 'second' }, options);
    const answers = [];
    for (let i = 0; i < 4; i += 1) {
      answers.push(await api.acquire());
      time.advance(100);
    }
    expect(answers.map((answer) => answer.allowed)).toEqual([true, true, true, false]);
    expect(answers[3]).toEqual({ allowed: false, retryAfterMs: 700, retryAfterSeconds: 1 });
  });
});

describe('limiter: points', () => {
  const spec = { type: 'points', capacity: 100, refill: 10, per: 'second' } as const;

  it('settles the actual cost: a cheaper block gives points back', async () => {
    const { options } = setup();
    const shopify = limiter('shopify', spec, options);
    const result = await shopify.run(60, (charge) => {
      charge.settle(10);
      return charge.estimate;
    });
    expect(result).toBe(60);
    expect((await shopify.acquire(90)).allowed).toBe(true);
    expect(await shopify.acquire(1)).toEqual({ allowed: false, retryAfterMs: 100, retryAfterSeconds: 1 });
  });

  it('keeps the estimate when the block does not settle', async () => {
    const { options } = setup();
    const shopify = limiter('shopify', spec, options);
    await shopify.run(60, () => undefined);
    expect(await shopify.acquire(41)).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it('charges a block that cost more than its estimate', async () => {
    const { options } = setup();
    const shopify = limiter('shopify', spec, options);
    await shopify.run(10, (charge) => charge.settle(150));
    expect(await shopify.acquire(1)).toMatchObject({ allowed: false, retryAfterMs: 5_100 });
  });

  it.each([
    ['zero', 0],
    ['more than the capacity', 101],
    ['fractional', 1.5],
  ])('rejects a cost that is %s', async (_label, cost) => {
    const { options } = setup();
    await expect(limiter('shopify', spec, options).run(cost, () => undefined)).rejects.toThrow(InvalidLimiterSpecError);
  });
});

describe('limiterFactory', () => {
  it('makes limiters that share the options', async () => {
    const { options } = setup();
    const limiters = limiterFactory(options);
    await limiters('erp', { type: 'concurrent', limit: 1 }).acquire();
    expect((await limiters('erp', { type: 'concurrent', limit: 1 }).acquire()).allowed).toBe(false);
    expect(await limiters('shopify', { type: 'points', capacity: 10, refill: 1, per: 'second' }).run(10, (charge) => charge.estimate)).toBe(10);
  });

  it('validates the spec when the limiter is made', () => {
    const { options } = setup();
    expect(() => limiterFactory(options)('erp', { type: 'concurrent', limit: 0 })).toThrow('limiter "erp": limit must be an integer from 1 to 1000, but 0 was provided');
  });
});
