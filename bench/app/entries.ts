/** Entry files of the bench app's functions (bench/app/app.ts). */
import { fileURLToPath } from 'node:url';

export const BENCH_ENTRIES = {
  worker: fileURLToPath(new URL('./worker.ts', import.meta.url)),
  bare: fileURLToPath(new URL('./bare.ts', import.meta.url)),
} as const;

/** The fairness bench's app (bench/app/fair.ts): its queue's `maxConcurrency`, in jobs. */
export const FAIR_APP = { maxConcurrency: 40 } as const;
