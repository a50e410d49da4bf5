import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../lib/errors/base.js';
import { MemoryLimiterStore } from '../../lib/limiters/memory-store.js';
import type { LimiterStore } from '../../lib/limiters/store.js';
import { checkQuotas, parseQuotas, quotaExceededResponse, rateLimitsHeader, resolveQuotas, type QuotaDecision } from '../../lib/quota/index.js';

const T0 = Date.UTC(2026, 10, 22, 12);

function refused(decision: QuotaDecision): Extract<QuotaDecision, { allowed: false }> {
  if (decision.allowed) throw new Error('expected a refusal');
  return decision;
}

describe('resolveQuotas', () => {
  it('turns each rule into a token bucket that holds burst jobs and refills limit per interval', () => {
    const quotas = resolveQuotas({ default: { limit: 1000, per: 'minute' }, tenants: { acme: { limit: 10, per: 'second', burst: 50 }, internal: 'unlimited' }, queues: { bulk: { limit: 100, per: 60 } } });
    expect(quotas.default).toEqual({ type: 'points', capacity: 1000, refill: 1000, intervalMs: 60_000, waitMs: 0 });
    expect(quotas.tenants.get('acme')).toEqual({ type: 'points', capacity: 50, refill: 10, intervalMs: 1_000, waitMs: 0 });
    expect(quotas.tenants.get('internal')).toBe('unlimited');
    expect(quotas.queues.get('bulk')).toEqual({ type: 'points', capacity: 100, refill: 100, intervalMs: 60_000, waitMs: 0 });
  });

  it.each([
    ['a zero limit', { default: { limit: 0, per: 'minute' } }, 'quotas.default.limit must be an integer from 1 to 1000000000, but 0 was provided'],
    ['an unknown interval', { tenants: { acme: { limit: 5, per: 'fortnight' } } }, `quotas.tenants.acme.per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but "fortnight" was provided`],
    ['an unknown field', { queues: { bulk: { limit: 5, per: 'second', rate: 3 } } }, 'quotas.queues.bulk.rate must be absent (a quota takes limit, per, burst), but 3 was provided'],
    ['a misspelt section', { tenant: {} }, 'quotas.tenant must be absent (quotas take default, tenants, queues), but an object was provided'],
    ['a string rule for a queue', { queues: { bulk: 'unlimited' } }, `quotas.queues.bulk must be an object with limit and per (or 'unlimited' for a tenant), but "unlimited" was provided`],
  ])('rejects %s', (_label, config, message) => {
    expect(() => resolveQuotas(config)).toThrow(new ConfigurationError(message));
  });

  it('reads the JSON the construct passes, and no text as no quotas', () => {
    expect(parseQuotas('{"default":{"limit":5,"per":"second"}}').default?.capacity).toBe(5);
    expect(parseQuotas(undefined).default).toBeUndefined();
    expect(() => parseQuotas('{')).toThrow('quotas must be JSON');
  });
});

