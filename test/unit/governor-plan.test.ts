import { describe, expect, it } from 'vitest';
import { estimateAgeSeconds, governorPeriodMs, governTiers, GOVERNOR, settleRounds, type TierReading } from '../../lib/governor/plan.js';

/** The three tiers of the README's example, most urgent first. */
function tiers(readings: Record<'critical' | 'default' | 'bulk', Partial<TierReading>>): TierReading[] {
  const targets = { critical: 5, default: 60, bulk: 3600 } as const;
  return (['critical', 'default', 'bulk'] as const).map((name) => ({
    name, targetSeconds: targets[name], backlog: 0, ageSeconds: 0, current: GOVERNOR.floor, ...readings[name],
  }));
}

describe('governTiers', () => {
  it('gives an idle queue its floors and the rest to the most urgent tier', () => {
    const decision = governTiers({ invocations: 12, perInvocation: 5, tiers: tiers({ critical: {}, default: {}, bulk: {} }) });
    expect(decision.concurrency).toEqual({ critical: 8, default: 2, bulk: 2 });
    expect(decision.late).toEqual([]);
  });

  it('gives a bulk backlog everything above the floors while the higher tiers are idle', () => {
    const decision = governTiers({
      invocations: 12, perInvocation: 5,
      tiers: tiers({ critical: { current: 8 }, default: {}, bulk: { backlog: 5000, ageSeconds: 3 } }),
      // critical has wanted less for two rounds already: this third one lets it fall.
      previous: { lowRounds: { critical: 2 } },
    });
    expect(decision.concurrency).toEqual({ critical: 2, default: 2, bulk: 8 });
    expect(decision.state).toEqual({ lowRounds: {} });
  });

  it('moves capacity to a critical burst at once, taking it from bulk whatever bulk had', () => {
    const decision = governTiers({
      invocations: 12, perInvocation: 5,
      tiers: tiers({ critical: { backlog: 200, ageSeconds: 1 }, default: {}, bulk: { backlog: 4000, ageSeconds: 40, current: 8 } }),
    });
    expect(decision.concurrency).toEqual({ critical: 8, default: 2, bulk: 2 });
    expect(decision.state).toEqual({ lowRounds: {} });
  });

  it('serves the tiers in priority order, each up to what its backlog can use', () => {
    const decision = governTiers({
      invocations: 20, perInvocation: 5,
      tiers: tiers({ critical: { backlog: 15, ageSeconds: 1 }, default: { backlog: 40, ageSeconds: 10 }, bulk: { backlog: 5000, ageSeconds: 100 } }),
    });
    // critical wants 3 (15 jobs, 5 a batch), default 8; bulk takes what is left.
    expect(decision.concurrency).toEqual({ critical: 3, default: 8, bulk: 9 });
  });

  it('raises a late tier\'s floor to an equal share (aging), even under a more urgent burst', () => {
    const decision = governTiers({
      invocations: 12, perInvocation: 5,
      tiers: tiers({ critical: { backlog: 500, ageSeconds: 2 }, default: {}, bulk: { backlog: 5000, ageSeconds: 3_700 } }),
    });
    expect(decision.late).toEqual(['bulk']);
    expect(decision.concurrency).toEqual({ critical: 6, default: 2, bulk: 4 });
  });

  it('keeps a tier that wants less for two rounds, and lowers it on the third (hysteresis)', () => {
    const input = { invocations: 12, perInvocation: 5, tiers: tiers({ critical: {}, default: {}, bulk: { backlog: 10, ageSeconds: 1, current: 8 } }) };
    const first = governTiers(input);
    expect(first.concurrency).toEqual({ critical: 2, default: 2, bulk: 8 });
    expect(first.state).toEqual({ lowRounds: { bulk: 1 } });
    const second = governTiers({ ...input, previous: first.state });
    expect(second.concurrency).toEqual({ critical: 2, default: 2, bulk: 8 });
    expect(second.state).toEqual({ lowRounds: { bulk: 2 } });
    const third = governTiers({ ...input, previous: second.state });
    // bulk wants 2 (10 jobs) and the rest goes back to the most urgent tier.
    expect(third.concurrency).toEqual({ critical: 8, default: 2, bulk: 2 });
    expect(third.state).toEqual({ lowRounds: {} });
  });

  it('forgets a pending decrease as soon as a round wants as much again (no flapping)', () => {
    const input = { invocations: 12, perInvocation: 5, tiers: tiers({ critical: {}, default: {}, bulk: { backlog: 100, ageSeconds: 1, current: 8 } }) };
    const decision = governTiers({ ...input, previous: { lowRounds: { bulk: 2 } } });
    expect(decision.concurrency).toEqual({ critical: 2, default: 2, bulk: 8 });
    expect(decision.state).toEqual({ lowRounds: {} });
  });

  it.each([
    [6, 1, { critical: 2, default: 2, bulk: 2 }],
    [7, 1, { critical: 2, default: 2, bulk: 3 }],
    [1000, 10, { critical: 2, default: 2, bulk: 996 }],
  ])('never exceeds %i invocations, nor goes under the floors', (invocations, perInvocation, expected) => {
    const decision = governTiers({
      invocations, perInvocation,
      tiers: tiers({ critical: { current: 500 }, default: { current: 500 }, bulk: { backlog: 1_000_000, ageSeconds: 10, current: 500 } }),
    });
    expect(decision.concurrency).toEqual(expected);
    expect(Object.values(decision.concurrency).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(invocations);
  });
});

describe('estimateAgeSeconds', () => {
  const now = 1_000_000;
  it.each([
    ['no backlog', 0, { ms: 9_000, atMs: now }, 0],
    ['never reported', 5, undefined, undefined],
    ['a fresh report', 5, { ms: 4_000, atMs: now - 15_000 }, 4],
    ['a stale report: the time since is added', 5, { ms: 4_000, atMs: now - 50_000 }, 34],
  ])('%s', (_label, backlog, lag, expected) => {
    expect(estimateAgeSeconds(backlog, lag, now)).toBe(expected);
  });
});

describe('the governor\'s period', () => {
  it('is half the tightest target, from 2 to 10 s, and a tier waits 30 s of rounds before it gets less', () => {
    expect([governorPeriodMs([5, 60, 3600]), governorPeriodMs([1, 60]), governorPeriodMs([60, 3600]), governorPeriodMs([])]).toEqual([2_500, 2_000, 10_000, 10_000]);
    expect([settleRounds(2_500), settleRounds(10_000), settleRounds(7_000)]).toEqual([12, 3, 5]);
  });
});

