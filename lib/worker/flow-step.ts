/**
 * `ctx.flow` for a job that is a step of a flow (lib/flow): which flow and step it is, `spawn`,
 * which adds jobs to the step's batch, so the step's dependants wait for every spawned job, and
 * `parents`, which gives each settled parent's outcome and kept result (lib/flow/parents.ts).
 */
import { readFlowStepRef, type FlowStepRef } from '../batch/model.js';
import { parentResults, readParentRefs } from '../flow/parents.js';
import type { Job, JobInput } from '../job/model.js';
import { flowStepBid } from '../storage/keys.js';
import type { BatchContext, FlowContext } from './types.js';

/** Reads the kept result of job `jid` (undefined when none was kept). */
export type ResultReader = (jid: string) => Promise<unknown>;

/** The flow context of `job`, or undefined when it is not a flow step (or not in its step's batch). */
export function flowContext(job: Job, batch: BatchContext | undefined, readResult: ResultReader): FlowContext | undefined {
  const ref: FlowStepRef | undefined = readFlowStepRef(job.custom?.flow);
  if (ref === undefined || batch === undefined) return undefined;
  let parents: ReturnType<FlowContext['parents']> | undefined;
  return {
    ...ref,
    spawn: (jobs: readonly JobInput[]) => batch.add(jobs),
    parents: () => {
      parents ??= parentResults(readParentRefs(job.custom?.flow), (parent, attempt) => flowStepBid(ref.id, parent, attempt), readResult);
      return parents;
    },
  };
}
