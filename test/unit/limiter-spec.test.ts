import { describe, expect, it } from 'vitest';
import { InvalidLimiterSpecError, resolveLimiterSpec, validateLimiterName } from '../../lib/limiters/spec.js';
import { isHopperError } from '../../lib/errors/base.js';

function invalid(run: () => unknown): InvalidLimiterSpecError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidLimiterSpecError) return error;
    throw error;
  }
  throw new Error('expected an InvalidLimiterSpecError');
}

describe('resolveLimiterSpec', () => {
  it.each([
    [{ type: 'concurrent', limit: 10 }, { type: 'concurrent', limit: 10, lockTimeoutMs: 30_000, waitMs: 5_000 }],
    [{ type: 'concurrent', limit: 1, lockTimeout: 900, wait: 0.5 }, { type: 'concurrent', limit: 1, lockTimeoutMs: 900_000, waitMs: 500 }],
    [{ type: 'bucket', limit: 100, per: 'second' }, { type: 'bucket', limit: 100, intervalMs: 1_000, waitMs: 0 }],
    [{ type: 'window', limit: 5, per: 'hour', wait: 5 }, { type: 'window', limit: 5, intervalMs: 3_600_000, waitMs: 5_000 }],
    [{ type: 'leaky', limit: 60, per: 'minute' }, { type: 'leaky', limit: 60, intervalMs: 60_000, waitMs: 0 }],
    [{ type: 'leaky', limit: 10, per: 15 }, { type: 'leaky', limit: 10, intervalMs: 15_000, waitMs: 0 }],
    [{ type: 'points', capacity: 1000, refill: 50, per: 'second' }, { type: 'points', capacity: 1000, refill: 50, intervalMs: 1_000, waitMs: 0 }],
    [{ type: 'bucket', limit: 1, per: 'day' }, { type: 'bucket', limit: 1, intervalMs: 86_400_000, waitMs: 0 }],
  ])('resolves %j', (spec, resolved) => {
    expect(resolveLimiterSpec('stripe', spec)).toEqual(resolved);
  });

  it.each([
    ['no spec', undefined, 'spec', 'limiter "stripe": spec must be an object with a type, but nothing was provided'],
    ['an unknown type', { type: 'fixed', limit: 1 }, 'type', `limiter "stripe": type must be one of 'concurrent', 'bucket', 'window', 'leaky', 'points', but "fixed" was provided`],
    ['a zero limit', { type: 'concurrent', limit: 0 }, 'limit', 'limiter "stripe": limit must be an integer from 1 to 1000, but 0 was provided'],
    ['a fractional limit', { type: 'bucket', limit: 2.5, per: 'second' }, 'limit', 'limiter "stripe": limit must be an integer from 1 to 1000000000, but 2.5 was provided'],
    ['a window too large for one item', { type: 'window', limit: 5000, per: 'hour' }, 'limit', 'limiter "stripe": limit must be an integer from 1 to 1000, but 5000 was provided'],
    ['a missing interval', { type: 'leaky', limit: 60 }, 'per', `limiter "stripe": per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but nothing was provided`],
    ['an unknown interval name', { type: 'bucket', limit: 1, per: 'week' }, 'per', `limiter "stripe": per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but "week" was provided`],
    ['a negative wait', { type: 'concurrent', limit: 1, wait: -1 }, 'wait', 'limiter "stripe": wait must be a number of seconds from 0 to 900, but -1 was provided'],
    ['a fractional lock timeout', { type: 'concurrent', limit: 1, lockTimeout: 1.5 }, 'lockTimeout', 'limiter "stripe": lockTimeout must be a whole number of seconds from 1 to 86400, but 1.5 was provided'],
    ['a Sidekiq-style option name', { type: 'concurrent', limit: 1, lock_timeout: 30 }, 'lock_timeout', 'limiter "stripe": lock_timeout must be absent (a concurrent limiter takes type, limit, lockTimeout, wait), but 30 was provided'],
    ['points without refill', { type: 'points', capacity: 10, per: 'second' }, 'refill', 'limiter "stripe": refill must be an integer from 1 to 1000000000, but nothing was provided'],
  ])('rejects %s', (_label, spec, field, message) => {
    const error = invalid(() => resolveLimiterSpec('stripe', spec));
    expect({ field: error.field, message: error.message }).toEqual({ field, message });
    expect(isHopperError(error, 'InvalidLimiterSpecError')).toBe(true);
  });
});

describe('validateLimiterName', () => {
  it.each([
    ['a static name', 'erp'],
    ['a keyed name', 'stripe:acct_1Hx'],
    ['a name with / and .', 'tenant/acme.com'],
    ['an email', 'user@example.com'],
    ['200 characters', 'a'.repeat(200)],
  ])('accepts %s', (_label, name) => {
    expect(validateLimiterName(name)).toBe(name);
  });

  it.each([
    ['an empty name', '', '""'],
    ['a space', 'has space', '"has space"'],
    ['the key separator #', 'limiter#x', '"limiter#x"'],
    ['201 characters', 'a'.repeat(201), `"${'a'.repeat(36)}...`],
  ])('rejects %s', (_label, name, received) => {
    expect(invalid(() => validateLimiterName(name))).toMatchObject({ field: 'name', received });
  });
});
