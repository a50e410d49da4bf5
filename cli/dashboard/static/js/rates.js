/**
 * Shares shown by the pages, pure (unit tested in test/unit/dashboard-rates.test.ts).
 */

/**
 * The failure rate of a window as text (`40.0 %`), or `–` when nothing was processed. `processed`
 * already counts the failures (the stats count every job that ran, failed or not), so the rate is
 * failed / processed — not failed / (processed + failed).
 */
export function failedShare(processed, failed) {
  if (!(processed > 0)) return '–';
  return `${((failed / processed) * 100).toFixed(1)} %`;
}
