/**
 * Worker CPU per job: `createWorker` handling SQS batches of ten no-op jobs with stubbed AWS
 * clients (SQS and the stats rollup's DynamoDB answer at once), log lines built and dropped. The
 * loop (bench/cpu/worker-loop.ts) is bundled like a function and run in a fresh Node process; each
 * iteration is one batch, timed on its own; the result is the median over many iterations after a
 * warm-up, per job.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundleLikeConstruct } from '../lib/bundle.js';
import { field } from '../../lib/common/field.js';
import { median, percentile, round } from '../lib/stats.js';

const run = promisify(execFile);
const LOOP_ENTRY = fileURLToPath(new URL('../cpu/worker-loop.ts', import.meta.url));

/** Goal: microseconds of worker time per job. */
export const WORKER_CPU_GOAL_US = 6;

export interface WorkerCpuResult {
  readonly batchSize: number;
  readonly iterations: number;
  readonly warmup: number;
  readonly medianUsPerJob: number;
  readonly p90UsPerJob: number;
  readonly goal: string;
  readonly pass: boolean;
}

/** Times `iterations` batches after `warmup` untimed ones; `outDir` (in the project) takes the bundle. */
export async function measureWorkerCpu(outDir: string, iterations: number, warmup: number): Promise<WorkerCpuResult> {
  const { file: bundle } = await bundleLikeConstruct(LOOP_ENTRY, outDir);
  const { stdout } = await run(process.execPath, [bundle, String(iterations), String(warmup)], { maxBuffer: 64 * 1024 * 1024 });
  const output: unknown = JSON.parse(stdout);
  const samples = field(output, 'perJobUs');
  const batchSize = field(output, 'batchSize');
  if (!Array.isArray(samples) || !samples.every((sample) => typeof sample === 'number') || typeof batchSize !== 'number') throw new Error(`worker cpu: the loop printed ${stdout.slice(0, 200)}`);
  const medianUs = median(samples);
  return {
    batchSize,
    iterations,
    warmup,
    medianUsPerJob: round(medianUs, 2),
    p90UsPerJob: round(percentile(samples, 0.9), 2),
    goal: `≤ ${WORKER_CPU_GOAL_US} µs/job`,
    pass: medianUs <= WORKER_CPU_GOAL_US,
  };
}
