/**
 * Observability on the local runtime: real jobs through the demo stack (API function, worker,
 * retry function), then the EMF lines the functions printed and the cohort the jobs form, read
 * back through `GET /v1/stats/cohorts` and `hopper stats --cohorts`.
 *
 * One instance per function (`functionConcurrency: 1`), so every count the instances hold is
 * written by their next invocation once it is ten seconds old: the test waits into the next minute, then
 * sends one more job through each. A preload module counts the worker process's DynamoDB writes.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATS_ROLLUP } from '../../lib/stats/rollup.js';
import { ApiClient } from '../../lib/api-client/index.js';
import { isRecord, type JobInput } from '../../lib/job/model.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { eventually, printRuntimeLogsOnFailure } from '../fixtures/local-helpers.js';
import { ROOT } from './polyglot-process.js';

const logs = new LogCollector();
let local: LocalRuntime;
let api: ApiClient;
let url: string;

printRuntimeLogsOnFailure(logs);

beforeAll(async () => {
  local = await startLocal({
    projectDir: ROOT, stack: 'HopperDemo', logs: logs.sink, functionConcurrency: 1,
    functionPreload: [`${ROOT}test/fixtures/preload/count-dynamo-writes.mjs`],
  });
  url = local.outputs.JobsApiUrl ?? '';
  api = new ApiClient({ url });
});

afterAll(async () => {
  await local?.stop();
});

/** The EMF lines printed so far, parsed. */
function emfLines(): Record<string, unknown>[] {
  return logs.entries.flatMap((entry) => {
    if (!entry.message.startsWith('{"_aws"')) return [];
    const parsed: unknown = JSON.parse(entry.message);
    return isRecord(parsed) ? [parsed] : [];
  });
}

/** The sum of `metric` over the EMF lines so far. */
function total(metric: string): number {
  return emfLines().reduce((sum, line) => sum + (typeof line[metric] === 'number' ? line[metric] : 0), 0);
}

const MINUTE_MS = 60_000;

/**
 * Waits for the start of the next minute (of a later one, away from the hourly cron's tick at
 * :00), so that no job enqueued before shares the cohort the caller is about to fill.
 */
async function startOfFreshMinute(): Promise<number> {
  const inMinute = Date.now() % MINUTE_MS;
  const next = new Date(Date.now() - inMinute + MINUTE_MS).getUTCMinutes();
  // The demo's hourly cron enqueues a Greet at minute 0, which would join the counts: a wave that
  // could still be running then (it takes up to two minutes) starts at minute 1 instead.
  const skip = (next >= 57 ? 61 - next : next === 0 ? 1 : 0) * MINUTE_MS;
  await new Promise((resolve) => setTimeout(resolve, MINUTE_MS - inMinute + skip + 500));
  return Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
}

/** The DynamoDB writes the worker's process made so far (counted by the preload module). */
function workerWrites(): number {
  return logs.entries.filter((entry) => entry.source.startsWith('Worker') && entry.message.startsWith('{"dynamodb_write"')).length;
}

