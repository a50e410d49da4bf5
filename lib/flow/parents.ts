/**
 * A step's parents as its job sees them (`ctx.flow.parents()`): each parent that settled before the
 * step started, with how it ended and, when its job keeps its result (`custom.result: true`), that
 * result. When a step starts, the batch function writes each parent's attempt and outcome into the
 * step job's `custom.flow.parents` ({@link parentRefs}); the worker reads the kept results from the
 * parents' job states only when the handler asks ({@link parentResults}), so a step that does not
 * ask costs nothing more. Pure: the reads are passed in.
 */
import { FAILURE_POLICIES, type FlowPlan, type FlowSteps } from './model.js';
import { isRecord } from '../job/model.js';

/** A parent as written into its dependant's job when the dependant starts. */
export interface FlowParentRef {
  /** The parent's attempt that settled: its job is `<flow>.<parent>.<attempt>`. */
  readonly attempt: number;
  readonly status: 'succeeded' | 'failed';
  /** Whether the parent's job keeps its result (`custom.result: true`). */
  readonly result: boolean;
}

/** A parent as `ctx.flow.parents()` gives it. */
export interface FlowParent {
  readonly status: 'succeeded' | 'failed';
  /** What the parent's handler returned, when its job keeps its result (undefined otherwise, or when it failed). */
  readonly result: unknown;
}

/**
 * The parents of `step` that settled, by name, as its job carries them: a parent that failed on a
 * `remove` edge is left out, and so is one that has not settled (a `continue` edge starts the step
 * before its other parents).
 */
export function parentRefs(plan: FlowPlan, steps: FlowSteps, step: string): Record<string, FlowParentRef> {
  const refs: Record<string, FlowParentRef> = {};
  for (const edge of plan.steps[step]?.parents ?? []) {
    const state = steps[edge.step];
    if (state === undefined || (state.status !== 'succeeded' && state.status !== 'failed')) continue;
    if (state.status === 'failed' && edge.onFailure === FAILURE_POLICIES.remove) continue;
    refs[edge.step] = { attempt: state.attempt, status: state.status, result: plan.steps[edge.step]?.job.custom?.result === true };
  }
  return refs;
}

/** The parents a step job carries (`custom.flow.parents`); an unreadable entry is left out. */
export function readParentRefs(flowField: unknown): Record<string, FlowParentRef> {
  let parsed = flowField;
  if (typeof flowField === 'string') {
    try {
      parsed = JSON.parse(flowField);
    } catch {
      return {};
    }
  }
  if (!isRecord(parsed) || !isRecord(parsed.parents)) return {};
  const refs: Record<string, FlowParentRef> = {};
  for (const [name, value] of Object.entries(parsed.parents)) {
    if (!isRecord(value) || typeof value.attempt !== 'number' || (value.status !== 'succeeded' && value.status !== 'failed')) continue;
    refs[name] = { attempt: value.attempt, status: value.status, result: value.result === true };
  }
  return refs;
}

/**
 * Each parent with its result: `readResult(jid)` is read (at once, in parallel) for each parent that
 * succeeded and keeps its result; the others need no read.
 */
export async function parentResults(refs: Readonly<Record<string, FlowParentRef>>, jidOf: (parent: string, attempt: number) => string, readResult: (jid: string) => Promise<unknown>): Promise<Record<string, FlowParent>> {
  const entries = await Promise.all(Object.entries(refs).map(async ([name, ref]): Promise<[string, FlowParent]> => {
    const result = ref.status === 'succeeded' && ref.result ? await readResult(jidOf(name, ref.attempt)) : undefined;
    return [name, { status: ref.status, result }];
  }));
  return Object.fromEntries(entries);
}
