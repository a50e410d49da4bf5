/**
 * The dashboard's failure rate: the stats' `processed` counts every job that ran, failures
 * included, so 4 failures among 10 processed jobs are 40 %, not 4 / 14.
 */
import { describe, expect, it } from 'vitest';
import { failedShare } from '../../cli/dashboard/static/js/rates.js';

describe('failedShare', () => {
  it.each([
    { processed: 10, failed: 4, shown: '40.0 %' },
    { processed: 7, failed: 0, shown: '0.0 %' },
    { processed: 3, failed: 3, shown: '100.0 %' },
    { processed: 3, failed: 1, shown: '33.3 %' },
    { processed: 0, failed: 0, shown: '–' },
  ])('shows $shown for $failed failed of $processed processed', ({ processed, failed, shown }) => {
    expect(failedShare(processed, failed)).toBe(shown);
  });
});
