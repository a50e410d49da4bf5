/**
 * How a flow moves: which steps start, how a settled step moves its dependants (the failure policy
 * of each edge), when the flow settles, and what a retry starts again. Pure: every change is
 * computed here from the flow's plan and progress, and written by the store (./store.ts) as one
 * write conditional on the flow's version; the batch function acts on the difference between the
 * flow item's old and new images ({@link flowEffects}), so each transition has one writer and one
 * stream record that acts on it.
 */
import { FAILURE_POLICIES, type FlowEvent, type FlowPlan, type FlowProgress, type FlowState, type StepState, type StepStatus } from './model.js';

/** What a step's batch came to: every job succeeded, or a job is dead. */
export type StepOutcome = 'succeeded' | 'failed';

/** The steps that depend on `step`, with the policy of each edge. */
export function dependantsOf(plan: FlowPlan, step: string): { readonly step: string; readonly onFailure: string }[] {
  return plan.order.flatMap((name) => (plan.steps[name]?.parents ?? []).filter((edge) => edge.step === step).map((edge) => ({ step: name, onFailure: edge.onFailure })));
}

/** A new flow: its root steps started (attempt 1), the others waiting. */
export function startFlow(plan: FlowPlan, now: Date): FlowProgress {
  const waiting: Record<string, StepState> = {};
  for (const name of plan.order) waiting[name] = { status: 'waiting', attempt: 0 };
  return advance(plan, { status: 'running', steps: waiting, retries: 0 }, now);
}

/**
 * The flow after attempt `attempt` of `step` settled with `outcome`, or undefined when that changes
 * nothing (the step is not running that attempt: a repeated report).
 */
export function settleStep(plan: FlowPlan, progress: FlowProgress, step: string, attempt: number, outcome: StepOutcome, now: Date): FlowProgress | undefined {
  const current = progress.steps[step];
  if (current?.status !== 'started' || current.attempt !== attempt) return undefined;
  const steps = { ...progress.steps, [step]: { ...current, status: outcome, endedAt: now.toISOString() } };
  let next: FlowProgress = { ...progress, steps };
  if (outcome === 'failed' && progress.status === 'running' && failsTheFlow(plan, step)) {
    next = { ...next, status: 'failed', failedStep: step };
  }
  return advance(plan, next, now);
}

/** True when a failure of `step` fails the flow: it has no dependant, or an edge says `fail`. */
function failsTheFlow(plan: FlowPlan, step: string): boolean {
  const dependants = dependantsOf(plan, step);
  return dependants.length === 0 || dependants.some((edge) => edge.onFailure === FAILURE_POLICIES.fail);
}

/**
 * A settled flow started again from where it failed: its failed steps start again (a new attempt,
 * so a new batch), its cancelled steps wait again, the steps that succeeded keep their results.
 * Undefined when the flow has not failed or has not settled yet (a step still runs).
 */
export function retryFlow(plan: FlowPlan, progress: FlowProgress, now: Date): FlowProgress | undefined {
  if (progress.status !== 'failed' || progress.finishedAt === undefined) return undefined;
  const steps: Record<string, StepState> = {};
  for (const name of plan.order) {
    const state = progress.steps[name] ?? { status: 'waiting', attempt: 0 };
    if (state.status === 'failed') steps[name] = { status: 'started', attempt: state.attempt + 1, startedAt: now.toISOString() };
    else if (state.status === 'cancelled') steps[name] = { status: 'waiting', attempt: state.attempt };
    else steps[name] = state;
  }
  return advance(plan, { status: 'running', steps, retries: progress.retries + 1 }, now);
}

/**
 * Starts every waiting step whose parents allow it (unless the flow failed), then settles the
 * flow when nothing runs: a failed flow cancels its waiting steps; a running flow whose steps all
 * settled succeeded.
 */
