import { describe, expect, it } from 'vitest';
import type { GcraState } from '../../lib/limiters/gcra.js';
import { leakyParams, takeFromLeaky } from '../../lib/limiters/leaky.js';
import { pointsParams, settlePoints, takeFromPoints } from '../../lib/limiters/points.js';

describe('leakyParams', () => {
  it('keeps time in units of 1/limit ms so that a drip is a whole number of units', () => {
    expect(leakyParams({ limit: 7, intervalMs: 60_000 })).toEqual({ scale: 7n, emission: 60_000n, tolerance: 420_000n });
  });
});

describe('takeFromLeaky (3 per 3 s: one drip per second, bursts of 3)', () => {
  const spec = { limit: 3, intervalMs: 3_000 };

  it('allows a burst of 3, then one call per second', () => {
    const steps: [nowMs: number, allowed: boolean, retryAfterMs: number, step: string, tat: bigint][] = [
      [0, true, 0, 'restart', 3_000n],
      [0, true, 0, 'advance', 6_000n],
      [0, true, 0, 'advance', 9_000n],
      [0, false, 1_000, 'advance', 9_000n],
      [999, false, 1, 'advance', 9_000n],
      [1_000, true, 0, 'advance', 12_000n],
      [1_500, false, 500, 'advance', 12_000n],
      [10_000, true, 0, 'restart', 33_000n],
    ];
    let state: GcraState | undefined;
    for (const [nowMs, allowed, retryAfterMs, step, tat] of steps) {
      const decision = takeFromLeaky(state, nowMs, spec);
      expect({ nowMs, allowed: decision.allowed, retryAfterMs: decision.retryAfterMs, step: decision.step, tat: decision.newState?.tat }).toEqual({
        nowMs,
        allowed,
        retryAfterMs,
        step,
        tat,
      });
      state = decision.newState;
    }
  });

  it('is exact for rates that do not divide the interval: 7 per minute waits 60 000 / 7 ms, rounded up', () => {
    const full = { tat: 420_000n, scale: 7n };
    expect(takeFromLeaky(full, 0, { limit: 7, intervalMs: 60_000 })).toMatchObject({ allowed: false, retryAfterMs: 8_572, retryAfterSeconds: 9 });
  });

  it('stays exact at epoch-millisecond magnitudes', () => {
    const now = Date.UTC(2026, 10, 22, 12);
    const first = takeFromLeaky(undefined, now, { limit: 7, intervalMs: 60_000 });
    expect(first.newState).toEqual({ tat: BigInt(now) * 7n + 60_000n, scale: 7n });
  });

  it('restarts a bucket kept at another scale (the rate changed)', () => {
    expect(takeFromLeaky({ tat: 10n ** 15n, scale: 5n }, 0, spec)).toMatchObject({ allowed: true, step: 'restart', newState: { tat: 3_000n, scale: 3n } });
  });
});

describe('takeFromPoints (capacity 100, refill 10 per second)', () => {
  const spec = { capacity: 100, refill: 10, intervalMs: 1_000 };

  it('starts full and refills 10 points per second', () => {
    const steps: [nowMs: number, cost: number, allowed: boolean, retryAfterMs: number, tat: bigint][] = [
      [0, 60, true, 0, 60_000n],
      [0, 50, false, 1_000, 60_000n],
      [1_000, 50, true, 0, 110_000n],
      [1_000, 1, false, 100, 110_000n],
      [1_100, 1, true, 0, 111_000n],
    ];
    let state: GcraState | undefined;
    for (const [nowMs, cost, allowed, retryAfterMs, tat] of steps) {
      const decision = takeFromPoints(state, nowMs, spec, cost);
      expect({ nowMs, cost, allowed: decision.allowed, retryAfterMs: decision.retryAfterMs, tat: decision.newState?.tat }).toEqual({ nowMs, cost, allowed, retryAfterMs, tat });
      state = decision.newState;
    }
  });

  it('takes the whole capacity from a full bucket, and not one point more', () => {
    expect(takeFromPoints(undefined, 0, spec, 100).allowed).toBe(true);
    expect(takeFromPoints({ tat: 100_000n, scale: 10n }, 0, spec, 1)).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it('describes the same bucket in its parameters', () => {
    expect(pointsParams(spec)).toEqual({ scale: 10n, emission: 1_000n, tolerance: 100_000n });
  });
});

describe('settlePoints (capacity 100, refill 10 per second, at t = 1000 ms)', () => {
  const spec = { capacity: 100, refill: 10, intervalMs: 1_000 };
  const draining = { tat: 110_000n, scale: 10n }; // 100 points in use at t = 1000 (now = 10 000 units)
  const drained = { tat: 5_000n, scale: 10n };

  it.each([
    ['a refund gives points back', draining, -30, 'advance', { tat: 80_000n, scale: 10n }],
    ['a refund never takes the bucket below empty', draining, -200, 'clamp', { tat: 10_000n, scale: 10n }],
    ['a charge may take the bucket past full', draining, 20, 'advance', { tat: 130_000n, scale: 10n }],
    ['a charge on a drained bucket counts from now', drained, 5, 'restart', { tat: 15_000n, scale: 10n }],
    ['a refund on a drained bucket changes nothing', drained, -5, 'none', drained],
    ['settling the estimate changes nothing', draining, 0, 'none', draining],
    ['a refund on a bucket never written changes nothing', undefined, -5, 'none', undefined],
  ])('%s', (_label, state, delta, step, newState) => {
    expect(settlePoints(state, 1_000, spec, delta)).toEqual({ step, newState });
  });

  it('makes the refunded points available at once', () => {
    const { newState } = settlePoints(draining, 1_000, spec, -30);
    expect(takeFromPoints(newState, 1_000, spec, 30).allowed).toBe(true);
    expect(takeFromPoints(newState, 1_000, spec, 31)).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });
});
