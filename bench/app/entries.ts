/** Entry files of the bench app's functions (bench/app/app.ts). */
import { fileURLToPath } from 'node:url';

export const BENCH_ENTRIES = {
  worker: fileURLToPath(new URL('./worker.ts', import.meta.url)),
  bare: fileURLToPath(new URL('./bare.ts', import.meta.url)),
} as const;
