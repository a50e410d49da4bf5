import { describe, expect, it } from 'vitest';
import { acquireLease, expectedFreeInMs, releaseLease } from '../../lib/limiters/concurrent.js';
import { EMPTY_ENTRY_SET, type EntrySetState } from '../../lib/limiters/entry-set.js';
import { admitToWindow } from '../../lib/limiters/window.js';

type Step = [label: string, nowMs: number, id: string, allowed: boolean, retryAfterMs: number, entries: Record<string, number>];

/** Runs `steps` in order, threading the state, and checks every answer. */
function play(steps: readonly Step[], decide: (state: EntrySetState, nowMs: number, id: string) => ReturnType<typeof admitToWindow>): void {
  let state = EMPTY_ENTRY_SET;
  for (const [label, nowMs, id, allowed, retryAfterMs, entries] of steps) {
    const decision = decide(state, nowMs, id);
    expect({ label, allowed: decision.allowed, retryAfterMs: decision.retryAfterMs, entries: decision.newState.entries }).toEqual({ label, allowed, retryAfterMs, entries });
    state = decision.newState;
  }
}

describe('acquireLease (concurrent, limit 2, lock timeout 10 s)', () => {
  const lease = (state: EntrySetState, nowMs: number, leaseId: string) => acquireLease(state, nowMs, { leaseId, limit: 2, lockTimeoutMs: 10_000 });

  it('grants up to the limit; refused, nothing released yet, expects a lease to last as long again as it has', () => {
    play(
      [
        ['first lease', 0, 'a', true, 0, { a: 10_000 }],
        ['second lease', 100, 'b', true, 0, { a: 10_000, b: 10_100 }],
        ['full: b, held 100 ms, may take 100 ms more', 200, 'c', false, 100, { a: 10_000, b: 10_100 }],
        ['a expires at 10 000: its slot is free', 10_000, 'd', true, 0, { b: 10_100, d: 20_000 }],
        ['full again: b expires in 100 ms, d just started (50 ms at least)', 10_000, 'e', false, 50, { b: 10_100, d: 20_000 }],
      ],
      lease,
    );
  });

  it('expects a lease to end as long after its start as the last lease was held', () => {
    const full = { entries: { a: 10_000, b: 10_300 } };
    const withHold = (lastHoldMs: number, nowMs: number) => acquireLease(full, nowMs, { leaseId: 'c', limit: 2, lockTimeoutMs: 10_000, lastHoldMs }).retryAfterMs;
    expect(withHold(500, 400)).toBe(100);
    // Both overdue: the longer-held lease is expected to last as long again, capped by its expiry.
    expect(withHold(500, 900)).toBe(600);
    expect(withHold(500, 9_800)).toBe(200);
    expect(expectedFreeInMs(EMPTY_ENTRY_SET, 0, { lockTimeoutMs: 10_000 })).toBe(10_000);
  });

  it('lists the expired leases it dropped', () => {
    const decision = lease({ entries: { a: 5, b: 7, c: 50 } }, 10, 'd');
    expect(decision.expired).toEqual({ a: 5, b: 7 });
    expect(decision.newState.entries).toEqual({ c: 50, d: 10_010 });
  });

  it('frees a slot at once when a lease is released', () => {
    const full = { entries: { a: 10_000, b: 10_100 } };
    expect(lease(releaseLease(full, 'a'), 200, 'c').allowed).toBe(true);
    expect(releaseLease(full, 'unknown')).toEqual(full);
  });

  it('rounds the wait up to whole seconds for Retry-After', () => {
    expect(lease({ entries: { a: 10_000, b: 10_100 } }, 2_200, 'c').retryAfterSeconds).toBe(3);
  });
});

describe('admitToWindow (sliding window, 3 per 1000 ms)', () => {
  const admit = (state: EntrySetState, nowMs: number, entryId: string) => admitToWindow(state, nowMs, { entryId, limit: 3, intervalMs: 1_000 });

  it('admits 3 in any trailing second, exactly', () => {
    play(
      [
        ['t=0', 0, 'a', true, 0, { a: 0 }],
        ['t=100', 100, 'b', true, 0, { a: 0, b: 100 }],
        ['t=999', 999, 'c', true, 0, { a: 0, b: 100, c: 999 }],
        ['t=999 full: a leaves the window at 1000', 999, 'd', false, 1, { a: 0, b: 100, c: 999 }],
        ['t=1000: a has left', 1_000, 'e', true, 0, { b: 100, c: 999, e: 1_000 }],
        ['t=1000 full: b leaves at 1100', 1_000, 'f', false, 100, { b: 100, c: 999, e: 1_000 }],
        ['t=1099 still full', 1_099, 'g', false, 1, { b: 100, c: 999, e: 1_000 }],
        ['t=1100: b has left', 1_100, 'h', true, 0, { c: 999, e: 1_000, h: 1_100 }],
      ],
      admit,
    );
  });

  it('does not reset at interval boundaries as a bucket would', () => {
    // 3 at t=900..902: a fixed per-second bucket would admit 3 more at t=1000; the window does not.
    const state = { entries: { a: 900, b: 901, c: 902 } };
    expect(admit(state, 1_000, 'd')).toMatchObject({ allowed: false, retryAfterMs: 900 });
  });
});
