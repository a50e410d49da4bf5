/**
 * Cost per million jobs, from a real run on the local runtime: each scenario's jobs are enqueued
 * while the worker's event source mapping is paused (so that receives are full batches of ten,
 * as under load), the mapping is resumed, and once the stack is still again the requests counted
 * in between — producer, event source mappings, every function — are priced and set against the
 * floor for the same work (plain SQS and Lambda) and against the feature's own minimum: the floor
 * plus the DynamoDB units the feature cannot do without, derived in docs/cost.md.
 */
import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { job, type FlowDefinition, type FlowStepBuilder } from '../../lib/flow/model.js';
import type { JobInput } from '../../lib/job/model.js';
import { retryDelaySeconds } from '../../lib/retry/policy.js';
import { awsBilledMs, costOf, floorCounts, perMillionJobs, type Cost, type Prices, type PricingContext } from '../lib/billing.js';
import { diffCounts, type Counts } from '../lib/counts.js';
import { round } from '../lib/stats.js';
import type { BenchSession } from './session.js';
import type { MappingSelector } from '../../local/runtime.js';

/** Plain jobs must cost at most this many times the floor. */
export const PLAIN_COST_GOAL = 1.15;

/** Every other feature must cost at most this many times its own minimum. */
export const FEATURE_COST_GOAL = 1.5;

/**
 * The DynamoDB units per job a feature cannot do without, for jobs and items under 1 KB (each
 * write of such an item is 1 write unit; reads are eventually consistent, 0.5 units per 4 KB read
 * by a query). Derived, feature by feature, in docs/cost.md.
 */
export interface FeatureMinimum {
  readonly writeUnitsPerJob: number;
  readonly readUnitsPerJob: number;
  /** What those units are. */
  readonly why: string;
}

/** The size of each scenario. */
export interface CostParameters {
  readonly plainJobs: number;
  readonly retriedJobs: number;
  readonly scheduledJobs: number;
  readonly batches: number;
  readonly jobsPerBatch: number;
  readonly uniqueJobs: number;
  /** Jobs of each of the tracked, result, once and iterate scenarios. */
  readonly featureJobs: number;
}

export const COST_DEFAULTS: CostParameters = { plainJobs: 500, retriedJobs: 200, scheduledJobs: 200, batches: 2, jobsPerBatch: 100, uniqueJobs: 200, featureJobs: 200 };

/** One scenario's result. */
export interface CostResult {
  readonly scenario: string;
  readonly jobs: number;
  readonly description: string;
  /** What the floor assumes for the same work. */
  readonly floorWork: { readonly jobs: number; readonly runsPerJob: number };
  readonly counts: Counts;
  /** Per job: billed SQS requests by operation, DynamoDB units by operation, invocations by function. */
  readonly perJob: Record<string, number>;
  /** Receives that found the queue empty (priced per queue and hour, not per job). */
  readonly emptyReceives: number;
  readonly perMillionJobs: Cost;
  readonly floorPerMillionJobs: Cost;
  readonly ratioToFloor: number;
  /** The feature's own minimum: the floor plus {@link FeatureMinimum}'s units. */
  readonly minimum: FeatureMinimum;
  readonly minimumPerMillionJobs: Cost;
  readonly ratioToMinimum: number;
  readonly goal: string | null;
  readonly pass: boolean | null;
}

interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly jobs: number;
  /** Jobs the floor runs (callbacks included) and how often each runs. */
  readonly floor: { readonly jobs: number; readonly runsPerJob: number };
  readonly minimum: FeatureMinimum;
  /** Puts the jobs on their way; the worker's mapping (`mapping`) is paused on entry and on return. */
  enqueue(session: BenchSession, mapping: MappingSelector): Promise<void>;
}

/** fauxqs counts a message as delayed until a receive finds it due, so retries are waited for by time: the longest first-retry delay (random() just below 1) and a second of margin. */
const FIRST_RETRY_WAIT_MS = (retryDelaySeconds(0, () => 0.999) + 1) * 1000;

const noop = (count: number, extra: Partial<JobInput> = {}): JobInput[] => {
  const run = randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, index) => ({ jobtype: 'Noop', args: [run, index], ...extra }));
};

