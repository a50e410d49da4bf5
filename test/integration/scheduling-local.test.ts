/**
 * Scheduled jobs and cron ticks end to end on the local runtime: the demo stack (infra/app.ts) run
 * from its synthesized template, with its real scheduler, cron and worker functions and its
 * EventBridge Scheduler schedules.
 *
 * The runtime's clock offset stands in for waiting: it shifts "now" for the schedules and for every
 * function (HOPPER_CLOCK_OFFSET_MS), while SQS delays run in real time. The worker's log lines carry
 * `time` from the worker's own (shifted) clock, which is what a job's lateness is measured on.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../lib/client/client.js';
import { cronJid } from '../../lib/cron/definition.js';
import { isRecord } from '../../lib/job/model.js';
import { StateTable } from '../../lib/storage/index.js';
import { shardOf } from '../../lib/storage/keys.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { dynamoClient, eventually, printRuntimeLogsOnFailure, sqsClient } from '../fixtures/local-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const logs = new LogCollector();
printRuntimeLogsOnFailure(logs);
let local: LocalRuntime;
let sqs: SQSClient;
let dynamo: DynamoDBClient;
let client: Client;
let table: StateTable;

beforeAll(async () => {
  local = await startLocal({ projectDir: ROOT, stack: 'HopperDemo', logs: logs.sink });
  sqs = sqsClient(local);
  dynamo = dynamoClient(local);
  const env = { ...local.env, HOPPER_QUEUE_URLS: output('JobsQueueUrls'), HOPPER_STATE_TABLE: output('JobsStateTableName') };
  client = new Client({ env, sqs, dynamo });
  table = new StateTable(dynamo, output('JobsStateTableName'));
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  dynamo?.destroy();
  await local?.stop();
});

function output(name: string): string {
  const value = local.outputs[name];
  if (value === undefined) throw new Error(`the demo stack has no output ${name} (it has ${Object.keys(local.outputs).join(', ')})`);
  return value;
}

/** Logical id of the demo stack's function whose logical id contains `part`. */
function functionId(part: string): string {
  const found = local.functions.filter((fn) => fn.logicalId.includes(part));
  if (found.length !== 1) throw new Error(`expected one function with ${part} in its logical id, found ${found.map((fn) => fn.logicalId).join(', ') || 'none'}`);
  return found[0]?.logicalId ?? '';
}

/** Name of the demo stack's schedule whose name or logical id contains `part`. */
function scheduleName(part: string): string {
  const found = local.schedules().filter((schedule) => schedule.name.includes(part) || schedule.logicalId.includes(part));
  if (found.length !== 1) throw new Error(`expected one schedule matching ${part}, found ${local.schedules().map((schedule) => schedule.name).join(', ')}`);
  return found[0]?.name ?? '';
}

