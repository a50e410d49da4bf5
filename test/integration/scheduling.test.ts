/**
 * Scheduled jobs, cron ticks and expiry on the emulators (fauxqs, DynamoDB Local), with the clock
 * offset the functions honour (HOPPER_CLOCK_OFFSET_MS) standing in for waiting 20 minutes: the
 * scheduler and the worker run 20 minutes "ahead", SQS delays run in real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduledJobs } from '../../lib/admin/scheduled.js';
import { Client } from '../../lib/client/client.js';
import { createCronHandler } from '../../lib/cron/handler.js';
import { CronTickBusyError } from '../../lib/errors/cron.js';
import { cronTickInput, resolveCron } from '../../lib/cron/definition.js';
import { normalizeJob, type Job, type JobInput } from '../../lib/job/model.js';
import { createSchedulerHandler, type SweepResult } from '../../lib/scheduler/handler.js';
import { CronStore } from '../../lib/storage/cron-store.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createLogger, createWorker } from '../../lib/worker/index.js';
import { fakeContext, heldMessages, pumpUntil, queueCounts, startHarness, type Harness } from './support/harness.js';

const MINUTE = 60_000;
const logs = process.env.HOPPER_TEST_LOGS === '1' ? (line: string) => console.error(line) : () => undefined;

let harness: Harness;
let table: StateTable;

/** The environment of a function whose clock runs `offsetMs` ahead of the real one. */
function shifted(offsetMs: number): Record<string, string> {
  return { ...harness.env, HOPPER_CLOCK_OFFSET_MS: String(Math.round(offsetMs)) };
}

function queueUrl(name: string): string {
  const url = harness.queueUrls[name];
  if (url === undefined) throw new Error(`no queue ${name}`);
  return url;
}

function jobOf(body: string): Job {
  return normalizeJob(JSON.parse(body), { now: new Date(0) });
}

beforeAll(async () => {
  harness = await startHarness({ queues: ['default', 'critical'] });
  table = new StateTable(harness.dynamo, harness.stateTable);
});

afterAll(async () => {
  await harness?.stop();
});

