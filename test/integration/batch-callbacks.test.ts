/**
 * Batches end to end on the emulators, under duplicate delivery: 60 batches of 50 jobs (sizes
 * and seed from HOPPER_BATCH_TEST_BATCHES, HOPPER_BATCH_TEST_JOBS, HOPPER_BATCH_TEST_SEED; 200
 * batches, about 2.5 minutes on a 2-core machine, for a heavier run) with
 * random failures, run by createWorker, the retry handler and the batch function, while the same
 * messages are handled twice, invocations "crash" after running (no ack), and stream batches are
 * delivered twice. Every callback must be sent exactly once, with the right counts.
 *
 * The run has phases so that the counts a callback carries are known in advance: (1) the jobs run
 * once (clean batches complete and succeed here); (2) the retry function handles the failures
 * (first failures marked, jobs with no retries left marked dead) and only then the stream is read
 * (the other batches complete, deadly ones die); (3) retries and callback jobs run to the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchStreamHandler } from '../../lib/batch/handler.js';
import { matchesBatchStreamFilter } from '../../lib/batch/stream-filter.js';
import { Client } from '../../lib/client/client.js';
import type { Job } from '../../lib/job/model.js';
import { mulberry32 } from '../../lib/common/random.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import type { SqsBatchSender } from '../../lib/aws/sqs-batch.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createWorker } from '../../lib/worker/index.js';
import { CountingDynamo } from './support/capacity.js';
import { queueCounts, startHarness, type Harness } from './support/harness.js';
import { addStats, drainQueue, emptyStats, type Injection } from './support/queue-drain.js';
import { StreamPump } from './support/stream-pump.js';

const BATCHES = positiveInt('HOPPER_BATCH_TEST_BATCHES', 60);
const JOBS = positiveInt('HOPPER_BATCH_TEST_JOBS', 50);
const SEED = positiveInt('HOPPER_BATCH_TEST_SEED', 20_261_122);
const silent = process.env.HOPPER_TEST_LOGS === '1' ? (line: string) => console.error(line) : () => undefined;

function positiveInt(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

type Kind = 'ok' | 'flaky' | 'diesNow' | 'diesLater';
type Profile = 'clean' | 'flaky' | 'deadly';

interface Plan {
  readonly bid: string;
  readonly profile: Profile;
  readonly kinds: readonly Kind[];
}

/** The seeded plan: batch profiles and what each job does. */
function makePlans(random: () => number): Plan[] {
  return Array.from({ length: BATCHES }, (_, index) => {
    const draw = random();
    const profile: Profile = draw < 0.4 ? 'clean' : draw < 0.7 ? 'flaky' : 'deadly';
    const kinds = Array.from({ length: JOBS }, (): Kind => {
      const roll = random();
      if (profile === 'clean') return 'ok';
      if (profile === 'flaky') return roll < 0.2 ? 'flaky' : 'ok';
      return roll < 0.08 ? 'diesNow' : roll < 0.12 ? 'diesLater' : roll < 0.25 ? 'flaky' : 'ok';
    });
    // Every flaky batch has a flaky job and every deadly one a job that dies at once, so each
    // profile is what it says.
    if (profile === 'flaky' && !kinds.includes('flaky')) kinds[0] = 'flaky';
    if (profile === 'deadly' && !kinds.includes('diesNow')) kinds[0] = 'diesNow';
    return { bid: `load-${SEED}-${index}`, profile, kinds };
  });
}

function count(kinds: readonly Kind[], ...wanted: Kind[]): number {
  return kinds.filter((kind) => wanted.includes(kind)).length;
}

let harness: Harness;
let dynamo: CountingDynamo;

beforeAll(async () => {
  harness = await startHarness({ visibilityTimeout: 1, maxReceiveCount: 10 });
  dynamo = new CountingDynamo(harness);
});

afterAll(async () => {
  dynamo?.destroy();
  await harness?.stop();
});

