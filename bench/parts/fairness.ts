/**
 * Fair sharing between tenants on the local runtime: tenant A enqueues a burst (5,000 jobs), then
 * tenant B a few (50), on one queue; each job logs how long it waited from enqueue to start. Run
 * twice on the same synthesized app: with the local model of SQS fair queues (the default) and
 * without it (fauxqs's order). Reports each tenant's p50 and p99 wait, and the DynamoDB requests the
 * runs made (fair queues need none: the tenant travels as the message's group).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../lib/client/client.js';
import { synthesize } from '../../local/assembly/synth.js';
import { LogCollector } from '../../local/log.js';
import { startLocal } from '../../local/runtime.js';
import { FAIR_APP } from '../app/entries.js';
import { buildCountingPreload, readFunctionCounts } from '../counting/collect.js';
import { percentile, round } from '../lib/stats.js';
import { queueEnv } from './session.js';

const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const STACK = 'HopperBenchFair';

/** The size of the run. */
export interface FairnessParameters {
  readonly noisyJobs: number;
  readonly quietJobs: number;
  /** How long each job works, ms. */
  readonly jobMs: number;
}

export const FAIRNESS_DEFAULTS: FairnessParameters = { noisyJobs: 5_000, quietJobs: 50, jobMs: 20 };

/** The quiet tenant's p99 wait must be at most this share of the noisy tenant's, with fair queues. */
export const FAIRNESS_GOAL = 0.25;

/** One tenant's waits, ms. */
export interface TenantWaits {
  readonly jobs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One run: fair queues on or off. */
export interface FairnessRun {
  readonly fairQueues: boolean;
  readonly noisy: TenantWaits;
  readonly quiet: TenantWaits;
  /** Seconds from the first enqueue to the last job's start. */
  readonly seconds: number;
  /** Requests per job of every function of the stack, counted in their processes (bench/counting). */
  readonly dynamodbRequestsPerJob: number;
  readonly sqsRequestsPerJob: number;
}

export interface FairnessResult {
  readonly parameters: FairnessParameters & { readonly maxConcurrency: number };
  readonly on: FairnessRun;
  readonly off: FairnessRun;
  readonly goal: string;
  readonly pass: boolean;
}

/** Runs the burst with fair queues on, then off. */
export async function measureFairness(workDir: string, parameters: FairnessParameters, log: (line: string) => void): Promise<FairnessResult> {
  const assemblyDir = join(workDir, 'assembly');
  mkdirSync(workDir, { recursive: true });
  log('fairness: synthesizing its app');
  await synthesize({ projectDir: PROJECT_DIR, outDir: assemblyDir, app: 'npx tsx bench/app/fair.ts', stack: STACK });
  try {
    const on = await run(assemblyDir, join(workDir, 'on'), true, parameters, log);
    const off = await run(assemblyDir, join(workDir, 'off'), false, parameters, log);
    const ratio = on.quiet.p99Ms / on.noisy.p99Ms;
    return {
      parameters: { ...parameters, maxConcurrency: FAIR_APP.maxConcurrency },
      on,
      off,
      goal: `with fair queues, B's p99 wait ≤ ${FAIRNESS_GOAL}× A's`,
      pass: ratio <= FAIRNESS_GOAL,
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function run(assemblyDir: string, runDir: string, fairQueues: boolean, parameters: FairnessParameters, log: (line: string) => void): Promise<FairnessRun> {
  const logs = new LogCollector();
  const countsDir = join(runDir, 'counts');
  const preload = await buildCountingPreload(runDir, countsDir);
  const local = await startLocal({ projectDir: PROJECT_DIR, assemblyDir, stack: STACK, fairQueues, logs: logs.sink, functionPreload: [preload] });
  try {
    const client = new Client({ env: { ...local.env, ...queueEnv(local) } });
    const job = (tenant: string, index: number) => ({ jobtype: 'Tenanted', queue: 'tenants', args: [parameters.jobMs, index], custom: { tenant } });
    const started = Date.now();
    log(`fairness (fair queues ${fairQueues ? 'on' : 'off'}): A enqueues ${parameters.noisyJobs}, then B ${parameters.quietJobs}`);
    for (let start = 0; start < parameters.noisyJobs; start += 500) {
      await client.enqueueMany(Array.from({ length: Math.min(500, parameters.noisyJobs - start) }, (_, index) => job('A', start + index)));
    }
    await client.enqueueMany(Array.from({ length: parameters.quietJobs }, (_, index) => job('B', index)));
    const total = parameters.noisyJobs + parameters.quietJobs;
    const deadline = Date.now() + 600_000;
    let waits = waitsOf(logs);
    while (waits.length < total) {
      if (Date.now() > deadline) throw new Error(`fairness: ${waits.length} of ${total} jobs started within 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      waits = waitsOf(logs);
    }
    const seconds = (Date.now() - started) / 1000;
    // The last jobs finish and their processes write their counts.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const counts = readFunctionCounts(countsDir);
    const requests = (entries: Readonly<Record<string, { readonly requests: number }>>) => Object.values(entries).reduce((sum, entry) => sum + entry.requests, 0);
    const result: FairnessRun = {
      fairQueues,
      noisy: summary(waits.filter((wait) => wait.tenant === 'A').map((wait) => wait.ms)),
      quiet: summary(waits.filter((wait) => wait.tenant === 'B').map((wait) => wait.ms)),
      seconds: round(seconds, 1),
      dynamodbRequestsPerJob: round(requests(counts.dynamodb) / total, 3),
      sqsRequestsPerJob: round(requests(counts.sqs) / total, 3),
    };
    log(`fairness (fair queues ${fairQueues ? 'on' : 'off'}): A p99 ${result.noisy.p99Ms} ms, B p99 ${result.quiet.p99Ms} ms`);
    return result;
  } finally {
    await local.stop();
  }
}

interface Wait {
  readonly tenant: unknown;
  readonly ms: number;
}

/** The waits the worker logged, one per job run (a job run twice counts its first start). */
function waitsOf(logs: LogCollector): Wait[] {
  const seen = new Set<string>();
  const waits: Wait[] = [];
  for (const line of logs.jsonObjects()) {
    if (line.message !== 'fairness wait' || typeof line.waited_ms !== 'number' || typeof line.jid !== 'string' || seen.has(line.jid)) continue;
    seen.add(line.jid);
    waits.push({ tenant: line.tenant, ms: line.waited_ms });
  }
  return waits;
}

function summary(samples: readonly number[]): TenantWaits {
  return { jobs: samples.length, p50Ms: Math.round(percentile(samples, 0.5)), p99Ms: Math.round(percentile(samples, 0.99)) };
}