describe('scheduled jobs', () => {
  it('starts a job scheduled 20 minutes ahead at its due time: the sweep plans the second after it, the run is never early', async () => {
    const client = new Client({ env: harness.env, sqs: harness.sqs });
    const jid = await client.schedule({ jobtype: 'Remind', args: ['in 20 minutes'] }, { in: '20m' });
    const stored = (await table.readSetRange('scheduled', { limit: 1000 })).entries.find((entry) => entry.jid === jid);
    if (stored === undefined) throw new Error('the job did not go to the scheduled set');
    const dueMs = stored.epochMs;

    // Sweep as the scheduler would 5 s before the job is due.
    const offset = dueMs - 5_000 - Date.now();
    const sweep = createSchedulerHandler({ env: shifted(offset), sqs: harness.sqs, log: logs });
    const result = await sweep({}, fakeContext());
    expect(result).toMatchObject({ moved: 1, failed: 0 });
    // What the sweep decided, on its own clock, is exact: its "now" (the job's enqueued_at) plus the
    // delay it asked SQS for (whole seconds, rounded up) falls within the second after the due time.
    const held = heldMessages(harness, queueUrl('default')).find((message) => jobOf(message.body).jid === jid);
    if (held === undefined) throw new Error('the sweep did not send the job');
    const planned = Date.parse(jobOf(held.body).enqueued_at ?? '') + (held.delayUntil ?? held.sentTimestamp) - held.sentTimestamp;
    expect(planned - dueMs).toBeGreaterThanOrEqual(0);
    expect(planned - dueMs).toBeLessThan(1_000);

    let startedMs: number | undefined;
    const worker = createWorker({
      env: shifted(offset),
      log: logs,
      jobs: { Remind: (_args, ctx) => { if (ctx.jid === jid) startedMs = Date.now() + offset; } },
    });
    await pumpUntil(harness, queueUrl('default'), worker, { done: () => startedMs !== undefined, timeoutMs: 15_000 });

    if (startedMs === undefined) throw new Error('the job never started');
    // Never early (the delay is rounded up). How late a loaded machine delivers it is the
    // emulator's and the poll's, bounded loosely here; bench/ measures the precision (scheduling).
    expect(startedMs - dueMs).toBeGreaterThanOrEqual(-50);
    expect(startedMs - dueMs).toBeLessThanOrEqual(10_000);
  });

  it('moves 1,000 jobs spread over the next minutes onto their queue exactly once, a sweep a minute', async () => {
    const client = new Client({ env: harness.env, sqs: harness.sqs });
    const base = Date.now() + 20 * MINUTE;
    const inputs: JobInput[] = Array.from({ length: 1000 }, (_, i) => ({ jobtype: 'Bulk', args: [i], queue: 'critical', at: new Date(base + i * 180) }));
    for (let i = 0; i < inputs.length; i += 100) await client.enqueueMany(inputs.slice(i, i + 100));
    const dueByJid = new Map((await table.readSetRange('scheduled', { limit: 1000 })).entries.filter((entry) => entry.jobtype === 'Bulk').map((entry) => [entry.jid, entry.epochMs]));
    expect(dueByJid.size).toBe(1000);

    // Two sweeps a minute apart (the jobs span three minutes, the sweeps look 150 s ahead). One at
    // a time, as the scheduler function's reserved concurrency of 1 runs them.
    const results: SweepResult[] = [];
    const offsets: number[] = [];
    for (const round of [0, 1]) {
      const offset = Math.round(base - 10_000 + round * MINUTE - Date.now());
      offsets.push(offset);
      results.push(await createSchedulerHandler({ env: shifted(offset), sqs: harness.sqs, log: logs })({}, fakeContext()));
    }

    const held = heldMessages(harness, queueUrl('critical')).map((message) => ({ message, job: jobOf(message.body) })).filter(({ job }) => job.jobtype === 'Bulk');
    const counts = new Map<string, number>();
    for (const { job } of held) counts.set(job.jid, (counts.get(job.jid) ?? 0) + 1);
    expect(held).toHaveLength(1000);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(counts.keys())).toEqual(new Set(dueByJid.keys()));
    expect(results.reduce((sum, result) => sum + result.moved, 0)).toBe(1000);
    expect(results.reduce((sum, result) => sum + result.failed + result.lingering, 0)).toBe(0);
    expect((await table.readSetRange('scheduled', { limit: 1000 })).entries.filter((entry) => entry.jobtype === 'Bulk')).toEqual([]);

    // Each lands at its due time. What the sweep decided, on its own clock, is exact: its "now"
    // (the job's enqueued_at) plus the delay it asked SQS for (whole seconds, rounded up) falls
    // within the second after the due time. On top comes the time the send took to reach the
    // emulator: two sweeps send 500 jobs each at once through the local SQS endpoint, all in this
    // one process, which a loaded machine stretches; it is bounded loosely, as a sanity check (the
    // precision a job gets end to end is measured in bench/'s scheduling part).
    let slowestSendMs = 0;
    for (const { message, job } of held) {
      const due = dueByJid.get(job.jid) ?? 0;
      const enqueuedAt = Date.parse(job.enqueued_at ?? '');
      const delayMs = (message.delayUntil ?? message.sentTimestamp) - message.sentTimestamp;
      expect(enqueuedAt + delayMs - due, job.jid).toBeGreaterThanOrEqual(0);
      expect(enqueuedAt + delayMs - due, job.jid).toBeLessThan(1_000);
      // enqueued_at, on the sweep's clock, tells which round sent it.
      const apparent = enqueuedAt - message.sentTimestamp;
      const offset = offsets.reduce((best, candidate) => (Math.abs(candidate - apparent) < Math.abs(best - apparent) ? candidate : best));
      const sendMs = message.sentTimestamp + offset - enqueuedAt;
      expect(sendMs, job.jid).toBeGreaterThanOrEqual(-50);
      slowestSendMs = Math.max(slowestSendMs, sendMs);
    }
    console.info(`1,000 scheduled jobs: the slowest send reached the emulator ${slowestSendMs} ms after its sweep planned it`);
    expect(slowestSendMs).toBeLessThanOrEqual(10_000);
  });
});

describe('waiting jobs through the library', () => {
  it('lists by jobtype, runs one now and deletes another', async () => {
    const client = new Client({ env: harness.env, sqs: harness.sqs });
    const [later, gone] = await client.enqueueMany([
      { jobtype: 'Invoice', args: [1], queue: 'critical', at: new Date(Date.now() + 3 * 3_600_000) },
      { jobtype: 'Invoice', args: [2], queue: 'critical', at: new Date(Date.now() + 4 * 3_600_000) },
      { jobtype: 'Other', queue: 'critical', at: new Date(Date.now() + 3 * 3_600_000) },
    ]);
    const waiting = new ScheduledJobs({ table, sqs: harness.sqs, queueUrls: harness.queueUrls, logger: createLogger({ sink: logs }) });

    const invoices = await waiting.list({ jobtype: 'Invoice' });
    const [first, second] = invoices.jobs;
    if (first === undefined || second === undefined) throw new Error('not listed');

    expect(invoices.jobs.map((job) => job.jid)).toEqual([later, gone]);
    expect(await waiting.runNow('scheduled', first.id)).toBe('done');
    expect(await waiting.delete('scheduled', second.id)).toBe('done');
    expect((await waiting.list({ jobtype: 'Invoice' })).jobs).toEqual([]);
    const ran = heldMessages(harness, queueUrl('critical')).map((message) => jobOf(message.body)).filter((job) => job.jobtype === 'Invoice');
    expect(ran.map((job) => job.jid)).toEqual([later]);
  });
});

