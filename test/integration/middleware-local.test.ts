/**
 * Middleware on the local runtime, from the outside: the fixture stack's JobSystem is given a
 * middleware module (test/fixtures/handlers/middleware.ts) and so are its worker and the tests'
 * `Client`. Its client chain appends the path it ran for to `custom.vias`, so each job the worker
 * runs says which chains it went through; the hooks log a `hook` line in the function that made the
 * move.
 *
 * One job is enqueued by every path Hopper has, and each must have run the client chain exactly
 * once for that path: `Client`, the API, a batch callback, a cron tick, the worker's own retry, the
 * retry function's retry, a limiter's requeue, the scheduler's move, a run-now from the scheduled
 * set, a retry from the dead set, and the redrive of the retries DLQ.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api-client/index.js';
import { Client } from '../../lib/client/client.js';
import { isRecord, type Job } from '../../lib/job/model.js';
import { LOCAL_IDENTITY } from '../../local/emulators.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import middleware from '../fixtures/handlers/middleware.js';
import { eventually, logicalIdOf, printRuntimeLogsOnFailure } from '../fixtures/local-helpers.js';
import { MIDDLEWARE_CRON } from '../fixtures/stacks/middleware-stack.js';

const logs = new LogCollector();
let local: LocalRuntime;
let client: Client;
let api: ApiClient;

const MINUTE = 60_000;

beforeAll(async () => {
  local = await startLocal({ app: 'npx tsx test/fixtures/middleware-app.ts', stack: 'LocalMiddleware', logs: logs.sink });
  client = new Client({
    env: { ...local.env, HOPPER_QUEUE_URLS: local.outputs.JobsQueueUrls ?? '', HOPPER_STATE_TABLE: local.tableName(logicalIdOf(local.tables, 'JobsStateTable')) },
    middleware,
  });
  api = new ApiClient({ url: local.functionUrl(logicalIdOf(local.functions, 'JobsApiFunction')), maxAge: 10_000 });
});

afterAll(async () => {
  await local?.stop();
});

printRuntimeLogsOnFailure(logs);

/** The JSON lines every function printed so far, with the function's logical id. */
function lines(): (Record<string, unknown> & { source: string })[] {
  return logs.entries.flatMap((entry) => {
    if (!entry.message.startsWith('{')) return [];
    try {
      const parsed: unknown = JSON.parse(entry.message);
      return isRecord(parsed) ? [{ ...parsed, source: entry.source }] : [];
    } catch {
      return [];
    }
  });
}

/** The paths the client chain ran for, as the worker saw them when it ran `jid` (undefined until it has). */
function ranVias(jid: string): string[][] {
  return lines().filter((line) => line.message === 'ran' && line.jid === jid).map((line) => (Array.isArray(line.vias) ? line.vias.map(String) : []));
}

/** Waits until the worker has run `jid` and gives the paths of each run. */
async function waitForRun(jid: string, timeoutMs = 60_000): Promise<string[][]> {
  return eventually(async () => {
    const runs = ranVias(jid);
    return runs.length > 0 ? runs : undefined;
  }, timeoutMs, `the worker to run ${jid}`);
}

/** The `hook` lines logged so far for `hook`. */
function hookLines(hook: string): (Record<string, unknown> & { source: string })[] {
  return lines().filter((line) => line.message === 'hook' && line.hook === hook);
}

/** The name of the stack's schedule whose logical id contains `part`. */
function scheduleName(part: string): string {
  const found = local.schedules().find((schedule) => schedule.logicalId.includes(part));
  if (found === undefined) throw new Error(`no schedule ${part}`);
  return found.name;
}

