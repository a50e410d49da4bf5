/**
 * Flows in the batch function (lib/batch/handler.ts), from the state table's stream:
 * - a record of a step's batch item whose counters say the step settled (every job succeeded, or
 *   every job that failed is dead) settles the step in its flow item ({@link settleFromBatch}):
 *   a conditional write that a repeated record finds done;
 * - a record of a flow item starts the steps its write started and sends the flow's callbacks when
 *   its write settled the flow ({@link handleFlowRecord}). Each transition is made by one write
 *   (./store.ts), so its one record acts on it; a redelivered record finds a step's batch sealed,
 *   or the callbacks marked sent, and does not act twice.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import type { ItemRead } from '../aws/dynamo.js';
import { Batch } from '../batch/handle.js';
import type { BatchState, Counter } from '../batch/model.js';
import type { BatchStore } from '../batch/store.js';
import { enqueueJobs, type EnqueueRuntime } from '../enqueue/enqueue.js';
import type { JobInput } from '../job/model.js';
import type { Logger } from '../observability/logger.js';
import { flowStepBid } from '../storage/keys.js';
import { flowCallbackJid, flowCallbackStatus, flowEffects, settleStep, type StepOutcome } from './engine.js';
import { readFlowItem } from './item.js';
import type { FlowState } from './model.js';
import { parentRefs } from './parents.js';
import type { FlowStore } from './store.js';

/** What flows need in the batch function. */
export interface FlowStreamDeps {
  readonly flows: FlowStore;
  readonly batches: BatchStore;
  readonly runtime: EnqueueRuntime;
  readonly now: () => Date;
  readonly logger: Logger;
}

/** The custom field of a step's job and of a flow callback job. */
export const FLOW_FIELD = 'flow';

/**
 * What a step's batch came to, or undefined while it has not settled: every job succeeded
 * (`succeeded`), or every job has run and each that failed is dead (`failed`). A job that failed
 * and waits for a retry keeps the step running.
 */
export function stepOutcome(counters: Readonly<Record<Counter, number>>): StepOutcome | undefined {
  const settled = counters.total + counters.children > 0 && counters.open <= 0 && counters.pending <= 0
    && counters.failures <= counters.dead && counters.children_complete >= counters.children;
  if (!settled) return undefined;
  return counters.dead > 0 || counters.children_dead > 0 ? 'failed' : 'succeeded';
}

/** Settles the flow step batch `state` runs, when its counters say it settled. */
export async function settleFromBatch(deps: FlowStreamDeps, state: BatchState): Promise<void> {
  const { flow } = state;
  if (flow === undefined) return;
  const outcome = stepOutcome(state.counters);
  if (outcome === undefined) return;
  const written = await deps.flows.change(flow.id, (current) => settleStep(current.plan, current, flow.step, flow.attempt, outcome, deps.now()));
  if (written !== undefined) deps.logger.info('flow step settled', { flow_id: flow.id, step: flow.step, attempt: flow.attempt, outcome, flow_status: written.status });
}

/** Acts on one flow item record: starts the steps its write started, sends the callbacks its write made due. */
export async function handleFlowRecord(deps: FlowStreamDeps, record: DynamoDBRecord): Promise<void> {
  const newImage = record.dynamodb?.NewImage as ItemRead | undefined;
  const oldImage = record.dynamodb?.OldImage as ItemRead | undefined;
  const after = newImage === undefined ? undefined : readFlowItem(newImage);
  if (after === undefined) return;
  const before = oldImage === undefined ? undefined : readFlowItem(oldImage);
  const effects = flowEffects(before, after);
  await Promise.all(effects.start.map((start) => startStep(deps, after, start.step, start.attempt)));
  if (effects.events.length > 0) await sendCallbacks(deps, after);
}

/**
 * Starts attempt `attempt` of `step`: its batch (marked with the step), its job in it, sealed. A
 * batch found sealed was started by an earlier delivery of the same record.
 */
async function startStep(deps: FlowStreamDeps, flow: FlowState, step: string, attempt: number): Promise<void> {
  const planned = flow.plan.steps[step];
  if (planned === undefined) return;
  const bid = flowStepBid(flow.id, step, attempt);
  const existing = await deps.batches.get(bid);
  if (existing?.sealed === true) return;
  const ref = { id: flow.id, step, attempt };
  await deps.batches.create({ bid, callbacks: {}, description: `flow ${flow.id}: ${step}`, flow: ref });
  const batch = new Batch(bid, { runtime: deps.runtime, store: () => Promise.resolve(deps.batches) });
  const parents = parentRefs(flow.plan, flow.steps, step);
  const flowField = Object.keys(parents).length === 0 ? ref : { ...ref, parents };
  const job: JobInput = { ...planned.job, jid: bid, custom: { ...planned.job.custom, [FLOW_FIELD]: flowField } };
  await batch.add([job]);
  await batch.seal();
  deps.logger.info('flow step started', { flow_id: flow.id, step, attempt, jid: bid, jobtype: planned.job.jobtype });
}

/** Sends the callback jobs of the flow's settling, unless they were sent, then marks them sent. */
async function sendCallbacks(deps: FlowStreamDeps, settled: FlowState): Promise<void> {
  const current = await deps.flows.get(settled.id);
  if (current === undefined || current.callbacksSentAt !== undefined || current.retries !== settled.retries || current.finishedAt === undefined) return;
  const events = flowEffects(undefined, current).events;
  const jobs = events.flatMap((event) => {
    const callback = current.plan.callbacks[event];
    if (callback === undefined) return [];
    return [{
      ...callback,
      jid: flowCallbackJid(current.id, event, current.retries),
      args: [flowCallbackStatus(current, event), ...(callback.args ?? [])],
      custom: { ...callback.custom, [FLOW_FIELD]: { id: current.id, event } },
    }];
  });
  if (jobs.length > 0) await enqueueJobs(deps.runtime, jobs, { many: true });
  await deps.flows.markCallbacksSent(current.id);
  deps.logger.info('flow settled', { flow_id: current.id, status: current.status, callbacks: jobs.map((job) => job.jid) });
}