describe('cron ticks', () => {
  const definition = resolveCron({ name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'], queue: 'critical' } }, ['default', 'critical']);
  const tick = cronTickInput(definition, '2026-11-22T02:00:00Z');
  const jid = 'cron:nightly:20261122T020000Z';

  it('enqueues a tick delivered twice, even at the same time, once', async () => {
    const cron = () => createCronHandler({ env: harness.env, sqs: harness.sqs, log: logs });

    const together = await Promise.allSettled([cron()(tick, fakeContext()), cron()(tick, fakeContext())]);
    const later = await cron()(tick, fakeContext());

    const outcomes = together.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.status : outcome.reason instanceof CronTickBusyError ? 'busy' : String(outcome.reason)));
    expect(outcomes.filter((outcome) => outcome === 'enqueued')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome !== 'enqueued').every((outcome) => outcome === 'busy' || outcome === 'duplicate')).toBe(true);
    expect(later).toMatchObject({ status: 'duplicate', jid });
    const sent = heldMessages(harness, queueUrl('critical')).map((message) => jobOf(message.body)).filter((job) => job.jid === jid);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ jobtype: 'Report', args: ['daily'], queue: 'critical' });
  });

  it('records the last and next run for the dashboard, in the cron\'s time zone', async () => {
    const run = await new CronStore(harness.dynamo, harness.stateTable).getRun('nightly');

    expect(run).toMatchObject({
      name: 'nightly', schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna', jobtype: 'Report', queue: 'critical',
      lastRunAt: '2026-11-22T02:00:00.000Z', lastJid: jid, nextRunAt: '2026-11-23T02:00:00.000Z',
    });
  });

  it('claims again a tick whose holder died before enqueuing, once its claim lapsed', async () => {
    const store = new CronStore(harness.dynamo, harness.stateTable);
    const scheduledMs = Date.parse('2026-11-23T02:00:00Z');
    const nowMs = Date.now();
    await store.claimTick('nightly', scheduledMs, { owner: 'died', nowMs, untilMs: nowMs + 1_000, ttl: Math.floor(nowMs / 1000) + 60 });
    const cron = createCronHandler({ env: harness.env, sqs: harness.sqs, log: logs });
    const nextTick = cronTickInput(definition, '2026-11-23T02:00:00Z');

    await expect(cron(nextTick, fakeContext())).rejects.toThrow(CronTickBusyError);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const retried = await cron(nextTick, fakeContext());

    expect(retried).toMatchObject({ status: 'enqueued', jid: 'cron:nightly:20261123T020000Z' });
  });
});

describe('expiring jobs', () => {
  it('never runs a job that reaches its worker after it expired, and runs its fresh neighbour', async () => {
    const client = new Client({ env: harness.env, sqs: harness.sqs });
    const stale = await client.schedule({ jobtype: 'Quote', args: ['EURUSD'] }, { in: '20m' }, { expiresIn: '30s' });
    const fresh = await client.schedule({ jobtype: 'Quote', args: ['GBPUSD'] }, { in: '20m' });
    const dueMs = Date.now() + 20 * MINUTE;

    // The scheduler comes round a minute late: both are overdue, one has expired.
    const offset = dueMs + MINUTE - Date.now();
    await createSchedulerHandler({ env: shifted(offset), sqs: harness.sqs, log: logs })({}, fakeContext());
    const ran: string[] = [];
    const lines: string[] = [];
    const worker = createWorker({ env: shifted(offset), log: (line) => lines.push(line), jobs: { Quote: (_args, ctx) => { ran.push(ctx.jid); } } });
    const dropped = () => lines.some((line) => line.includes('"job expired; dropped without running"'));
    await pumpUntil(harness, queueUrl('default'), worker, { done: () => ran.includes(fresh) && dropped(), timeoutMs: 10_000 });

    expect(ran).toEqual([fresh]);
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(expect.objectContaining({ message: 'job expired; dropped without running', jid: stale }));
    expect(await queueCounts(harness.sqs, queueUrl('default'))).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await queueCounts(harness.sqs, harness.retriesQueueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});