describe('middleware on every path (local runtime)', () => {
  it('runs the client chain exactly once for each path a job is enqueued by', { timeout: 180_000 }, async () => {
    // Paths that take a backoff (15 to 25 s) start first.
    const failOnce = await client.enqueue('FailOnce', []);
    let batchedFailure = '';
    const batch = await client.batch({ description: 'middleware', onSuccess: { jobtype: 'Record', args: ['callback'] } }, async (filling) => {
      [batchedFailure = ''] = await filling.add([{ jobtype: 'FailOnce', args: ['in a batch'] }]);
    });
    const limited = await client.enqueue('LimitedOnce', []);
    const viaClient = await client.enqueue('Record', ['client']);
    const viaApi = await api.enqueue('Record', ['api']);
    const deadOnce = await client.enqueue('DeadOnce', []);
    const runNow = await client.schedule({ jobtype: 'Record', args: ['run now'] }, { in: '2h' });

    // A crashed job's message in the retries DLQ, as SQS leaves it there; redriven through the API.
    const sqs = new SQSClient({
      region: LOCAL_IDENTITY.region, endpoint: local.endpoints.sqs,
      credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    });
    const dlqUrl = local.outputs.JobsRetriesDlqUrl ?? '';
    const redriven: Job = { jid: 'redriven-0001', jobtype: 'Record', args: ['redrive'], queue: 'default', created_at: new Date().toISOString(), retry: 1 };
    await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: JSON.stringify(redriven) }));
    const redrive = await api.redriveRetries();
    expect(redrive.moved).toBe(1);

    // A cron tick, fired by its schedule.
    local.triggerSchedule(scheduleName(`Cron${MIDDLEWARE_CRON}`));

    expect(await waitForRun(viaClient)).toEqual([['client']]);
    expect(await waitForRun(viaApi)).toEqual([['api']]);
    expect(await waitForRun(limited)).toEqual([['client', 'requeue']]);
    expect(await waitForRun(redriven.jid)).toEqual([['redrive']]);
    const cronRun = await eventually(async () => lines().find((line) => line.message === 'ran' && typeof line.jid === 'string' && line.jid.startsWith(`cron:${MIDDLEWARE_CRON}:`)), 60_000, 'the cron job to run');
    expect(cronRun.vias).toEqual(['cron']);

    // Run now from the scheduled set, and a retry of the dead set, through the API.
    const scheduled = await eventually(async () => (await api.entries('scheduled')).entries.find((entry) => entry.jid === runNow), 20_000, `${runNow} in the scheduled set`);
    await api.retryEntry('scheduled', scheduled.id);
    expect(await waitForRun(runNow)).toEqual([['client', 'run-now']]);
    const dead = await eventually(async () => (await api.entries('dead')).entries.find((entry) => entry.jid === deadOnce), 30_000, `${deadOnce} in the dead set`);
    await api.retryEntry('dead', dead.id);
    expect(await waitForRun(deadOnce)).toEqual([['client', 'dead-retry']]);

    // Retries: the worker sends a plain job back itself; a batch job goes through the retry function.
    expect(await waitForRun(failOnce, 90_000)).toEqual([['client', 'retry']]);
    expect(await waitForRun(batchedFailure, 90_000)).toEqual([['client', 'retry']]);
    const callback = await eventually(async () => lines().find((line) => line.message === 'ran' && line.jid === `${batch.bid}-success`), 60_000, 'the success callback to run');
    expect(callback.vias).toEqual(['callback']);

    // Scheduler: a job due in 20 minutes, moved by a sweep fired as if 20 minutes had passed.
    const later = await client.schedule({ jobtype: 'Record', args: ['scheduler'] }, { in: '20m' });
    local.setClockOffset(20 * MINUTE);
    try {
      local.triggerSchedule(scheduleName('SchedulerSweep'));
      expect(await waitForRun(later)).toEqual([['client', 'scheduler']]);
    } finally {
      local.setClockOffset(0);
    }

    // Each chain ran in the function that enqueued (the client's own runs are in this process).
    const chainSources = lines().filter((line) => line.message === 'client chain').map((line) => `${String(line.via)}@${line.source.replace(/[A-F0-9]{8}$/, '')}`);
    expect(new Set(chainSources)).toEqual(new Set([
      'api@JobsApiFunction', 'run-now@JobsApiFunction', 'dead-retry@JobsApiFunction', 'redrive@JobsRetryFunction', 'retry@JobsRetryFunction',
      'retry@WorkerFunction', 'requeue@WorkerFunction', 'cron@JobsSchedulerCronFunction', 'callback@JobsBatchFunction', 'scheduler@JobsSchedulerSweepFunction',
    ]));
  });

  it('calls each hook in the function that made the move', () => {
    const sources = (hook: string) => hookLines(hook).map((line) => line.source.replace(/[A-F0-9]{8}$/, ''));
    // The worker's own retry, and the retry function's (the batch job, and the redriven crash: none, it was not charged).
    expect(sources('onRetry').sort()).toEqual(['JobsRetryFunction', 'WorkerFunction']);
    expect(hookLines('onDead')).toEqual([expect.objectContaining({ errtype: 'UnrecoverableJobError', source: expect.stringMatching(/^JobsRetryFunction/) })]);
    expect(hookLines('onBatchSettled').map((line) => line.event).sort()).toEqual(['complete', 'success']);
    expect(sources('onBatchSettled')).toEqual(['JobsBatchFunction', 'JobsBatchFunction']);
  });

  it('drops an expired job in the worker\'s expiry step and calls onExpired', { timeout: 60_000 }, async () => {
    const now = Date.now();
    const jid = await client.enqueue({ jobtype: 'Record', args: ['expired'], at: new Date(now + 3_000), custom: { expires_at: new Date(now + 1_000).toISOString() } });
    const hook = await eventually(async () => hookLines('onExpired').find((line) => line.jid === jid), 30_000, `onExpired for ${jid}`);
    expect(hook.source).toMatch(/^WorkerFunction/);
    expect(ranVias(jid)).toEqual([]);
    // 'expiry' stands first: the team's server middleware never saw the job.
    expect(lines().filter((line) => line.message === 'server chain before' && line.jid === jid)).toEqual([]);
  });

  it('runs the server chain around each job it runs', () => {
    const all = lines();
    const ran = all.filter((line) => line.message === 'ran');
    // The eleven jobs of the paths test, each run once.
    expect(ran).toHaveLength(11);
    for (const run of ran) {
      // Around every run that finished; a run that threw (a first attempt) has no 'after'.
      const after = all.filter((line) => line.jid === run.jid && line.message === 'server chain after');
      const before = all.filter((line) => line.jid === run.jid && line.message === 'server chain before');
      expect(after).toHaveLength(ran.filter((other) => other.jid === run.jid).length);
      expect(before.length).toBeGreaterThanOrEqual(after.length);
    }
  });
});