function scenarios(parameters: CostParameters): Scenario[] {
  const batchJobs = parameters.batches * parameters.jobsPerBatch;
  return [
    {
      name: 'plain',
      description: 'Noop jobs, enqueueMany',
      jobs: parameters.plainJobs,
      floor: { jobs: parameters.plainJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 0, readUnitsPerJob: 0, why: 'nothing beyond SQS and Lambda' },
      enqueue: async (session) => void (await session.client.enqueueMany(noop(parameters.plainJobs))),
    },
    {
      name: 'retried-once',
      description: 'FailOnce jobs: fail, are re-sent by the worker with their retry delay, succeed on the retry; both runs received as a backlog',
      jobs: parameters.retriedJobs,
      floor: { jobs: parameters.retriedJobs, runsPerJob: 2 },
      minimum: { writeUnitsPerJob: 0, readUnitsPerJob: 0, why: 'a second send, receive and run; a retry due within 15 minutes needs no table' },
      enqueue: async (session, mapping) => {
        await session.client.enqueueMany(noop(parameters.retriedJobs, { jobtype: 'FailOnce' }));
        // The first runs, from a backlog as every scenario's jobs are. Their retries come back over
        // Sidekiq's jitter (15 to 24 s for a first retry): received as they come, a few hundred
        // would arrive a few at a time, far from the full batches a million retries fill. So they
        // are gathered the same way: the mapping paused until every retry is due.
        session.resume(mapping);
        await waitForQueue(session, ({ visible, delayed, inFlight }) => delayed >= parameters.retriedJobs && visible + inFlight === 0, `${parameters.retriedJobs} retries waiting with their delay`);
        await session.pause(mapping);
        // fauxqs counts a message as delayed until a receive finds it due: the wait is a time.
        await new Promise((resolve) => setTimeout(resolve, FIRST_RETRY_WAIT_MS));
      },
    },
    {
      name: 'scheduled',
      description: 'Noop jobs 20 minutes ahead (the scheduled set in the state table), moved by one sweep',
      jobs: parameters.scheduledJobs,
      floor: { jobs: parameters.scheduledJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 2, readUnitsPerJob: 0.05, why: 'the entry put, its delete once sent, and its share of a query page (100 entries of about 400 bytes: 5 read units)' },
      enqueue: async (session) => {
        const aheadMs = 20 * 60_000;
        const at = new Date(Date.now() + aheadMs);
        await session.client.enqueueMany(noop(parameters.scheduledJobs, { at }));
        // For the sweep the jobs are now due (the clock moves every function's "now").
        session.local.setClockOffset(aheadMs + 5_000);
        session.local.triggerSchedule(sweepSchedule(session));
        await waitForQueue(session, ({ visible, delayed }) => visible + delayed >= parameters.scheduledJobs, `the sweep's ${parameters.scheduledJobs} jobs on the queue`);
      },
    },
    {
      name: 'batch',
      description: `${parameters.batches} batches of ${parameters.jobsPerBatch} Noop jobs with an onSuccess callback each`,
      jobs: batchJobs,
      floor: { jobs: batchJobs + parameters.batches, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 1, readUnitsPerJob: 0, why: "the job's outcome, recorded once (the batch's own items amortized over its jobs)" },
      enqueue: async (session) => {
        for (let index = 0; index < parameters.batches; index += 1) {
          await session.client.batch({ description: `bench ${index}`, onSuccess: { jobtype: 'Noop', args: ['batch done', index] } }, (batch) => batch.add(noop(parameters.jobsPerBatch)));
        }
      },
    },
    {
      name: 'unique',
      description: 'Noop jobs with custom.unique_for = 3600 (a lock taken on enqueue, released on success)',
      jobs: parameters.uniqueJobs,
      floor: { jobs: parameters.uniqueJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 2, readUnitsPerJob: 0, why: 'the lock taken (a conditional put) and released (a delete)' },
      enqueue: async (session) => void (await session.client.enqueueMany(noop(parameters.uniqueJobs, { custom: { unique_for: 3600 } }))),
    },
    {
      name: 'tenant-cap',
      description: 'Noop jobs of 20 tenants on a queue with perTenant { concurrency: 1000 } (a lease taken and given back per job; none held)',
      jobs: parameters.featureJobs,
      floor: { jobs: parameters.featureJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 2, readUnitsPerJob: 0, why: "the tenant's lease taken and given back (the overrides' read is per tenant per 30 s, not per job)" },
      enqueue: async (session) => void (await session.client.enqueueMany(noop(parameters.featureJobs).map((job, index) => ({ ...job, custom: { tenant: `tenant-${index % 20}` } })))),
    },
    {
      name: 'throttle',
      description: 'Noop jobs with custom.throttle of one key, 1,000 a minute: the jobs arrive faster than it drains, within its burst (one admission each; none held)',
      jobs: parameters.featureJobs,
      floor: { jobs: parameters.featureJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 1, readUnitsPerJob: 0, why: "the key's bucket moved once per start" },
      enqueue: async (session) => void (await session.client.enqueueMany(noop(parameters.featureJobs, { custom: { throttle: { key: `bench:${randomUUID().slice(0, 8)}`, limit: 1_000, per: 'minute' } } }))),
    },
    {
      name: 'debounce',
      description: 'Noop jobs with custom.debounce, each its own key, period 1 s (each runs: none superseded)',
      jobs: parameters.featureJobs,
      floor: { jobs: parameters.featureJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob: 2, readUnitsPerJob: 1, why: "the key's item put, read (strongly consistent) and deleted" },
      enqueue: async (session) => {
        const jobs = noop(parameters.featureJobs);
        await session.client.enqueueMany(jobs.map((job, index) => ({ ...job, custom: { debounce: { key: `bench:${String(job.args?.[0])}:${index}`, period: 1 } } })));
        // fauxqs counts a message as delayed until a receive finds it due: the wait is a time.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
      },
    },
    {
      name: 'flow',
      description: `${flowCount(parameters)} flows of ${FLOW_SHAPE.steps} Noop steps (one root, ${FLOW_SHAPE.steps - 2} after it, one after them all) with an onSuccess callback each; per step`,
      jobs: flowCount(parameters) * FLOW_SHAPE.steps,
      floor: { jobs: flowCount(parameters) * (FLOW_SHAPE.steps + 1), runsPerJob: 1 },
      minimum: {
        writeUnitsPerJob: 3,
        readUnitsPerJob: 1,
        why: "the step's batch put, its job's outcome counted once, and one conditional write of the flow's progress (under 1 KB) that settles the step and starts its dependants, after one consistent read of it",
      },
      enqueue: async (session) => {
        for (let index = 0; index < flowCount(parameters); index += 1) await session.client.flow(benchFlow(index));
      },
    },
    ...([
      ['tracked', 'Report jobs with custom.track: two ctx.progress calls (one written, one coalesced), the start and the end', 'Report', { track: true }, 3, 'the start, one progress write, the end'],
      ['result', 'Report jobs with custom.result: as tracked, and the return value kept', 'Report', { result: true }, 3, 'as tracked, the result kept in the end write'],
      ['once', 'Step jobs: one ctx.once step each (taken, then done)', 'Step', {}, 2, 'the step taken, then marked done'],
      ['iterate', 'Walk jobs: iterate over ten items in one slice (the cursor taken, then finished)', 'Walk', {}, 2, 'the cursor taken, then finished'],
    ] as const).map(([name, description, jobtype, custom, writeUnitsPerJob, why]): Scenario => ({
      name,
      description,
      jobs: parameters.featureJobs,
      floor: { jobs: parameters.featureJobs, runsPerJob: 1 },
      minimum: { writeUnitsPerJob, readUnitsPerJob: 0, why },
      enqueue: async (session) => void (await session.client.enqueueMany(noop(parameters.featureJobs, { jobtype, custom }))),
    })),
  ];
}

