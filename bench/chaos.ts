/**
 * The chaos run at a bigger scale than the test (test/chaos/chaos.test.ts): thousands of jobs of
 * every kind through the chaos fixture stack on the local runtime while faults are injected into
 * every function's AWS calls and jobs crash, hang and fail (see test/chaos/run.ts), once per seed.
 *
 * Usage: npx tsx bench/chaos.ts [--scale 3] [--seed 20261123] [--seeds 1] [--before 0.03] [--after 0.015] [--logs <dir>] [--python]
 *   [--batches-in-flight 1] [--instances 4]
 * `--seeds n` runs seeds `seed`, `seed + 1`, … `seed + n − 1`, each on a fresh runtime; `--logs`
 * writes each run's runtime log to `<dir>/chaos-<seed>.log`; `--python` puts half the jobs, batches
 * and callbacks on the Python worker (bench/results/chaos-python-<date>.json); `--batches-in-flight`
 * and `--instances` bound the batches per mapping and the instances per function on the local
 * runtime (test/chaos/run.ts says why the defaults are low).
 * Writes bench/results/chaos-<date>.json (every run and the totals) and prints a summary: jobs by
 * kind, faults injected by kind, lost, misplaced, callbacks doubled or missing, messages parked in
 * the retries DLQ. Exits 1 when any run lost or misplaced a job, or doubled or missed a callback.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CHAOS_TEST_SIZES, scaledSizes } from '../test/chaos/plan.js';
import { runChaos } from '../test/chaos/run.js';
import { runMeta } from './lib/meta.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '3' },
    seed: { type: 'string', default: '20261123' },
    seeds: { type: 'string', default: '1' },
    before: { type: 'string', default: '0.03' },
    after: { type: 'string', default: '0.015' },
    logs: { type: 'string' },
    python: { type: 'boolean', default: false },
    'batches-in-flight': { type: 'string' },
    instances: { type: 'string' },
  },
});
const scale = positiveNumber(values.scale, 'scale');
const firstSeed = positiveNumber(values.seed, 'seed');
const seedCount = positiveNumber(values.seeds, 'seeds');
const faults = { before: rate(values.before, 'before'), after: rate(values.after, 'after') };
const sizes = scaledSizes(CHAOS_TEST_SIZES, scale);
const seeds = Array.from({ length: Math.floor(seedCount) }, (_, index) => firstSeed + index);
const meta = runMeta();
const bounds = {
  ...(values['batches-in-flight'] === undefined ? {} : { batchesInFlight: positiveInteger(values['batches-in-flight'], 'batches-in-flight') }),
  ...(values.instances === undefined ? {} : { instancesPerFunction: positiveInteger(values.instances, 'instances') }),
};

/** One seed's run, judged. */
async function runSeed(seed: number) {
  const started = Date.now();
  process.stderr.write(`seed ${seed}\n`);
  const logFile = values.logs === undefined ? undefined : join(values.logs, `chaos-${seed}.log`);
  if (values.logs !== undefined) mkdirSync(values.logs, { recursive: true });
  const result = await runChaos({ seed, sizes, faults, settleTimeoutMs: 20 * 60_000, python: values.python === true, ...bounds, progress: (line) => process.stderr.write(`${line}\n`), ...(logFile === undefined ? {} : { logFile }) });
  const { report } = result;
  const summary = {
    jobs: report.jobs,
    jobsByKind: report.jobsByKind,
    succeeded: report.succeeded,
    dead: report.dead,
    deadByReason: report.deadByReason,
    waiting: report.waiting,
    lost: report.lost.length,
    misplaced: report.misplaced.length,
    duplicateRuns: report.duplicateRuns,
    callbacks: { expected: report.callbacks.expected, fired: report.callbacks.fired, doubled: report.callbacks.doubled.length, missing: report.callbacks.missing.length },
    faultsInjected: result.faults,
    faultsTotal: Object.values(result.faults).reduce((sum, count) => sum + count, 0),
    functionCrashesAndTimeouts: result.functionErrors,
    uniqueSecondEnqueue: result.uniqueSecondEnqueue,
    parkedInRetriesDlq: result.parkedInRetriesDlq.length,
    timings: { ...result.timings, totalMs: Date.now() - started },
  };
  const clean = report.lost.length === 0 && report.misplaced.length === 0 && report.callbacks.doubled.length === 0 && report.callbacks.missing.length === 0 && result.timings.settled;
  return {
    seed,
    clean,
    summary,
    details: { lost: report.lost, misplaced: report.misplaced, doubled: report.callbacks.doubled, missing: report.callbacks.missing, parked: result.parkedInRetriesDlq, leftInSets: result.leftInSets, traces: result.traces },
  };
}

const runs: Awaited<ReturnType<typeof runSeed>>[] = [];
for (const seed of seeds) {
  const run = await runSeed(seed);
  runs.push(run);
  console.log(JSON.stringify({ seed, clean: run.clean, ...run.summary }, null, 2));
}

const sum = (pick: (run: (typeof runs)[number]) => number): number => runs.reduce((total, run) => total + pick(run), 0);
const totals = {
  seeds: runs.length,
  clean: runs.filter((run) => run.clean).length,
  jobs: sum((run) => run.summary.jobs),
  lost: sum((run) => run.summary.lost),
  misplaced: sum((run) => run.summary.misplaced),
  callbacks: {
    expected: sum((run) => run.summary.callbacks.expected),
    fired: sum((run) => run.summary.callbacks.fired),
    doubled: sum((run) => run.summary.callbacks.doubled),
    missing: sum((run) => run.summary.callbacks.missing),
  },
  parkedInRetriesDlq: sum((run) => run.summary.parkedInRetriesDlq),
  faultsTotal: sum((run) => run.summary.faultsTotal),
  functionCrashesAndTimeouts: sum((run) => run.summary.functionCrashesAndTimeouts),
  totalMs: sum((run) => run.summary.timings.totalMs),
};
const date = new Date().toISOString().slice(0, 10);
const output = { bench: 'chaos', ...meta, parameters: { scale, seeds, faults, sizes, python: values.python === true }, totals, runs };
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}chaos-${values.python === true ? 'python-' : ''}${date}.json`;
writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
console.log(JSON.stringify({ totals }, null, 2));
console.log(`written to ${file}`);
process.exitCode = totals.clean === runs.length ? 0 : 1;

function positiveNumber(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, but ${JSON.stringify(text)} was provided`);
  return value;
}

function positiveInteger(text: string | undefined, name: string): number {
  const value = positiveNumber(text, name);
  if (!Number.isInteger(value)) throw new Error(`--${name} must be a whole number, but ${JSON.stringify(text)} was provided`);
  return value;
}

function rate(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 0.5) throw new Error(`--${name} must be a probability from 0 to 0.5, but ${JSON.stringify(text)} was provided`);
  return value;
}
