/**
 * The markdown summary of a bench run: one row per result with its goal and pass/fail, then the
 * cost breakdown and the bundles.
 */
import type { Cost, Prices } from './lib/billing.js';
import type { RunMeta } from './lib/meta.js';
import { round } from './lib/stats.js';
import { SCHEDULER_DEFAULTS } from '../lib/scheduler/handler.js';
import type { ApiLatencyResult } from './parts/api-latency.js';
import type { BundleResult } from './parts/cold-start.js';
import type { CostResult } from './parts/cost.js';
import type { FairnessResult } from './parts/fairness.js';
import type { OverheadResult } from './parts/overhead.js';
import type { SchedulingResult } from './parts/scheduling.js';
import type { SweepBenchResult } from './parts/sweep.js';
import type { TiersResult } from './parts/tiers.js';
import { HOT_SHARE, type ScaleResult } from './parts/scale.js';
import type { WorkerCpuResult } from './parts/worker-cpu.js';

/** Everything one run measured (each part only when it ran). */
export interface BenchResults {
  readonly cost?: readonly CostResult[];
  readonly overhead?: OverheadResult;
  readonly workerCpu?: WorkerCpuResult;
  readonly coldStart?: readonly BundleResult[];
  readonly scheduling?: SchedulingResult;
  readonly apiLatency?: ApiLatencyResult;
  readonly sweep?: SweepBenchResult;
  readonly scale?: ScaleResult;
  readonly fairness?: FairnessResult;
  readonly tiers?: TiersResult;
}

/** A sweep must be able to move this many entries per second on AWS (docs/cost.md). */
export const SWEEP_GOAL_PER_SECOND = 10_000;

/** One line of the summary table. */
export interface SummaryRow {
  readonly benchmark: string;
  readonly result: string;
  readonly goal: string;
  readonly pass: boolean | null;
}

const dollars = (value: number) => `$${value.toFixed(4)}`;
const verdict = (pass: boolean | null) => (pass === null ? '—' : pass ? 'pass' : 'FAIL');

