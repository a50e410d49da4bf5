import { describe, expect, it } from 'vitest';
import { median, percentile, round } from '../../bench/lib/stats.js';

describe('median', () => {
  it.each([
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10, 10, 1, 1000], 10],
  ])('of %j is %d', (samples, expected) => {
    expect(median(samples)).toBe(expected);
  });

  it('is NaN for no samples and leaves its input unsorted', () => {
    const samples = [3, 1, 2];
    median(samples);
    expect(samples).toEqual([3, 1, 2]);
    expect(median([])).toBeNaN();
  });
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, index) => 100 - index);

  it.each([
    [0.5, 50],
    [0.9, 90],
    [0.99, 99],
    [1, 100],
    [0, 1],
  ])('p%d of 1..100 is %d', (q, expected) => {
    expect(percentile(hundred, q)).toBe(expected);
  });

  it('takes the value at or above the quantile on small samples', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.51)).toBe(3);
    expect(percentile([7], 0.99)).toBe(7);
  });

  it('rejects a quantile outside 0..1 and is NaN for no samples', () => {
    expect(() => percentile([1], 1.5)).toThrow('q must be between 0 and 1, but 1.5 was provided');
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe('round', () => {
  it('rounds to the given decimals', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(1.5, 0)).toBe(2);
  });
});
