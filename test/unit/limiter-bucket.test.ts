import { describe, expect, it } from 'vitest';
import { bucketStart, takeFromBucket, type BucketState } from '../../lib/limiters/bucket.js';

describe('bucketStart', () => {
  it.each([
    [999, 1_000, 0],
    [1_000, 1_000, 1_000],
    [Date.UTC(2026, 10, 22, 12, 42, 51, 999), 60_000, Date.UTC(2026, 10, 22, 12, 42)],
    [Date.UTC(2026, 10, 22, 12, 42, 51, 999), 86_400_000, Date.UTC(2026, 10, 22)],
  ])('aligns %i to a %i ms boundary: %i', (nowMs, intervalMs, start) => {
    expect(bucketStart(nowMs, intervalMs)).toBe(start);
  });
});

describe('takeFromBucket (2 per second)', () => {
  const spec = { limit: 2, intervalMs: 1_000 };

  it('counts per aligned second and refuses until the next one', () => {
    const steps: [nowMs: number, allowed: boolean, retryAfterMs: number, step: string, state: BucketState][] = [
      [0, true, 0, 'restart', { startMs: 0, intervalMs: 1_000, count: 1 }],
      [999, true, 0, 'advance', { startMs: 0, intervalMs: 1_000, count: 2 }],
      [999, false, 1, 'advance', { startMs: 0, intervalMs: 1_000, count: 2 }],
      [1_000, true, 0, 'restart', { startMs: 1_000, intervalMs: 1_000, count: 1 }],
      [1_500, true, 0, 'advance', { startMs: 1_000, intervalMs: 1_000, count: 2 }],
      [1_500, false, 500, 'advance', { startMs: 1_000, intervalMs: 1_000, count: 2 }],
      [5_250, true, 0, 'restart', { startMs: 5_000, intervalMs: 1_000, count: 1 }],
    ];
    let state: BucketState | undefined;
    for (const [nowMs, allowed, retryAfterMs, step, expected] of steps) {
      const decision = takeFromBucket(state, nowMs, spec);
      expect({ nowMs, allowed: decision.allowed, retryAfterMs: decision.retryAfterMs, step: decision.step, state: decision.newState }).toEqual({
        nowMs,
        allowed,
        retryAfterMs,
        step,
        state: expected,
      });
      state = decision.newState;
    }
  });

  it.each([
    ['a full minute bucket: wait for the next minute', { startMs: 60_000, intervalMs: 60_000, count: 5 }, 90_000, { limit: 5, intervalMs: 60_000 }, false, 30_000, 30],
    ['a bucket written by a clock ahead of ours counts as current', { startMs: 2_000, intervalMs: 1_000, count: 2 }, 1_999, spec, false, 1_001, 2],
    ['a bucket of another interval is replaced', { startMs: 0, intervalMs: 1_000, count: 2 }, 500, { limit: 2, intervalMs: 60_000 }, true, 0, 0],
  ])('%s', (_label, state, nowMs, request, allowed, retryAfterMs, retryAfterSeconds) => {
    expect(takeFromBucket(state, nowMs, request)).toMatchObject({ allowed, retryAfterMs, retryAfterSeconds });
  });
});