function hopper(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    execFile(process.execPath, [`${ROOT}cli/bin.mjs`, ...args, '--url', url], { cwd: ROOT, env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`hopper ${args.join(' ')} failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('observability on the local runtime', () => {
  it('keeps plain jobs at a few DynamoDB writes per thousand jobs in the worker\'s own process (rollups and cohorts)', async () => {
    // More jobs than STATS_ROLLUP.flushMinJobs, through the worker's one instance.
    const jobs = 1_500;
    const started = Date.now();
    // The API takes at most 1,000 jobs a request.
    for (let first = 0; first < jobs; first += 500) {
      await api.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ jobtype: 'Greet', args: [`load${first + i}`] })));
    }
    await eventually(async () => (total('Processed') >= jobs ? true : undefined), 120_000, 'the jobs to run');

    const writes = workerWrites();
    console.log(`worker: ${jobs} plain jobs, ${writes} DynamoDB writes (${(writes / jobs).toFixed(3)} per job)`);
    expect(writes).toBeGreaterThan(0);
    // The instance writes its first counts at once, then flushes for age (counts ten seconds old)
    // or per STATS_ROLLUP.flushMinJobs jobs: a rollup and a cohort or two (three writes) per flush.
    const seconds = (Date.now() - started) / 1000;
    const flushes = 1 + Math.ceil(seconds / (STATS_ROLLUP.flushMaxAgeMs / 1000)) + Math.floor(jobs / STATS_ROLLUP.flushMinJobs);
    expect(writes).toBeLessThanOrEqual(3 * flushes);
    expect(writes / jobs).toBeLessThanOrEqual(0.1);
  }, 180_000);

  it('prints EMF metrics for real jobs and reads their cohort back with exact counts', async () => {
    // The demo's hourly cron enqueues a Greet on the hour: a run that crosses one counts its job too.
    const cronRuns = (from: number) => logs.entries.slice(from).filter((entry) => entry.message.includes('"message":"hello, cron"')).length;
    const entriesBefore = logs.entries.length;
    const processedBefore = total('Processed');
    const failedBefore = total('Failed');
    const enqueuedBefore = total('Enqueued');
    const latenciesBefore = emfLines().length;
    const minute = await startOfFreshMinute();
    const jobs: JobInput[] = [
      ...Array.from({ length: 30 }, (_, i) => ({ jobtype: 'Greet', args: [`n${i}`] })),
      ...Array.from({ length: 5 }, () => ({ jobtype: 'Slow', args: [300] })),
      ...Array.from({ length: 3 }, () => ({ jobtype: 'AlwaysFails', retry: 0 })),
      ...Array.from({ length: 2 }, (_, i) => ({ jobtype: 'Greet', args: [`c${i}`], queue: 'critical' })),
    ];
    await api.enqueueMany(jobs);
    expect(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS).toBe(minute);

    // Every job ran (40 processed, 3 of them failing) and the failures died.
    await eventually(async () => (total('Processed') - processedBefore >= 40 && total('Dead') >= 3 ? true : undefined), 120_000, 'the jobs to run and the failures to die');
    const cron = cronRuns(entriesBefore);
    expect({ processed: total('Processed') - processedBefore, failed: total('Failed') - failedBefore, dead: total('Dead'), enqueued: total('Enqueued') - enqueuedBefore })
      .toEqual({ processed: 40 + cron, failed: 3, dead: 3, enqueued: 40 + cron });
    const wave = emfLines().slice(latenciesBefore);
    const greet = wave.filter((line) => line.JobType === 'Greet' && line.Queue === 'default' && 'Processed' in line);
    expect(greet.reduce((sum, line) => sum + Number(line.Processed), 0)).toBe(30 + cron);
    expect(greet.flatMap((line) => (Array.isArray(line.Latency) ? line.Latency : []))).toHaveLength(30 + cron);
    // The worker measures one latency per first start, for the metric and the cohort alike.
    const latencies = wave.flatMap((line) => (Array.isArray(line.Latency) ? line.Latency.map(Number) : []));
    expect(latencies).toHaveLength(40 + cron);
    // A tick on the hour that opened this minute put its job into this minute's cohort.
    const inCohort = minute % (60 * MINUTE_MS) === 0 ? 1 : 0;

    // Counts still held by the instances are written by their next invocation once old enough; the
    // jobs that give them that invocation belong to the next minute's cohort, not this one.
    const waitMs = Math.max(STATS_ROLLUP.flushMaxAgeMs + 1_000, minute + MINUTE_MS + 500 - Date.now());
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    await api.enqueueMany([{ jobtype: 'Greet', args: ['nudge'] }, { jobtype: 'AlwaysFails', retry: 0 }]);

    // A flush writes its counts, then (a second write) raises the maximum when its own is higher:
    // the cohort is complete once both have landed.
    const highest = Math.max(...latencies);
    const cohort = await eventually(async () => {
      const response = await api.request('GET', '/v1/stats/cohorts?minutes=10');
      const cohorts = isRecord(response.body) && Array.isArray(response.body.cohorts) ? response.body.cohorts.filter(isRecord) : [];
      const found = cohorts.find((entry) => entry.minute === new Date(minute).toISOString());
      const maxLanded = inCohort === 1 || (isRecord(found?.latency_ms) && found.latency_ms.max === highest);
      return found !== undefined && found.done === 37 + inCohort && found.dead === 3 && maxLanded ? found : undefined;
    }, 60_000, 'the cohort to be written');

    expect(cohort).toMatchObject({ started: 40 + inCohort, done: 37 + inCohort, dead: 3, failed: 3, pending: 0 });
    const latency = isRecord(cohort.latency_ms) ? cohort.latency_ms : {};
    const [p50, p90, p99, max] = ['p50', 'p90', 'p99', 'max'].map((name) => Number(latency[name]));
    expect(p50).toBeGreaterThanOrEqual(0);
    expect(p50).toBeLessThanOrEqual(p90 ?? Number.NaN);
    expect(p90).toBeLessThanOrEqual(p99 ?? Number.NaN);
    expect(p99).toBeLessThanOrEqual(max ?? Number.NaN);
    if (inCohort === 0) expect(max).toBe(highest);

    const table = await hopper('stats', '--cohorts', '--minutes', '10');
    const row = table.split('\n').find((line) => line.startsWith(new Date(minute).toISOString().slice(0, 16).replace('T', ' ')));
    expect(row?.split(/\s+/).slice(2, 7)).toEqual([String(40 + inCohort), String(37 + inCohort), '3', '0', '3']);
    if (process.env.HOPPER_PRINT_COHORTS === '1') console.log(table);
  }, 360_000);
});
