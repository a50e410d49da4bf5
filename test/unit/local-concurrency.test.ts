import { describe, expect, it } from 'vitest';
import { AccountConcurrency, THROTTLE_REASONS } from '../../local/host/concurrency.js';

const reserved = (logicalId: string, n: number) => ({ logicalId, reservedConcurrency: n });
const open = (logicalId: string) => ({ logicalId, reservedConcurrency: undefined });

describe('account concurrency', () => {
  it('gives a function with a reservation at most that many slots, whatever the others use', () => {
    const account = new AccountConcurrency(1_000, [reserved('Api', 2), open('Worker')]);
    const first = account.acquire(reserved('Api', 2));
    const second = account.acquire(reserved('Api', 2));
    expect(account.acquire(reserved('Api', 2))).toEqual({ throttled: THROTTLE_REASONS.reserved });
    expect('release' in first && 'release' in second).toBe(true);
    if ('release' in first) first.release();
    // Releasing twice frees one slot only.
    if ('release' in first) first.release();
    expect('release' in account.acquire(reserved('Api', 2))).toBe(true);
    expect(account.acquire(reserved('Api', 2))).toEqual({ throttled: THROTTLE_REASONS.reserved });
    expect(account.inUse).toBe(2);
  });

  it('lets the functions without a reservation share what the reservations leave', () => {
    const account = new AccountConcurrency(5, [reserved('Api', 2), open('Worker'), open('Retry')]);
    expect(account.unreserved).toBe(3);
    const leases = [account.acquire(open('Worker')), account.acquire(open('Retry')), account.acquire(open('Worker'))];
    expect(leases.every((lease) => 'release' in lease)).toBe(true);
    expect(account.acquire(open('Retry'))).toEqual({ throttled: THROTTLE_REASONS.account });
    // The reservation is not touched by the others' use.
    expect('release' in account.acquire(reserved('Api', 2))).toBe(true);
    const [lease] = leases;
    if (lease !== undefined && 'release' in lease) lease.release();
    expect('release' in account.acquire(open('Retry'))).toBe(true);
    expect(account.inUse).toBe(4);
  });

  it('throttles every invocation of a function that reserves nothing', () => {
    const account = new AccountConcurrency(1_000, [reserved('Off', 0)]);
    expect(account.acquire(reserved('Off', 0))).toEqual({ throttled: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new AccountConcurrency(0, [])).toThrow('the account concurrency must be an integer of at least 1, but 0 was provided');
  });
});
