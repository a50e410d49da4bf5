import { describe, expect, it } from 'vitest';
import { normalizeJob } from '../../lib/job/model.js';
import { limitedCount, nextLimitedAttempt } from '../../lib/limiters/reschedule.js';
import { mulberry32 } from '../../lib/common/random.js';

const now = new Date('2026-11-22T12:00:00.000Z');
const job = (custom?: Record<string, unknown>) => normalizeJob({ jid: 'j1', jobtype: 'Charge', args: [1], ...(custom ? { custom } : {}) }, { now });

describe('nextLimitedAttempt', () => {
  it.each([
    ['first reschedule: jitter in [0, 5)', undefined, 12, 0.5, 14, 1],
    ['first reschedule, lowest jitter', undefined, 12, 0, 12, 1],
    ['tenth reschedule: jitter in [0, 50)', { limited_count: 9 }, 12, 0.5, 37, 10],
    ['a retry-after of 3 s spreads by 3 s per reschedule', undefined, 3, 0.999, 3 + 2, 1],
    ['a retry-after of 1 s spreads by 1 s per reschedule', { limited_count: 19 }, 1, 0.999, 1 + 19, 20],
    ['a sub-second retry-after still waits a second', undefined, 0, 0, 1, 1],
    ['a fractional retry-after is rounded up', undefined, 2.2, 0, 3, 1],
  ])('%s', (_label, custom, retryAfterSeconds, random, delaySeconds, count) => {
    const attempt = nextLimitedAttempt(job(custom), { retryAfterSeconds }, { random: () => random });
    expect(attempt).toMatchObject({ action: 'reschedule', delaySeconds, limitedCount: count });
  });

  it('caps the jitter at 300 s', () => {
    const attempt = nextLimitedAttempt(job({ limited_count: 79 }), { retryAfterSeconds: 12 }, { random: () => 0.999, maxReschedules: 100 });
    expect(attempt).toMatchObject({ action: 'reschedule', delaySeconds: 12 + 299, limitedCount: 80 });
  });

  it('counts the reschedule in custom.limited_count and keeps the rest of the job', () => {
    const attempt = nextLimitedAttempt(job({ tenant: 'acme', limited_count: 2 }), { retryAfterSeconds: 5 }, { random: () => 0 });
    expect(attempt.action === 'reschedule' && attempt.job).toEqual({ ...job(), custom: { tenant: 'acme', limited_count: 3 } });
  });

  it('fails the job once it has been rescheduled the maximum number of times', () => {
    expect(nextLimitedAttempt(job({ limited_count: 20 }), { retryAfterSeconds: 5 }, { random: () => 0 })).toEqual({ action: 'fail', limitedCount: 20 });
    expect(nextLimitedAttempt(job({ limited_count: 2 }), { retryAfterSeconds: 5 }, { random: () => 0, maxReschedules: 2 })).toEqual({ action: 'fail', limitedCount: 2 });
    expect(nextLimitedAttempt(job(), { retryAfterSeconds: 5 }, { random: () => 0, maxReschedules: 0 })).toEqual({ action: 'fail', limitedCount: 0 });
  });

  it('gives the same delay for the same seed', () => {
    const delays = [1, 2].map(() => nextLimitedAttempt(job(), { retryAfterSeconds: 30 }, { random: mulberry32(7) }));
    expect(delays[0]).toEqual(delays[1]);
  });
});

describe('limitedCount', () => {
  it.each([
    [undefined, 0],
    [{ limited_count: 4 }, 4],
    [{ limited_count: -1 }, 0],
    [{ limited_count: '3' }, 0],
  ])('reads %j as %i', (custom, count) => {
    expect(limitedCount(job(custom))).toBe(count);
  });
});
