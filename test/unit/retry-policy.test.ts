import { describe, expect, it } from 'vitest';
import { normalizeJob, type Job, type JobFailure } from '../../lib/job/model.js';
import { mulberry32 } from '../../lib/common/random.js';
import { nextAttempt, retryDelaySeconds } from '../../lib/retry/policy.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function jobWith(fields: { retry?: number; failure?: Partial<JobFailure> } = {}): Job {
  const failure = fields.failure === undefined ? undefined : { failed_at: NOW.toISOString(), message: 'boom', errtype: 'Error', retry_count: 0, ...fields.failure };
  return normalizeJob({ jobtype: 'SendEmail', args: ['a@example.com'], jid: 'job-1', ...(fields.retry === undefined ? {} : { retry: fields.retry }), ...(failure === undefined ? {} : { failure }) }, { now: NOW });
}

describe('mulberry32', () => {
  it('gives the same sequence for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);

    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it('gives the published first value for seed 42', () => {
    expect(mulberry32(42)()).toBe(0.6011037519201636);
  });
});

describe('retryDelaySeconds', () => {
  // Seed 42's first draw is 0.6011…: jitter = floor(0.6011 · 10 · (count + 1)).
  it.each([
    { count: 0, expected: 21 }, // 0 + 15 + 6
    { count: 1, expected: 28 }, // 1 + 15 + 12
    { count: 5, expected: 676 }, // 625 + 15 + 36
    { count: 24, expected: 331_941 }, // 331776 + 15 + 150
  ])('is $expected s for retry $count with seed 42', ({ count, expected }) => {
    expect(retryDelaySeconds(count, mulberry32(42))).toBe(expected);
  });

  it('draws once per call from the given source', () => {
    const random = mulberry32(7);

    expect([0, 1, 2, 3].map((count) => retryDelaySeconds(count, random))).toEqual([15, 17, 60, 123]);
  });

  it.each([0, 1, 5, 24])('stays within count⁴ + 15 and count⁴ + 15 + 10·(count+1) − 1 for retry %i', (count) => {
    const base = count ** 4 + 15;

    expect(retryDelaySeconds(count, () => 0)).toBe(base);
    expect(retryDelaySeconds(count, () => 0.999_999_9)).toBe(base + 10 * (count + 1) - 1);
  });
});

describe('nextAttempt', () => {
  const options = { random: () => 0, now: NOW };

  it('retries the first failure with retry_count 0 and 15 s', () => {
    expect(nextAttempt(jobWith(), options)).toEqual({
      action: 'retry',
      delaySeconds: 15,
      retryCount: 0,
      nextAt: new Date('2026-11-22T12:00:15.000Z'),
    });
  });

  it('counts on from the previous failure', () => {
    const result = nextAttempt(jobWith({ failure: { retry_count: 3 } }), options);

    expect(result).toEqual({ action: 'retry', delaySeconds: 4 ** 4 + 15, retryCount: 4, nextAt: new Date(NOW.getTime() + (4 ** 4 + 15) * 1000) });
  });

  it('sends a job with retry: 0 to the dead set on its first failure', () => {
    expect(nextAttempt(jobWith({ retry: 0 }), options)).toEqual({ action: 'dead', retryCount: 0 });
  });

  // With retry: N the failures with retry_count 0 … N−1 are retried and the one with N is not.
  describe.each([
    { retry: 25, previous: 23 },
    { retry: 3, previous: 1 },
    { retry: 1, previous: undefined },
  ])('with retry: $retry', ({ retry, previous }) => {
    it(`retries the failure with retry_count ${retry - 1} (failure number ${retry})`, () => {
      const job = jobWith({ retry, ...(previous === undefined ? {} : { failure: { retry_count: previous } }) });

      expect(nextAttempt(job, options)).toMatchObject({ action: 'retry', retryCount: retry - 1 });
    });

    it(`sends the job to the dead set on the failure with retry_count ${retry} (failure number ${retry + 1})`, () => {
      const job = jobWith({ retry, failure: { retry_count: retry - 1 } });

      expect(nextAttempt(job, options)).toEqual({ action: 'dead', retryCount: retry });
    });
  });

  it('uses the default of 25 retries when the job does not say', () => {
    expect(jobWith().retry).toBe(25);
    expect(nextAttempt(jobWith({ failure: { retry_count: 24 } }), options)).toEqual({ action: 'dead', retryCount: 25 });
  });
});