describe('checkQuotas', () => {
  const quotas = resolveQuotas({ default: { limit: 10, per: 'second' }, tenants: { vip: 'unlimited' }, queues: { bulk: { limit: 5, per: 'second' } } });

  it('admits a tenant up to its burst, then refuses with the time until enough jobs have dripped back', async () => {
    const options = { store: new MemoryLimiterStore(), now: () => T0 };
    expect(await checkQuotas(quotas, { tenant: 'acme', queue: 'default', jobs: 8 }, options)).toEqual({ allowed: true });
    expect(await checkQuotas(quotas, { tenant: 'acme', queue: 'default', jobs: 5 }, options)).toEqual({
      allowed: false,
      retryAfterSeconds: 1,
      limits: [{ scope: 'tenant', id: 'acme', queues: [], retryAfterSeconds: 1, reason: 'quota_exceeded' }],
    });
    // Each tenant has its own bucket.
    expect((await checkQuotas(quotas, { tenant: 'globex', queue: 'default', jobs: 10 }, options)).allowed).toBe(true);
  });

  it('exempts unlimited tenants and callers without a tenant from tenant quotas', async () => {
    const options = { store: new MemoryLimiterStore(), now: () => T0 };
    for (let i = 0; i < 3; i += 1) {
      expect((await checkQuotas(quotas, { tenant: 'vip', queue: 'default', jobs: 10 }, options)).allowed).toBe(true);
      expect((await checkQuotas(quotas, { queue: 'default', jobs: 10 }, options)).allowed).toBe(true);
    }
  });

  it('gives the tenant its points back when the queue refuses', async () => {
    const options = { store: new MemoryLimiterStore(), now: () => T0 };
    expect((await checkQuotas(quotas, { tenant: 'acme', queue: 'bulk', jobs: 5 }, options)).allowed).toBe(true);
    const decision = refused(await checkQuotas(quotas, { tenant: 'acme', queue: 'bulk', jobs: 3 }, options));
    expect(decision.limits).toEqual([{ scope: 'queue', id: 'bulk', queues: ['bulk'], retryAfterSeconds: 1, reason: 'quota_exceeded' }]);
    // 5 of acme's 10 are used; the refused 3 were refunded, so 5 more fit.
    expect((await checkQuotas(quotas, { tenant: 'acme', queue: 'default', jobs: 5 }, options)).allowed).toBe(true);
  });

  it('refuses a request larger than the bucket could ever hold, without taking anything', async () => {
    const settles: number[] = [];
    const memory = new MemoryLimiterStore();
    const store: LimiterStore = { acquire: (r) => memory.acquire(r), release: (r) => memory.release(r), settle: (r) => (settles.push(r.delta), memory.settle(r)) };
    const decision = refused(await checkQuotas(quotas, { tenant: 'acme', queue: 'bulk', jobs: 6 }, { store, now: () => T0 }));
    expect(decision.limits).toEqual([{ scope: 'queue', id: 'bulk', queues: ['bulk'], retryAfterSeconds: 0, reason: 'batch_exceeds_quota' }]);
    expect(settles).toEqual([-6]);
    expect((await checkQuotas(quotas, { tenant: 'acme', queue: 'default', jobs: 10 }, { store, now: () => T0 })).allowed).toBe(true);
  });
});

describe('quotaExceededResponse', () => {
  it('answers 429 with Retry-After, the rate-limits header and the same facts in JSON', () => {
    const response = quotaExceededResponse({ allowed: false, retryAfterSeconds: 12, limits: [{ scope: 'tenant', id: 'acme', queues: [], retryAfterSeconds: 12, reason: 'quota_exceeded' }] });
    expect({ ...response, body: JSON.parse(response.body) }).toEqual({
      statusCode: 429,
      headers: { 'Content-Type': 'application/json', 'Retry-After': '12', 'X-Hopper-Rate-Limits': '12::tenant:quota_exceeded' },
      body: {
        error: {
          code: 'quota_exceeded',
          message: 'the tenant quota of acme is spent; retry after 12 s',
          retry_after: 12,
          limits: [{ scope: 'tenant', id: 'acme', queues: [], retry_after: 12, reason: 'quota_exceeded' }],
        },
      },
    });
  });

  it('answers 413 without Retry-After when the request can never fit', () => {
    const response = quotaExceededResponse({ allowed: false, retryAfterSeconds: 0, limits: [{ scope: 'queue', id: 'bulk', queues: ['bulk'], retryAfterSeconds: 0, reason: 'batch_exceeds_quota' }] });
    expect({ statusCode: response.statusCode, headers: response.headers }).toEqual({
      statusCode: 413,
      headers: { 'Content-Type': 'application/json', 'X-Hopper-Rate-Limits': '0:bulk:queue:batch_exceeds_quota' },
    });
  });

  it('joins several limits and their queues as Sentry does', () => {
    expect(
      rateLimitsHeader([
        { scope: 'queue', id: 'a', queues: ['a', 'b'], retryAfterSeconds: 3, reason: 'quota_exceeded' },
        { scope: 'tenant', id: 'acme', queues: [], retryAfterSeconds: 60, reason: 'quota_exceeded' },
      ]),
    ).toBe('3:a;b:queue:quota_exceeded, 60::tenant:quota_exceeded');
  });
});