/** The flow scenario's shape: a root, the steps after it, and a step after them all. */
const FLOW_SHAPE = { steps: 10 } as const;

/** Flows of the flow scenario: as many steps as each feature scenario has jobs. */
function flowCount(parameters: CostParameters): number {
  return Math.max(1, Math.round(parameters.featureJobs / FLOW_SHAPE.steps));
}

/** Flow `index` of the flow scenario: `fetch`, then `part-1` … `part-8` after it, then `join` after them all. */
function benchFlow(index: number): FlowDefinition {
  const parts = Array.from({ length: FLOW_SHAPE.steps - 2 }, (_, part) => `part-${part + 1}`);
  const steps: Record<string, FlowStepBuilder> = { fetch: job('Noop', ['flow', index]) };
  for (const part of parts) steps[part] = job('Noop', ['flow', index, part]).after('fetch');
  steps.join = job('Noop', ['flow', index, 'join']).after(parts);
  return { description: `bench ${index}`, steps, onSuccess: { jobtype: 'Noop', args: ['flow done', index] } };
}

interface QueueCounts {
  readonly visible: number;
  readonly delayed: number;
  readonly inFlight: number;
}

/** Polls the default queue's counts until `done` holds of them; `what` names the wait in its error. */
async function waitForQueue(session: BenchSession, done: (counts: QueueCounts) => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const url = session.queueUrl('JobsQueuedefault');
  for (;;) {
    const { Attributes: attributes = {} } = await session.sqs.send(new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessagesNotVisible'],
    }));
    const counts: QueueCounts = {
      visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
      delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
      inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
    if (done(counts)) return;
    if (Date.now() > deadline) throw new Error(`cost: no ${what} within ${timeoutMs} ms (visible ${counts.visible}, delayed ${counts.delayed}, in flight ${counts.inFlight})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The floor's counts with a feature's own DynamoDB units for `jobs` jobs added. */
export function minimumCounts(floor: Counts, minimum: FeatureMinimum, jobs: number): Counts {
  if (minimum.writeUnitsPerJob === 0 && minimum.readUnitsPerJob === 0) return floor;
  return {
    ...floor,
    dynamodb: { ...floor.dynamodb, minimum: { requests: 0, readUnits: minimum.readUnitsPerJob * jobs, writeUnits: minimum.writeUnitsPerJob * jobs, estimatedUnits: 0 } },
  };
}

/** Per-job figures of `counts`: billed SQS requests, DynamoDB units and invocations, by what caused them. */
export function perJobFigures(counts: Counts, jobs: number, functionNames: ReadonlyMap<string, string>): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const [operation, entry] of Object.entries(counts.sqs)) {
    const billed = entry.billed - entry.empty;
    if (billed > 0) figures[`sqs ${operation}`] = round(billed / jobs, 4);
  }
  for (const [operation, entry] of Object.entries(counts.dynamodb)) {
    if (entry.writeUnits > 0) figures[`dynamodb ${operation} WRU`] = round(entry.writeUnits / jobs, 4);
    if (entry.readUnits > 0) figures[`dynamodb ${operation} RRU`] = round(entry.readUnits / jobs, 4);
  }
  for (const [name, entry] of Object.entries(counts.lambda)) {
    const label = functionNames.get(name) ?? name;
    figures[`lambda ${label} invocations`] = round(entry.invocations / jobs, 4);
    figures[`lambda ${label} ms`] = round(awsBilledMs(entry) / jobs, 3);
    if ((entry.dynamoWaits ?? 0) > 0) figures[`lambda ${label} ms measured`] = round(entry.billedMs / jobs, 3);
  }
  return figures;
}

/** Runs every scenario on `session` and prices it. */
export async function measureCost(session: BenchSession, prices: Prices, parameters: CostParameters, log: (line: string) => void): Promise<CostResult[]> {
  const results: CostResult[] = [];
  // The every-minute sweep would land in whichever scenario runs at that minute; its cost is per
  // minute, not per job. It is off for the run, and the scheduled scenario fires it by hand.
  const sweep = sweepSchedule(session);
  session.local.setScheduleEnabled(sweep, false);
  try {
    await runScenarios(session, prices, parameters, log, results);
  } finally {
    session.local.setScheduleEnabled(sweep, true);
  }
  return results;
}

/** The name of the bench stack's sweep schedule. */
function sweepSchedule(session: BenchSession): string {
  const sweep = session.local.schedules().find((schedule) => schedule.logicalId.includes('Sweep'));
  if (sweep === undefined) throw new Error('the bench stack has no sweep schedule');
  return sweep.name;
}

async function runScenarios(session: BenchSession, prices: Prices, parameters: CostParameters, log: (line: string) => void, results: CostResult[]): Promise<void> {
  const worker = session.fn('Worker');
  const defaultQueue = session.local.queues.find((queue) => queue.logicalId.startsWith('JobsQueuedefault'));
  if (defaultQueue === undefined) throw new Error('the bench stack has no default queue');
  const mapping = { function: worker.logicalId, source: defaultQueue.logicalId };
  const context: PricingContext = {
    architectures: Object.fromEntries(session.functions.map((fn) => [fn.name, fn.architecture])),
    scheduledFunctions: session.functions.filter((fn) => fn.logicalId.includes('Sweep') || fn.logicalId.includes('Cron')).map((fn) => fn.name),
  };
  const labels = new Map(session.functions.map((fn) => [fn.name, fn.logicalId.replace(/[0-9A-F]{8}$/, '')]));
  // Warm instances first: a million jobs amortize cold starts, a few hundred would not.
  // The failure path too (its first SendMessageBatch loads the SQS client, its first backtrace the
  // source map), once per instance: the retries are waited for, outside every scenario's counts.
  log('cost: warm-up');
  await session.client.enqueueMany([...noop(parameters.plainJobs), ...noop(parameters.retriedJobs, { jobtype: 'FailOnce' })]);
  await session.settle();
  await new Promise((resolve) => setTimeout(resolve, FIRST_RETRY_WAIT_MS));
  await session.settle();
  // A worker instance writes its stats rollup at most every ten seconds, on an invocation: one
  // more round here flushes what the retries left, so it is not billed to the first scenario.
  await session.client.enqueueMany(noop(parameters.plainJobs));
  let before = await session.settle();
  for (const scenario of scenarios(parameters)) {
    log(`cost: ${scenario.name} (${scenario.jobs} jobs)`);
    await session.pause(mapping);
    await scenario.enqueue(session, mapping);
    session.resume(mapping);
    const after = await session.settle();
    const counts = diffCounts(after, before);
    before = after;
    if (session.local.clockOffsetMs !== 0) {
      // Back to the real clock, outside any scenario's counts.
      session.local.setClockOffset(0);
      before = await session.settle();
    }
    const workerRecords = counts.lambda[worker.name]?.records ?? 0;
    const expectedRecords = scenario.floor.jobs * scenario.floor.runsPerJob;
    if (workerRecords < expectedRecords) throw new Error(`cost ${scenario.name}: the worker was given ${workerRecords} records, fewer than the ${expectedRecords} runs expected`);
    const cost = perMillionJobs(costOf(counts, prices, context), scenario.jobs);
    const floor = perMillionJobs(costOf(floorCounts({ ...scenario.floor, functionName: worker.name, memoryMb: worker.memoryMb }), prices, context), scenario.jobs);
    const ratio = cost.total / floor.total;
    const minimum = perMillionJobs(costOf(minimumCounts(floorCounts({ ...scenario.floor, functionName: worker.name, memoryMb: worker.memoryMb }), scenario.minimum, scenario.jobs), prices, context), scenario.jobs);
    const ratioToMinimum = cost.total / minimum.total;
    const isPlain = scenario.name === 'plain';
    results.push({
      scenario: scenario.name,
      jobs: scenario.jobs,
      description: scenario.description,
      floorWork: scenario.floor,
      counts,
      perJob: perJobFigures(counts, scenario.jobs, labels),
      emptyReceives: Object.values(counts.sqs).reduce((sum, entry) => sum + entry.empty, 0),
      perMillionJobs: cost,
      floorPerMillionJobs: floor,
      ratioToFloor: round(ratio, 3),
      minimum: scenario.minimum,
      minimumPerMillionJobs: minimum,
      ratioToMinimum: round(ratioToMinimum, 3),
      goal: isPlain ? `≤ ${PLAIN_COST_GOAL}× floor` : `≤ ${FEATURE_COST_GOAL}× its minimum`,
      pass: isPlain ? ratio <= PLAIN_COST_GOAL : ratioToMinimum <= FEATURE_COST_GOAL,
    });
  }
}
