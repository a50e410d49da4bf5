/**
 * A long iterating job on the local runtime, in real time: two jobs of `--minutes` of work each
 * (items of `--item-ms`) on the `longrun` queue of the promises fixture stack, whose worker has a
 * 60 s timeout, so each runs as slices of one invocation; each worker process is killed once
 * mid-way (at the middle item). `WalkEvery` checkpoints after every item; `Walk` at most every 5 s
 * (the default). Records, per job: slices, items run and run twice, whether its progress (read
 * every 2 s with `Client.status`) ever went back, its attempt, result and wall time.
 *
 * Usage: npx tsx bench/iterate-long.ts [--minutes 40] [--item-ms 1000]
 * Writes bench/results/iterate-long-<date>-<commit>.json; exits 1 when a job did not finish, an
 * item of `WalkEvery` ran twice or was skipped, or any progress went back.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from '../lib/client/client.js';
import type { JobStatus } from '../lib/storage/job-states.js';
import { LogCollector } from '../local/log.js';
import { startLocal } from '../local/runtime.js';
import { logicalIdOf } from '../test/fixtures/local-helpers.js';
import { LONGRUN_TIMEOUT_S } from '../test/fixtures/stacks/promises-stack.js';
import { runMeta } from './lib/meta.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '40' }, 'item-ms': { type: 'string', default: '1000' } } });
const minutes = Number(values.minutes);
const itemMs = Number(values['item-ms']);
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes must be a positive number, but ${JSON.stringify(values.minutes)} was provided`);
if (!Number.isInteger(itemMs) || itemMs <= 0) throw new Error(`--item-ms must be a positive integer, but ${JSON.stringify(values['item-ms'])} was provided`);
const count = Math.round((minutes * 60_000) / itemMs);
const crashAt = Math.floor(count / 2);
const meta = runMeta();

const logs = new LogCollector();
const local = await startLocal({ app: 'npx tsx test/fixtures/promises-app.ts', stack: 'LocalPromises', logs: logs.sink });
try {
  const client = new Client({ env: { ...local.env, HOPPER_QUEUE_URLS: local.outputs.JobsQueueUrls ?? '', HOPPER_STATE_TABLE: local.tableName(logicalIdOf(local.tables, 'JobsStateTable')) } });
  const started = Date.now();
  const jobs = await Promise.all(['WalkEvery', 'Walk'].map(async (jobtype) => ({
    jobtype,
    jid: await client.enqueue({ jobtype, args: [count, itemMs, crashAt], queue: 'longrun', custom: { result: true } }),
    readings: [] as number[],
    finished: undefined as (JobStatus & { wallMs: number }) | undefined,
  })));
  process.stderr.write(`${jobs.length} jobs of ${count} items of ${itemMs} ms (${minutes} min each) on a ${LONGRUN_TIMEOUT_S} s worker; crash at item ${crashAt}\n`);
  const deadline = started + minutes * 60_000 * 2 + 10 * 60_000;
  let printedMs = started;
  while (jobs.some((job) => job.finished === undefined) && Date.now() < deadline) {
    for (const job of jobs.filter((candidate) => candidate.finished === undefined)) {
      const status = await client.status(job.jid);
      if (status?.progress !== undefined) job.readings.push(status.progress);
      if (status?.state === 'succeeded') job.finished = { ...status, wallMs: Date.now() - started };
    }
    if (Date.now() - printedMs >= 60_000) {
      printedMs = Date.now();
      process.stderr.write(`${Math.round((printedMs - started) / 60_000)} min: ${jobs.map((job) => `${job.jobtype} ${job.readings.at(-1)?.toFixed(1) ?? '-'}%`).join(', ')}\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }

  const lines = logs.jsonObjects();
  const crashes = logs.entries.filter((entry) => entry.message.includes('LongRunnerFunction') && entry.message.includes('Runtime exited with error')).length;
  const results = jobs.map((job) => {
    const items = lines.filter((line) => line.message === 'item' && line.jid === job.jid).map((line) => Number(line.index));
    const runs = new Map<number, number>();
    for (const index of items) runs.set(index, (runs.get(index) ?? 0) + 1);
    const slices = lines.filter((line) => line.jid === job.jid && (String(line.message).startsWith('iteration paused') || line.message === 'iteration done')).length;
    const takes = Math.max(0, ...lines.filter((line) => line.jid === job.jid && line.message === 'iteration resumed').map((line) => Number(line.slice)));
    return {
      jobtype: job.jobtype,
      jid: job.jid,
      finished: job.finished !== undefined,
      attempt: job.finished?.attempt,
      result: job.finished?.result,
      wallMinutes: job.finished === undefined ? undefined : Number((job.finished.wallMs / 60_000).toFixed(2)),
      slicesEnded: slices,
      slicesTaken: takes,
      items: count,
      itemRuns: items.length,
      itemsSkipped: Array.from({ length: count }, (_, index) => index).filter((index) => !runs.has(index)).length,
      itemsRunTwice: [...runs.values()].filter((runsOf) => runsOf > 1).length,
      progressReadings: job.readings.length,
      progressWentBack: job.readings.some((reading, index) => index > 0 && reading < (job.readings[index - 1] ?? 0)),
    };
  });
  const output = { bench: 'iterate-long', ...meta, parameters: { minutes, itemMs, items: count, crashAt, workerTimeoutSeconds: LONGRUN_TIMEOUT_S }, workerCrashes: crashes, jobs: results };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}iterate-long-${meta.date.slice(0, 10)}-${meta.commit}.json`;
  writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
  console.log(JSON.stringify(output, null, 2));
  console.log(`written to ${file}`);
  const every = results.find((result) => result.jobtype === 'WalkEvery');
  const bad = results.some((result) => !result.finished || result.progressWentBack || result.itemsSkipped > 0) || every === undefined || every.itemsRunTwice > 0;
  process.exitCode = bad ? 1 : 0;
} finally {
  await local.stop();
}