function advance(plan: FlowPlan, progress: FlowProgress, now: Date): FlowProgress {
  const steps: Record<string, StepState> = { ...progress.steps };
  if (progress.status === 'running') {
    // Parents first: one pass over the topological order starts a step whose parents settled now.
    for (const name of plan.order) {
      const state = steps[name];
      if (state?.status === 'waiting' && isReady(plan, steps, name)) steps[name] = { status: 'started', attempt: state.attempt + 1, startedAt: now.toISOString() };
    }
  }
  if (plan.order.some((name) => steps[name]?.status === 'started')) return { ...progress, steps };
  if (progress.status === 'failed') {
    for (const name of plan.order) {
      const state = steps[name];
      if (state?.status === 'waiting') steps[name] = { ...state, status: 'cancelled' };
    }
    return { ...progress, steps, finishedAt: now.toISOString() };
  }
  if (plan.order.every((name) => isSettled(steps[name]?.status))) return { ...progress, status: 'succeeded', steps, finishedAt: now.toISOString() };
  return { ...progress, steps };
}

/**
 * True when a waiting step may start: a parent failed on a `continue` edge, or every parent
 * succeeded or failed on an edge that tolerates it (`ignore`, `remove`).
 */
function isReady(plan: FlowPlan, steps: Readonly<Record<string, StepState>>, name: string): boolean {
  const parents = plan.steps[name]?.parents ?? [];
  const statusOf = (step: string): StepStatus | undefined => steps[step]?.status;
  if (parents.some((edge) => edge.onFailure === FAILURE_POLICIES.continue && statusOf(edge.step) === 'failed')) return true;
  return parents.every((edge) => statusOf(edge.step) === 'succeeded' || (statusOf(edge.step) === 'failed' && edge.onFailure !== FAILURE_POLICIES.fail));
}

function isSettled(status: StepStatus | undefined): boolean {
  return status === 'succeeded' || status === 'failed';
}

/** What the batch function does about one write of a flow item. */
export interface FlowEffects {
  /** Steps this write started, with the attempt: each gets its batch and its job. */
  readonly start: readonly { readonly step: string; readonly attempt: number }[];
  /** Flow events this write made happen (in callback order). */
  readonly events: readonly FlowEvent[];
}

/**
 * The effects of the write that turned `before` (undefined: the flow was just created) into
 * `after`: the steps it started, and the flow's events when it settled the flow. Each transition is
 * made by one write, so acting on the difference acts on each transition once.
 */
export function flowEffects(before: FlowProgress | undefined, after: FlowProgress): FlowEffects {
  const start = Object.entries(after.steps).flatMap(([step, state]) => {
    const old = before?.steps[step];
    const startedNow = state.status === 'started' && (old?.status !== 'started' || old.attempt !== state.attempt);
    return startedNow ? [{ step, attempt: state.attempt }] : [];
  });
  const settledNow = after.finishedAt !== undefined && (before?.finishedAt === undefined || before.retries !== after.retries);
  const events: FlowEvent[] = !settledNow ? [] : after.status === 'succeeded' ? ['success', 'complete'] : after.status === 'failed' ? ['failure', 'complete'] : [];
  return { start, events };
}

/** The jid of the callback job of `event` of flow `id` (its `round`th settling: 0, then once per retry). */
export function flowCallbackJid(id: string, event: FlowEvent, round: number): string {
  return round === 0 ? `${id}-${event}` : `${id}-${event}-${round}`;
}

/** What a flow callback job receives as its first argument. */
export interface FlowCallbackStatus {
  readonly flow_id: string;
  readonly event: FlowEvent;
  readonly status: string;
  readonly description?: string;
  readonly failed_step?: string;
  /** Each step's status, by name. */
  readonly steps: Readonly<Record<string, StepStatus>>;
  readonly created_at: string;
}

/** The status a flow callback job carries. */
export function flowCallbackStatus(state: FlowState, event: FlowEvent): FlowCallbackStatus {
  return {
    flow_id: state.id,
    event,
    status: state.status,
    ...(state.description === undefined ? {} : { description: state.description }),
    ...(state.failedStep === undefined ? {} : { failed_step: state.failedStep }),
    steps: Object.fromEntries(state.plan.order.map((name) => [name, state.steps[name]?.status ?? 'waiting'])),
    created_at: state.createdAt,
  };
}