describe(`${BATCHES} batches of ${JOBS} jobs with random failures and duplicate deliveries`, () => {
  it('sends every callback exactly once, with the right counts', async () => {
    const started = Date.now();
    const random = mulberry32(SEED);
    const plans = makePlans(random);
    const injection: Injection = { duplicate: 0.03, crash: 0.03, random };
    const queue = (name: string) => harness.queueUrls[name] ?? '';

    /** Every callback job the batch function sent, by jid. */
    const callbackSends = new Map<string, Job[]>();
    const recordingSqs: SqsBatchSender = {
      send: async (command) => {
        for (const entry of command.input.Entries ?? []) {
          const job: Job = JSON.parse(entry.MessageBody ?? '{}');
          callbackSends.set(job.jid, [...(callbackSends.get(job.jid) ?? []), job]);
        }
        return harness.sqs.send(command);
      },
    };
    /** Jids of the callback jobs a worker ran. */
    const callbackRuns = new Set<string>();

    const client = new Client({ env: harness.env, sqs: harness.sqs, dynamo: dynamo.client });
    const worker = createWorker({
      env: harness.env,
      clients: { sqs: harness.sqs, dynamo: dynamo.client },
      log: silent,
      jobs: {
        Work: ([kind], ctx) => {
          if (kind === 'ok') return;
          if (kind === 'flaky' && ctx.job.failure !== undefined) return;
          throw new Error(`${String(kind)} job failed`);
        },
        BatchCallback: (_args, ctx) => {
          callbackRuns.add(ctx.jid);
        },
      },
    });
    // Retries are due 15-25 s after a failure; a clock 10 minutes ahead makes them due at once.
    const retry = createRetryHandler({ env: harness.env, sqs: harness.sqs, dynamo: dynamo.client, log: silent, now: () => new Date(Date.now() + 600_000) });
    const batchFunction = createBatchStreamHandler({ env: harness.env, sqs: recordingSqs, dynamo: dynamo.client, log: silent });
    const stream = new StreamPump(harness, { filter: matchesBatchStreamFilter, redeliver: () => random() < 0.1 });

    // Enqueue: one batch item, one registration transaction and 5 SQS batches per batch.
    const callback = (event: string) => ({ jobtype: 'BatchCallback', args: [event], queue: 'critical' });
    const lanes = Array.from({ length: 8 }, async (_, lane) => {
      for (let index = lane; index < plans.length; index += 8) {
        const plan = plans[index];
        if (plan === undefined) continue;
        await client.batch({ bid: plan.bid, description: `${plan.profile} batch ${index}`, onComplete: callback('complete'), onSuccess: callback('success'), onDeath: callback('death') }, (batch) => batch.add(plan.kinds.map((kind, job) => ({
          jobtype: 'Work',
          args: [kind],
          jid: `${plan.bid}-j${job}`,
          retry: kind === 'diesNow' ? 0 : kind === 'diesLater' ? 1 : 3,
        }))));
      }
    });
    await Promise.all(lanes);
    const enqueueUsage = { billed: dynamo.billedWriteUnits(), reported: dynamo.reportedWriteUnits(), commands: dynamo.summary() };
    dynamo.reset();

    const stats = { jobs: emptyStats(), retries: emptyStats(), callbacks: emptyStats(), streamDelivered: 0, streamRedeliveredBatches: 0 };
    const pumpStream = async () => { stats.streamDelivered += (await stream.pumpUntilQuiet(batchFunction)).delivered; };

    // (1) Every job runs once, the stream read alongside.
    let running = true;
    const streaming = (async () => {
      while (running) {
        stats.streamDelivered += (await stream.pumpOnce(batchFunction)).delivered;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    addStats(stats.jobs, await drainQueue(harness, queue('default'), worker, { lanes: 4, injection }));
    running = false;
    await streaming;
    await pumpStream();
    const afterFirstRun = new Set(callbackSends.keys());

    // (2) Failures handled, then the stream.
    addStats(stats.retries, await drainQueue(harness, harness.retriesQueueUrl, retry, { lanes: 2, injection }));
    await pumpStream();

    // (3) Retries, deaths and callback jobs run to the end.
    for (let round = 0; round < 10; round += 1) {
      addStats(stats.jobs, await drainQueue(harness, queue('default'), worker, { lanes: 4, injection }));
      addStats(stats.retries, await drainQueue(harness, harness.retriesQueueUrl, retry, { lanes: 2, injection }));
      await pumpStream();
      addStats(stats.callbacks, await drainQueue(harness, queue('critical'), worker, { lanes: 2, injection }));
      const counts = await Promise.all([queue('default'), queue('critical'), harness.retriesQueueUrl].map((url) => queueCounts(harness.sqs, url)));
      if (counts.every((left) => left.visible + left.inFlight + left.delayed === 0)) break;
    }
    const runUsage = { billed: dynamo.billedWriteUnits(), reported: dynamo.reportedWriteUnits(), reads: dynamo.billedReadUnits(), commands: dynamo.summary() };

    // Exactly once: one send per callback, and only the callbacks each profile calls for.
    const expectedJids = plans.flatMap((plan) => [
      `${plan.bid}-complete`,
      ...(plan.profile === 'deadly' ? [`${plan.bid}-death`] : [`${plan.bid}-success`]),
    ]);
    expect([...callbackSends.keys()].sort()).toEqual([...expectedJids].sort());
    expect([...callbackSends].filter(([, sends]) => sends.length !== 1)).toEqual([]);
    // Clean batches finished in phase 1; nothing else could have.
    expect([...afterFirstRun].sort()).toEqual(plans.filter((plan) => plan.profile === 'clean').flatMap((plan) => [`${plan.bid}-complete`, `${plan.bid}-success`]).sort());
    // Each callback job reached a worker and ran.
    expect([...callbackRuns].sort()).toEqual([...expectedJids].sort());

    // The right counts, as the callback jobs received them.
    for (const plan of plans) {
      const { kinds, bid } = plan;
      const ok = count(kinds, 'ok');
      const failing = count(kinds, 'flaky', 'diesNow', 'diesLater');
      const args = (event: string) => callbackSends.get(`${bid}-${event}`)?.[0]?.args;
      const status = { bid, total: JOBS, pending: 0, children: 0, description: expect.stringMatching(new RegExp(`^${plan.profile} batch`)) };
      expect(args('complete'), `${bid} complete`).toEqual([{ ...status, event: 'complete', succeeded: ok, failures: failing, dead: count(kinds, 'diesNow'), created_at: expect.any(String) }, 'complete']);
      if (plan.profile === 'deadly') {
        expect(args('death'), `${bid} death`).toEqual([{ ...status, event: 'death', succeeded: ok, failures: failing, dead: count(kinds, 'diesNow'), created_at: expect.any(String) }, 'death']);
      } else {
        expect(args('success'), `${bid} success`).toEqual([{ ...status, event: 'success', succeeded: JOBS, failures: 0, dead: 0, created_at: expect.any(String) }, 'success']);
      }
    }

    // And as getBatch reads them at the end.
    const finals = await Promise.all(plans.map((plan) => client.getBatch(plan.bid)));
    finals.forEach((status, index) => {
      const plan = plans[index];
      if (plan === undefined) return;
      const dead = count(plan.kinds, 'diesNow', 'diesLater');
      expect(status, plan.bid).toMatchObject({
        total: JOBS, pending: 0, succeeded: JOBS - dead, failures: dead, dead,
        complete: true, success: plan.profile !== 'deadly',
        callbacks: {
          complete: { configured: true, firedAt: expect.any(String), sentAt: expect.any(String) },
          ...(plan.profile === 'deadly' ? { death: { firedAt: expect.any(String) } } : { success: { firedAt: expect.any(String) } }),
        },
      });
      expect(plan.profile === 'deadly' ? status?.succeededAt : status?.diedAt).toBeUndefined();
    });

    // The dead set holds exactly the jobs that died.
    const dead = await new StateTable(harness.dynamo, harness.stateTable).readSetRange('dead', { limit: 1000 });
    expect(new Set(dead.entries.map((entry) => entry.jid))).toEqual(new Set(plans.flatMap((plan) => plan.kinds.flatMap((kind, job) => (kind === 'diesNow' || kind === 'diesLater' ? [`${plan.bid}-j${job}`] : [])))));

    // Duplicates really were injected.
    expect(stats.jobs.duplicated).toBeGreaterThan(0);
    expect(stats.jobs.crashed).toBeGreaterThan(0);
    expect(stats.retries.duplicated + stats.retries.crashed).toBeGreaterThan(0);

    const batchJobs = BATCHES * JOBS;
    const report = {
      batches: BATCHES,
      jobs: batchJobs,
      seed: SEED,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      profiles: { clean: plans.filter((plan) => plan.profile === 'clean').length, flaky: plans.filter((plan) => plan.profile === 'flaky').length, deadly: plans.filter((plan) => plan.profile === 'deadly').length },
      kinds: { ok: plans.reduce((sum, plan) => sum + count(plan.kinds, 'ok'), 0), flaky: plans.reduce((sum, plan) => sum + count(plan.kinds, 'flaky'), 0), diesNow: plans.reduce((sum, plan) => sum + count(plan.kinds, 'diesNow'), 0), diesLater: plans.reduce((sum, plan) => sum + count(plan.kinds, 'diesLater'), 0) },
      callbacksSent: callbackSends.size,
      injected: { jobs: stats.jobs, retries: stats.retries, callbacks: stats.callbacks, streamRecordsDelivered: stats.streamDelivered },
      writeUnitsPerBatchJob: {
        billed: Math.round(((enqueueUsage.billed + runUsage.billed) / batchJobs) * 100) / 100,
        enqueueBilled: Math.round((enqueueUsage.billed / batchJobs) * 100) / 100,
        runBilled: Math.round((runUsage.billed / batchJobs) * 100) / 100,
        reportedByDynamoDbLocal: Math.round(((enqueueUsage.reported + runUsage.reported) / batchJobs) * 100) / 100,
      },
      readUnitsPerBatchJob: Math.round((runUsage.reads / batchJobs) * 1000) / 1000,
      enqueueCommands: enqueueUsage.commands,
      runCommands: runUsage.commands,
    };
    console.log(`batch load report ${JSON.stringify(report)}`);
  }, 1_800_000);
});
