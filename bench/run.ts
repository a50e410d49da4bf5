/**
 * `npm run bench [-- <part>…]`: Hopper's performance and cost benchmarks. Parts: `cost`,
 * `overhead`, `latency` (enqueue API), `cpu` (worker CPU per job), `cold` (bundle size and import
 * time), `scheduling`, `sweep` (entries a sweep moves per second), `scale` (the hot items at 10,000 jobs a second, through the
 * local partition limit), `fairness` (tenant B's wait behind tenant A's burst, SQS fair queues on and off);
 * `tiers` (critical jobs behind a burst of bulk ones, with priority tiers and without);
 * all of them when none is named. Writes the results as JSON to
 * bench/results/<date>-<time>-<commit>.json and the markdown summary to bench/results/latest.md,
 * and prints the summary.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadPrices } from './lib/billing.js';
import { runMeta } from './lib/meta.js';
import { measureApiLatency } from './parts/api-latency.js';
import { measureColdStart } from './parts/cold-start.js';
import { COST_DEFAULTS, measureCost } from './parts/cost.js';
import { measureOverhead } from './parts/overhead.js';
import { measureSchedulingPrecision, SCHEDULING_DEFAULTS } from './parts/scheduling.js';
import { startBenchSession, type BenchSession } from './parts/session.js';
import { measureSweep, SWEEP_BENCH_DEFAULTS } from './parts/sweep.js';
import { measureWorkerCpu } from './parts/worker-cpu.js';
import { measureScale, SCALE_DEFAULTS } from './parts/scale.js';
import { FAIRNESS_DEFAULTS, measureFairness } from './parts/fairness.js';
import { TIERS_DEFAULTS, measureTiers } from './parts/tiers.js';
import { markdownReport, summaryRows, type BenchResults } from './report.js';

/** The parts, in the order they run. */
export const BENCH_PARTS = ['cpu', 'cold', 'cost', 'overhead', 'latency', 'scheduling', 'sweep', 'scale', 'fairness', 'tiers'] as const;
type Part = (typeof BENCH_PARTS)[number];

/** Sizes of the runs: enough for stable medians, small enough for ~10 minutes on two cores. */
const PARAMETERS = {
  cost: COST_DEFAULTS,
  overhead: { jobs: 1_000, rounds: 5 },
  workerCpu: { iterations: 5_000, warmup: 1_000 },
  coldStart: { runs: 7 },
  apiLatency: { clients: 8, requests: 2_000 },
  scheduling: SCHEDULING_DEFAULTS,
  sweep: SWEEP_BENCH_DEFAULTS,
  scale: SCALE_DEFAULTS,
  fairness: FAIRNESS_DEFAULTS,
  tiers: TIERS_DEFAULTS,
} as const;

const RESULTS_DIR = fileURLToPath(new URL('./results', import.meta.url));
const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));

function isPart(name: string): name is Part {
  return (BENCH_PARTS as readonly string[]).includes(name);
}

const { positionals } = parseArgs({ allowPositionals: true });
const unknown = positionals.filter((name) => !isPart(name));
if (unknown.length > 0) throw new Error(`unknown bench part ${unknown.join(', ')}; the parts are: ${BENCH_PARTS.join(', ')}`);
const selected = new Set<Part>(positionals.length === 0 ? BENCH_PARTS : positionals.filter(isPart));

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const meta = runMeta();
const prices = loadPrices();
const started = performance.now();
/** Bundles go inside the project, where the AWS SDK resolves. */
const workDir = join(PROJECT_DIR, '.hopper', `bench-run-${process.pid}`);
const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {};

if (selected.has('cpu')) {
  log('worker CPU per job');
  results.workerCpu = await measureWorkerCpu(join(workDir, 'cpu'), PARAMETERS.workerCpu.iterations, PARAMETERS.workerCpu.warmup);
}
if (selected.has('cold')) {
  results.coldStart = await measureColdStart(join(workDir, 'bundles'), PARAMETERS.coldStart.runs, log);
}
if (selected.has('cost') || selected.has('overhead') || selected.has('latency')) {
  const session: BenchSession = await startBenchSession(log);
  try {
    if (selected.has('cost')) results.cost = await measureCost(session, prices, PARAMETERS.cost, log);
    if (selected.has('overhead')) results.overhead = await measureOverhead(session, PARAMETERS.overhead.jobs, PARAMETERS.overhead.rounds, log);
    if (selected.has('latency')) results.apiLatency = await measureApiLatency(session, PARAMETERS.apiLatency.clients, PARAMETERS.apiLatency.requests, log);
  } finally {
    await session.stop();
  }
}
if (selected.has('scheduling')) {
  log('scheduling precision');
  results.scheduling = await measureSchedulingPrecision(PARAMETERS.scheduling);
}

if (selected.has('sweep')) {
  log('sweep throughput');
  results.sweep = await measureSweep(join(workDir, 'sweep'), PARAMETERS.sweep, log);
}

if (selected.has('scale')) {
  log('scale model');
  results.scale = await measureScale(PARAMETERS.scale, log);
}

if (selected.has('fairness')) {
  results.fairness = await measureFairness(join(workDir, 'fairness'), PARAMETERS.fairness, log);
}

if (selected.has('tiers')) {
  results.tiers = await measureTiers(join(workDir, 'tiers'), PARAMETERS.tiers, log);
}

rmSync(workDir, { recursive: true, force: true });
const durationSeconds = Math.round((performance.now() - started) / 1000);
const stamp = meta.date.replace(/:\d\d\.\d+Z$/, 'Z').replace(/[:]/g, '');
const file = join(RESULTS_DIR, `${stamp}-${meta.commit}.json`);
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(file, `${JSON.stringify({
  ...meta,
  durationSeconds,
  parts: [...selected],
  prices,
  parameters: Object.fromEntries(Object.entries(PARAMETERS).filter(([key]) => key in results)),
  summary: summaryRows(results),
  results,
}, null, 2)}\n`);
const markdown = markdownReport(meta, prices, results);
writeFileSync(join(RESULTS_DIR, 'latest.md'), markdown);
process.stdout.write(`${markdown}\nresults: ${file} (${durationSeconds} s)\n`);