/** The summary rows of `results`. */
export function summaryRows(results: BenchResults): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const cost of results.cost ?? []) {
    rows.push({
      benchmark: `cost: ${cost.scenario}`,
      result: `${dollars(cost.perMillionJobs.total)} per million jobs, ${cost.ratioToFloor}× floor (${dollars(cost.floorPerMillionJobs.total)}), ${cost.ratioToMinimum}× its minimum (${dollars(cost.minimumPerMillionJobs.total)})`,
      goal: cost.goal ?? '—',
      pass: cost.pass,
    });
  }
  const { overhead, workerCpu, scheduling, apiLatency, sweep } = results;
  if (overhead !== undefined) {
    rows.push({ benchmark: 'overhead vs bare handler', result: `${overhead.medianHopper} vs ${overhead.medianBare} jobs/s = ${overhead.ratio}× (invocations ${overhead.hopperMsPerInvocation} vs ${overhead.bareMsPerInvocation} ms; ${overhead.hopperDynamoRequestsPerInvocation} DynamoDB requests per worker invocation)`, goal: overhead.goal, pass: overhead.pass });
  }
  if (workerCpu !== undefined) {
    rows.push({ benchmark: 'worker CPU per job', result: `${workerCpu.medianUsPerJob} µs (p90 ${workerCpu.p90UsPerJob} µs)`, goal: workerCpu.goal, pass: workerCpu.pass });
  }
  for (const bundle of results.coldStart ?? []) {
    rows.push({ benchmark: `cold start: ${bundle.function}`, result: `${bundle.kib} KiB, import ${bundle.medianImportMs} ms (of which its packages alone ${bundle.medianExternalsImportMs} ms: ${bundle.externals.join(', ') || 'none'})`, goal: bundle.goal, pass: bundle.pass ?? null });
  }
  if (scheduling !== undefined) {
    const { latenessMs } = scheduling;
    rows.push({
      benchmark: 'scheduling precision',
      result: `p50 ${latenessMs.p50} ms, p99 ${latenessMs.p99} ms late; ${scheduling.early} early, ${scheduling.missing} missing of ${scheduling.parameters.jobs}`,
      goal: scheduling.goal,
      pass: scheduling.pass,
    });
  }
  if (sweep !== undefined && sweep.runs.length > 0) {
    // On AWS the emulators' latency is gone and each invocation is bound by its own CPU (docs/cost.md):
    // the model takes the dearest run's CPU per entry (helpers that start cold pay the most).
    const cpuUs = Math.max(...sweep.runs.map((run) => run.cpuUsPerEntry));
    const perCpuSecond = Math.round(1_000_000 / cpuUs);
    const helpers = SCHEDULER_DEFAULTS.maxHelpers;
    rows.push({
      benchmark: 'sweep throughput',
      result: `${sweep.runs.map((run) => `${run.entriesPerSecond} entries/s with ${run.lanes} lane${run.lanes === 1 ? '' : 's'}${run.helpers > 0 ? ` and ${run.helpers} helpers` : ''}`).join(', ')} on the emulators (${sweep.parameters.entries} entries, every process on this machine's cores); at most ${cpuUs} µs of CPU per entry = ${perCpuSecond} entries per vCPU-second, ${perCpuSecond * helpers} for the ${helpers} helpers a sweep may invoke, one vCPU each`,
      goal: `≥ ${SWEEP_GOAL_PER_SECOND} entries/s on AWS by the model`,
      pass: perCpuSecond * helpers >= SWEEP_GOAL_PER_SECOND,
    });
  }
  if (results.scale !== undefined) {
    const { scale } = results;
    const modeled = Math.min(...scale.runs.map((run) => run.modeledJobsPerSecond));
    const scenarios = [...new Set(scale.runs.map((run) => run.scenario))];
    rows.push({
      benchmark: 'scale model: hot items',
      result: `at ${modeled}+ jobs/s modeled, the hottest key's write units/s (requests throttled), now vs before: ${scenarios.map((scenario) => {
        const of = (design: string) => scale.runs.find((run) => run.scenario === scenario && run.design === design);
        const now = of('now');
        const before = of('before');
        return `${scenario} ${now?.hottestUnitsPerSecond ?? '?'} (${now?.throttled ?? '?'}) on ${now?.layout ?? '?'} vs ${before?.hottestUnitsPerSecond ?? '?'} (${before?.throttled ?? '?'}) on ${before?.layout ?? '?'}`;
      }).join('; ')}; a partition takes ${scale.partitionWriteUnits}`,
      goal: `now: no throttle, no key above ${scale.partitionWriteUnits * HOT_SHARE} units/s; before: throttled`,
      pass: scale.pass,
    });
  }
  if (results.fairness !== undefined) {
    const { on, off, parameters } = results.fairness;
    const run = (label: string, measured: typeof on) => `${label}: B p99 ${measured.quiet.p99Ms} ms (p50 ${measured.quiet.p50Ms}), A p99 ${measured.noisy.p99Ms} ms (p50 ${measured.noisy.p50Ms}), ${measured.dynamodbRequestsPerJob} DynamoDB requests per job`;
    rows.push({
      benchmark: 'fairness between tenants',
      result: `A enqueues ${parameters.noisyJobs} jobs, then B ${parameters.quietJobs} (maxConcurrency ${parameters.maxConcurrency}, ${parameters.jobMs} ms jobs); waits from enqueue to start, ${run('fair queues on', on)}; ${run('off', off)}`,
      goal: results.fairness.goal,
      pass: results.fairness.pass,
    });
  }
  if (results.tiers !== undefined) {
    const { tiered, flat, parameters } = results.tiers;
    const waits = (measured: typeof tiered) => `critical p99 ${measured.critical.p99Ms} ms (p50 ${measured.critical.p50Ms}), bulk p99 ${measured.bulk.p99Ms} ms, bulk's longest pause ${measured.bulkLongestGapSeconds} s, ${measured.seconds} s in all`;
    rows.push({
      benchmark: 'priority tiers',
      result: `${parameters.bulkJobs} bulk jobs, then ${parameters.criticalJobs} critical (maxConcurrency ${parameters.maxConcurrency}, ${parameters.jobMs} ms jobs); waits from enqueue to start, tiers: ${waits(tiered)}, ${tiered.moves.length} governor moves, at most ${tiered.maxInvocationsSum} invocations; no tiers: ${waits(flat)}`,
      goal: results.tiers.goal,
      pass: results.tiers.pass,
    });
  }
  if (apiLatency !== undefined) {
    rows.push({ benchmark: 'enqueue API latency', result: `p50 ${apiLatency.p50Ms} ms, p99 ${apiLatency.p99Ms} ms (${apiLatency.clients} clients, ${apiLatency.requests} requests, ${apiLatency.requestsPerSecond} req/s; ${apiLatency.functionMsPerRequest} ms inside the function, AWS requests per enqueue: ${Object.entries(apiLatency.awsRequestsPerRequest).map(([operation, count]) => `${operation} ${count}`).join(', ') || 'none'})`, goal: apiLatency.goal, pass: apiLatency.pass });
  }
  return rows;
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map((cell) => String(cell).replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The markdown report. */
export function markdownReport(meta: RunMeta, prices: Prices, results: BenchResults): string {
  const { machine } = meta;
  const parts = [
    '# Hopper benchmarks',
    '',
    `${meta.date} · commit ${meta.commit}${meta.dirty ? ' (with uncommitted changes)' : ''} · Node ${meta.node} · ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}/${machine.arch}`,
    '',
    table(['Benchmark', 'Result', 'Goal', 'Pass'], summaryRows(results).map((row) => [row.benchmark, row.result, row.goal, verdict(row.pass)])),
  ];
  if (results.cost !== undefined) {
    parts.push(
      '',
      `## Cost per million jobs (${prices.region} list prices of ${prices.date}, to be checked)`,
      '',
      table(
        ['Scenario', 'Jobs', 'Total', 'SQS', 'DynamoDB writes', 'DynamoDB reads', 'Lambda requests', 'Lambda GB-s', 'Scheduler', 'Floor', 'Ratio', 'Minimum', '× minimum'],
        results.cost.flatMap((cost) => {
          const row = (label: string, c: Cost, ratio: string, toMinimum: string) => [label, cost.jobs, dollars(c.total), dollars(c.sqs), dollars(c.dynamodbWrites), dollars(c.dynamodbReads), dollars(c.lambdaRequests), dollars(c.lambdaCompute), dollars(c.scheduler), dollars(cost.floorPerMillionJobs.total), ratio, dollars(cost.minimumPerMillionJobs.total), toMinimum];
          return [
            row(cost.scenario, cost.perMillionJobs, `${cost.ratioToFloor}×`, `${cost.ratioToMinimum}×`),
            row(`  floor of ${cost.scenario}`, cost.floorPerMillionJobs, '1×', '—'),
            row(`  minimum of ${cost.scenario}`, cost.minimumPerMillionJobs, `${round(cost.minimumPerMillionJobs.total / cost.floorPerMillionJobs.total, 3)}×`, '1×'),
          ];
        }),
      ),
      '',
      "A feature's minimum is the floor plus the DynamoDB units it cannot do without, for jobs under 1 KB (docs/cost.md):",
      '',
      ...results.cost.map((cost) => `- **${cost.scenario}**: ${cost.minimum.writeUnitsPerJob} write units${cost.minimum.readUnitsPerJob > 0 ? ` and ${cost.minimum.readUnitsPerJob} read units` : ''} per job: ${cost.minimum.why}`),
      '',
      'Per job (billed SQS requests, DynamoDB units, Lambda invocations and billed ms; empty receives left out):',
      '',
      ...results.cost.map((cost) => `- **${cost.scenario}**: ${Object.entries(cost.perJob).map(([what, value]) => `${what} ${value}`).join(', ')}`),
    );
  }
  if (results.scale !== undefined) {
    parts.push(
      '',
      `## Scale model (${results.scale.parameters.awsJobsPerSecond} jobs/s, ${results.scale.parameters.tenants} tenants, a partition ${results.scale.partitionWriteUnits} write units/s; model time, bench/parts/scale.ts)`,
      '',
      table(
        ['Hot item', 'Design', 'Spread over', 'Jobs', 'Real jobs/s', 'Modeled jobs/s', 'Model seconds', 'Keys written', 'Hottest key, units/s', 'Predicted', 'Throttled'],
        results.scale.runs.map((run) => [run.scenario, run.design, run.layout, run.jobs, run.localJobsPerSecond, run.modeledJobsPerSecond, run.modeledSeconds, run.keys, run.hottestUnitsPerSecond, run.predictedUnitsPerSecond, run.throttled]),
      ),
    );
  }
  return `${parts.join('\n')}\n`;
}
