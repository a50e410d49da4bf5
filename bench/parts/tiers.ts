/**
 * Priority tiers on the local runtime: a burst of bulk jobs, then critical ones, on queue `tiered`
 * (three tiers sharing 60 jobs at once, the governor moving them) and the same burst on queue
 * `flat` (60 jobs at once, no tiers), one after the other in one runtime. Each job logs when it
 * started and how long it waited from enqueue. Reports each class's p50 and p99 wait, critical's
 * against its 5 s target, the longest time the bulk tier started nothing while it had jobs waiting
 * (against one governor period), and the governor's moves with the largest sum of the tiers'
 * invocations they ever made.
 *
 * The governor's first tick is triggered when the bulk burst is in, instead of waiting up to a
 * minute for the schedule (on AWS the tick comes at any second of that minute); the critical burst
 * is sent once that tick has given the bulk tier the room critical did not use, so that critical
 * arrives to find bulk running wide — the case tiers are for. The schedule then runs as deployed.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../lib/api-client/index.js';
import { governorPeriodMs } from '../../lib/governor/plan.js';
import { synthesize } from '../../local/assembly/synth.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { TIERS_APP } from '../app/entries.js';
import { records } from '../../test/fixtures/json.js';
import { percentile, round } from '../lib/stats.js';

const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const STACK = 'HopperBenchTiers';
const CLASSES = { bulk: 'bulk', critical: 'critical' } as const;

/** The size of the run. */
export interface TiersParameters {
  readonly bulkJobs: number;
  readonly criticalJobs: number;
  /** How long each job works, ms. */
  readonly jobMs: number;
}

/** The burst: 5,000 bulk jobs, then 200 critical ones. */
export const TIERS_DEFAULTS: TiersParameters = { bulkJobs: 5_000, criticalJobs: 200, jobMs: 250 };