/** JSON log lines of a function (createLogger's format). */
function jsonLines(logicalId: string): Record<string, unknown>[] {
  return logs.from(logicalId).flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      return isRecord(parsed) ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

/** The demo worker's greetings (Greet jobs it ran) for `jid`. */
function greetings(jid: string): Record<string, unknown>[] {
  return jsonLines(functionId('Worker')).filter((line) => line.jid === jid && typeof line.message === 'string' && line.message.startsWith('hello, '));
}

/**
 * Fires a schedule as if "now" were `atMs`: shifts the runtime's clock there and triggers the
 * schedule in the same synchronous step, so the scheduled time it passes is `atMs` within a
 * millisecond or two (EventBridge's <aws.scheduler.scheduled-time> has whole seconds).
 */
function fireAt(schedule: string, atMs: number): void {
  local.setClockOffset(atMs - Date.now());
  local.triggerSchedule(schedule);
}

describe('scheduled jobs on the local runtime', () => {
  it('starts a job scheduled 20 minutes ahead at its due time, never early, once', { timeout: 90_000 }, async () => {
    const jid = await client.schedule({ jobtype: 'Greet', args: ['twenty minutes later'] }, { in: '20m' });
    const { entries } = await table.readSetRange('scheduled', { limit: 1000 });
    const stored = entries.find((entry) => entry.jid === jid);
    if (stored === undefined) throw new Error(`${jid} is not in the scheduled set`);
    const dueMs = stored.epochMs;
    expect(dueMs - Date.now()).toBeGreaterThan(19 * MINUTE);

    // "Now" becomes 30 s before the job is due; the sweep moves it to SQS with the remaining delay.
    fireAt(scheduleName('Sweep'), dueMs - 30_000);
    await eventually(async () => ((await table.readSetRange('scheduled', { limit: 1000 })).entries.some((entry) => entry.jid === jid) ? undefined : true), 20_000, `${jid} to leave the scheduled set`);
    expect(greetings(jid)).toEqual([]);

    const [greeting] = await eventually(async () => {
      const found = greetings(jid);
      return found.length > 0 ? found : undefined;
    }, 60_000, `the worker to run ${jid}`);
    const startedMs = Date.parse(String(greeting?.time));
    const latenessMs = startedMs - dueMs;
    process.stdout.write(`scheduled job ${jid}: due ${new Date(dueMs).toISOString()}, started ${String(greeting?.time)} (worker clock), lateness ${latenessMs} ms\n`);
    expect(greeting).toMatchObject({ message: 'hello, twenty minutes later', jobtype: 'Greet', queue: 'default', attempt: 1 });
    // Never early. How late it starts on a loaded machine is the runtime's poll and the emulator's,
    // bounded loosely; the sweep's own plan is checked exactly in scheduling.test.ts, and bench/'s
    // scheduling part measures the precision of 300 jobs (p99 about 1 s late).
    expect(latenessMs).toBeGreaterThanOrEqual(0);
    expect(latenessMs).toBeLessThanOrEqual(10_000);

    // A second sweep finds nothing to move, and the job has run once.
    local.triggerSchedule(scheduleName('Sweep'));
    await sleep(3_000);
    expect(greetings(jid)).toHaveLength(1);
  });
});

describe('a backlog of scheduled jobs on the local runtime', () => {
  it('is shared by the sweep with its helpers (other invocations), each job moved once', { timeout: 120_000 }, async () => {
    // 2,400 jobs due at the same second, their jids picked to fall in 16 of the set's shards: about
    // 150 in each, more than a page of 100.
    const atMs = Date.now() + 30 * MINUTE;
    const run = `backlog-${Date.now()}`;
    const jids: string[] = [];
    for (let index = 0; jids.length < 2_400; index += 1) if (shardOf('scheduled', `${run}-${index}`) < 16) jids.push(`${run}-${index}`);
    const jobs = jids.map((jid, index) => ({ jobtype: 'Greet', jid, args: [`${run} ${index}`], at: new Date(atMs) }));
    for (let start = 0; start < jobs.length; start += 100) await client.enqueueMany(jobs.slice(start, start + 100));
    const sweepId = functionId('SweepFunction');
    const helperId = functionId('SweepHelperFunction');
    const sweepsBefore = jsonLines(sweepId).filter((line) => line.message === 'sweep done').length;

    fireAt(scheduleName('Sweep'), atMs - 30_000);
    const done = await eventually(async () => jsonLines(sweepId).filter((line) => line.message === 'sweep done').slice(sweepsBefore).find((line) => Number(line.due) > 0), 90_000, 'the sweep to finish');

    const helped = jsonLines(helperId).filter((line) => line.message === 'sweep helper done');
    expect(helped.length).toBeGreaterThan(0);
    const movedByHelpers = helped.reduce((sum, line) => sum + Number(line.moved), 0);
    expect(movedByHelpers).toBeGreaterThan(0);
    // The sweep's counts include its helpers'.
    expect(done).toMatchObject({ moved: 2_400, failed: 0, lingering: 0, unread: 0 });
    expect(Number(done?.moved)).toBeGreaterThan(movedByHelpers);
    const left = (await table.readSetRange('scheduled', { limit: 1000 })).entries.filter((entry) => String(entry.job?.args[0] ?? '').startsWith(run));
    expect(left).toEqual([]);
  });
});

describe('schedules on the local runtime', () => {
  it('can be disabled and enabled again, as update-schedule --state does', () => {
    const sweep = scheduleName('Sweep');
    const state = () => local.schedules().find((schedule) => schedule.name === sweep);
    local.setScheduleEnabled(sweep, false);
    expect(state()).toMatchObject({ enabled: false, nextFireAt: undefined });
    local.setScheduleEnabled(sweep, true);
    expect(state()?.enabled).toBe(true);
    expect(Date.parse(state()?.nextFireAt ?? '')).toBeGreaterThan(Date.now() + local.clockOffsetMs - 1_000);
    expect(() => local.setScheduleEnabled('no-such-schedule', false)).toThrow(/no schedule no-such-schedule/);
  });
});

describe('cron ticks on the local runtime', () => {
  it('enqueues a tick delivered twice once', { timeout: 60_000 }, async () => {
    const cronFunction = functionId('CronFunction');
    const cron = scheduleName('Cronhourlygreeting');
    // The top of an hour ahead of anything the first test's clock reached.
    const tickMs = Math.ceil((Date.now() + local.clockOffsetMs + 2 * HOUR) / HOUR) * HOUR;
    const jid = cronJid('hourly-greeting', tickMs);
    const cronLines = (message: string) => jsonLines(cronFunction).filter((line) => line.message === message && line.jid === jid);

    // Half a second past the top of the hour: the event still says the top of the hour, and the
    // runtime's own timer for this cron is then due an hour later, not now.
    fireAt(cron, tickMs + 500);
    await eventually(async () => (cronLines('cron job enqueued').length > 0 ? true : undefined), 20_000, `the cron function to enqueue ${jid}`);
    await eventually(async () => (greetings(jid).length > 0 ? true : undefined), 20_000, `the worker to run ${jid}`);

    // The same tick again, as EventBridge Scheduler may deliver it.
    fireAt(cron, tickMs + 500);
    await eventually(async () => (cronLines('duplicate tick; already enqueued').length > 0 ? true : undefined), 20_000, `the cron function to see ${jid} again`);
    await sleep(3_000);

    expect(cronLines('cron job enqueued')).toHaveLength(1);
    expect(cronLines('duplicate tick; already enqueued')).toHaveLength(1);
    expect(greetings(jid)).toHaveLength(1);
    expect(greetings(jid)[0]).toMatchObject({ message: 'hello, cron', jobtype: 'Greet', queue: 'default' });
  });
});
