/**
 * `ctx.flow` for a job that is a step of a flow (lib/flow): which flow and step it is, and `spawn`,
 * which adds jobs to the step's batch, so the step's dependants wait for every spawned job.
 */
import { readFlowStepRef, type FlowStepRef } from '../batch/model.js';
import type { Job, JobInput } from '../job/model.js';
import type { BatchContext, FlowContext } from './types.js';

/** The flow context of `job`, or undefined when it is not a flow step (or not in its step's batch). */
export function flowContext(job: Job, batch: BatchContext | undefined): FlowContext | undefined {
  const ref: FlowStepRef | undefined = readFlowStepRef(job.custom?.flow);
  if (ref === undefined || batch === undefined) return undefined;
  return { ...ref, spawn: (jobs: readonly JobInput[]) => batch.add(jobs) };
}
