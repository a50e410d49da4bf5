/** Entry files of the bench app's functions (bench/app/app.ts). */
import { fileURLToPath } from 'node:url';

export const BENCH_ENTRIES = {
  worker: fileURLToPath(new URL('./worker.ts', import.meta.url)),
  bare: fileURLToPath(new URL('./bare.ts', import.meta.url)),
} as const;

/** The fairness bench's app (bench/app/fair.ts): its queue's `maxConcurrency`, in jobs. */
export const FAIR_APP = { maxConcurrency: 40 } as const;

/**
 * The tiers bench's app (bench/app/tiers.ts): queue `tiered` in three tiers and queue `flat` without
 * tiers, each with `maxConcurrency` jobs at once, and the tiers' target ages in seconds.
 */
export const TIERS_APP = { maxConcurrency: 60, targetSeconds: { critical: 5, default: 60, bulk: 3_600 } } as const;
