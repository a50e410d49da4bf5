/**
 * A flow as users read it (`Client.getFlow`, `GET /v1/flows/{id}`, `hopper flow status`): the flow's
 * status and each step, parents first, with its state, attempt, timing and edges.
 */
import { flowStepBid } from '../storage/keys.js';
import type { FlowEdge, FlowState, FlowStatus, StepStatus } from './model.js';

/** One step of a flow as read. */
export interface FlowStepView {
  readonly name: string;
  readonly jobtype: string;
  readonly status: StepStatus;
  /** Starts so far (0 while waiting): the step's batch and job are `<flow>.<step>.<attempt>`. */
  readonly attempt: number;
  /** The batch of its current attempt, once it started. */
  readonly bid?: string;
  readonly after: readonly FlowEdge[];
  readonly startedAt?: string;
  readonly endedAt?: string;
}

/** A flow as read. */
export interface FlowView {
  readonly id: string;
  readonly description?: string;
  readonly status: FlowStatus;
  /** False while a step of a failed flow still runs; true once nothing runs and nothing will start. */
  readonly settled: boolean;
  readonly failedStep?: string;
  readonly retries: number;
  readonly createdAt: string;
  readonly finishedAt?: string;
  /** Steps in an order where parents come first. */
  readonly steps: readonly FlowStepView[];
}

/** The view of `state`. */
export function flowView(state: FlowState): FlowView {
  return {
    id: state.id,
    ...(state.description === undefined ? {} : { description: state.description }),
    status: state.status,
    settled: state.finishedAt !== undefined,
    ...(state.failedStep === undefined ? {} : { failedStep: state.failedStep }),
    retries: state.retries,
    createdAt: state.createdAt,
    ...(state.finishedAt === undefined ? {} : { finishedAt: state.finishedAt }),
    steps: state.plan.order.map((name) => {
      const step = state.steps[name] ?? { status: 'waiting', attempt: 0 };
      return {
        name,
        jobtype: state.plan.steps[name]?.job.jobtype ?? '',
        status: step.status,
        attempt: step.attempt,
        ...(step.attempt > 0 ? { bid: flowStepBid(state.id, name, step.attempt) } : {}),
        after: state.plan.steps[name]?.parents ?? [],
        ...(step.startedAt === undefined ? {} : { startedAt: step.startedAt }),
        ...(step.endedAt === undefined ? {} : { endedAt: step.endedAt }),
      };
    }),
  };
}