/** One class's waits, ms. */
export interface ClassWaits {
  readonly jobs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One governor move, as its log line says. */
export interface GovernorMove {
  /** Seconds since the bulk burst's first enqueue. */
  readonly atSeconds: number;
  readonly tier: string;
  readonly from: number;
  readonly to: number;
  readonly backlog: number;
}

/** One run: on the tiered queue or the flat one. */
export interface TiersRun {
  readonly queue: 'tiered' | 'flat';
  readonly bulk: ClassWaits;
  readonly critical: ClassWaits;
  /** The longest time between two bulk starts, from the first to the last, seconds. */
  readonly bulkLongestGapSeconds: number;
  /** Seconds from the first enqueue to the last job's start. */
  readonly seconds: number;
  /** The governor's moves (the tiered run only). */
  readonly moves: readonly GovernorMove[];
  /** The largest sum of the tiers' invocations after any move (the tiered run only). */
  readonly maxInvocationsSum: number | null;
}

export interface TiersResult {
  readonly parameters: TiersParameters & { readonly maxConcurrency: number; readonly targetSeconds: typeof TIERS_APP.targetSeconds; readonly governorPeriodSeconds: number };
  readonly tiered: TiersRun;
  readonly flat: TiersRun;
  readonly goal: string;
  readonly pass: boolean;
}

/** Runs the burst on the tiered queue, then on the flat one, in one local runtime. */
export async function measureTiers(workDir: string, parameters: TiersParameters, log: (line: string) => void): Promise<TiersResult> {
  const assemblyDir = join(workDir, 'assembly');
  mkdirSync(workDir, { recursive: true });
  log('tiers: synthesizing its app');
  await synthesize({ projectDir: PROJECT_DIR, outDir: assemblyDir, app: 'npx tsx bench/app/tiers.ts', stack: STACK });
  const logs = new LogCollector();
  const local = await startLocal({ projectDir: PROJECT_DIR, assemblyDir, stack: STACK, logs: logs.sink });
  try {
    const apiFunction = local.functions.find((fn) => fn.logicalId.startsWith('JobsApiFunction'));
    if (apiFunction === undefined) throw new Error('tiers: the stack has no API function');
    // Through the API, which routes by the tier layout of the configuration document.
    const api = new ApiClient({ url: local.functionUrl(apiFunction.logicalId) });
    const deployed = await tierConcurrency(api);
    const tiered = await run(local, api, logs, 'tiered', parameters, deployed, log);
    const flat = await run(local, api, logs, 'flat', parameters, deployed, log);
    const periodSeconds = governorPeriodMs(Object.values(TIERS_APP.targetSeconds)) / 1000;
    return {
      parameters: { ...parameters, maxConcurrency: TIERS_APP.maxConcurrency, targetSeconds: TIERS_APP.targetSeconds, governorPeriodSeconds: periodSeconds },
      tiered,
      flat,
      goal: `tiers: critical's p99 wait ≤ its ${TIERS_APP.targetSeconds.critical} s target, bulk never starting nothing for more than ${periodSeconds} s, the tiers' invocations never above the queue's`,
      pass: tiered.critical.p99Ms <= TIERS_APP.targetSeconds.critical * 1000 && tiered.bulkLongestGapSeconds <= periodSeconds && (tiered.maxInvocationsSum ?? 0) <= sum(deployed),
    };
  } finally {
    await local.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function run(local: LocalRuntime, api: ApiClient, logs: LogCollector, queue: 'tiered' | 'flat', parameters: TiersParameters, deployed: Readonly<Record<string, number>>, log: (line: string) => void): Promise<TiersRun> {
  const job = (kind: string, index: number) => ({ jobtype: 'Classed', jid: `${queue}-${kind}-${index}`, queue, args: [parameters.jobMs, kind, index], ...(queue === 'tiered' ? { custom: { tier: kind } } : {}) });
  const prefix = `${queue}-`;
  const started = Date.now();
  log(`tiers (${queue}): ${parameters.bulkJobs} bulk jobs, then ${parameters.criticalJobs} critical`);
  for (let start = 0; start < parameters.bulkJobs; start += 500) {
    await api.enqueueMany(Array.from({ length: Math.min(500, parameters.bulkJobs - start) }, (_, index) => job(CLASSES.bulk, start + index)));
  }
  if (queue === 'tiered') {
    local.triggerSchedule(governorSchedule(local));
    await until(() => movesOf(logs, started).some((move) => move.tier === CLASSES.bulk && move.to > move.from), 60_000, 'the governor to raise the bulk tier');
  }
  await api.enqueueMany(Array.from({ length: parameters.criticalJobs }, (_, index) => job(CLASSES.critical, index)));
  const total = parameters.bulkJobs + parameters.criticalJobs;
  await until(() => startsOf(logs, prefix).length >= total, 600_000, `${total} jobs to start on ${queue}`);
  const starts = startsOf(logs, prefix);
  const seconds = (Math.max(...starts.map((start) => start.atMs)) - started) / 1000;
  const moves = queue === 'tiered' ? movesOf(logs, started) : [];
  const bulkStarts = starts.filter((start) => start.kind === CLASSES.bulk).map((start) => start.atMs).sort((a, b) => a - b);
  const result: TiersRun = {
    queue,
    bulk: summary(starts.filter((start) => start.kind === CLASSES.bulk).map((start) => start.waitedMs)),
    critical: summary(starts.filter((start) => start.kind === CLASSES.critical).map((start) => start.waitedMs)),
    bulkLongestGapSeconds: round(Math.max(0, ...bulkStarts.slice(1).map((at, index) => at - (bulkStarts[index] ?? at))) / 1000, 2),
    seconds: round(seconds, 1),
    moves,
    maxInvocationsSum: queue === 'tiered' ? maxSum(deployed, moves) : null,
  };
  log(`tiers (${queue}): critical p99 ${result.critical.p99Ms} ms, bulk p99 ${result.bulk.p99Ms} ms, bulk's longest gap ${result.bulkLongestGapSeconds} s, ${result.seconds} s in all`);
  // The flat run starts on an idle runtime: the governor's invocation still under way is over.
  if (queue === 'tiered') await new Promise((resolve) => setTimeout(resolve, governorPeriodMs(Object.values(TIERS_APP.targetSeconds))));
  return result;
}

function governorSchedule(local: LocalRuntime): string {
  const found = local.schedules().find((schedule) => schedule.logicalId.startsWith('JobsGovernor'));
  if (found === undefined) throw new Error('tiers: the stack has no governor schedule');
  return found.name;
}

/** Each tier's invocations now, as `GET /v1/queues` shows queue `tiered`'s. */
async function tierConcurrency(api: ApiClient): Promise<Record<string, number>> {
  const queue = records((await api.request('GET', '/v1/queues')).body, 'queues').find((entry) => entry.name === 'tiered');
  return Object.fromEntries(records(queue, 'tiers').map((tier) => [String(tier.name), Number(tier.concurrency)]));
}

function sum(byTier: Readonly<Record<string, number>>): number {
  return Object.values(byTier).reduce((total, value) => total + value, 0);
}

/** The largest sum of the tiers' invocations from `deployed` through every move. */
function maxSum(deployed: Readonly<Record<string, number>>, moves: readonly GovernorMove[]): number {
  const current = { ...deployed };
  let max = sum(current);
  for (const move of moves) {
    current[move.tier] = move.to;
    max = Math.max(max, sum(current));
  }
  return max;
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`tiers: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Start {
  readonly kind: unknown;
  readonly atMs: number;
  readonly waitedMs: number;
}

/** The starts the worker logged for jobs whose jid starts with `prefix`, one per job (a job run twice counts its first). */
function startsOf(logs: LogCollector, prefix: string): Start[] {
  const seen = new Set<string>();
  const starts: Start[] = [];
  for (const line of logs.jsonObjects()) {
    if (line.message !== 'tier wait' || typeof line.waited_ms !== 'number' || typeof line.started_ms !== 'number' || typeof line.jid !== 'string' || !line.jid.startsWith(prefix) || seen.has(line.jid)) continue;
    seen.add(line.jid);
    starts.push({ kind: line.class, atMs: line.started_ms, waitedMs: line.waited_ms });
  }
  return starts;
}

/** The governor's moves logged since `startedMs`. */
function movesOf(logs: LogCollector, startedMs: number): GovernorMove[] {
  return logs.jsonObjects().flatMap((line) => {
    if (line.message !== 'tier concurrency moved' || typeof line.tier !== 'string' || typeof line.from !== 'number' || typeof line.to !== 'number') return [];
    const at = typeof line.time === 'string' ? Date.parse(line.time) : Number.NaN;
    if (!(at >= startedMs)) return [];
    return [{ atSeconds: round((at - startedMs) / 1000, 1), tier: line.tier, from: line.from, to: line.to, backlog: typeof line.backlog === 'number' ? line.backlog : 0 }];
  });
}

function summary(samples: readonly number[]): ClassWaits {
  return { jobs: samples.length, p50Ms: Math.round(percentile(samples, 0.5)), p99Ms: Math.round(percentile(samples, 0.99)) };
}
