/**
 * The flows of a chaos run: DAGs of 5 to 20 steps drawn from the run's seeded generator, each step a
 * `Chaos` job whose attempts crash, hang, throw or succeed (test/fixtures/handlers/chaos-worker.ts)
 * and which spawns 0 to 4 `Chaos` jobs of its own (`ctx.flow.spawn`) its dependants wait for. One
 * flow in four has a step that dies: on `fail` edges (the flow fails and the dead step's descendants
 * are cancelled) or on `ignore` edges (the flow succeeds without it). Flows run on the TypeScript
 * worker only: the Python worker has no `ctx.flow`.
 */
import type { JobInput } from '../../lib/job/model.js';
import type { FlowDefinition, FlowStepBuilder } from '../../lib/flow/model.js';
import { job } from '../../lib/flow/model.js';

/** An attempt plan of a `Chaos` job: what each attempt does. */
export type AttemptPlan = readonly string[];

/** One step of a chaos flow. */
export interface ChaosFlowStep {
  readonly name: string;
  readonly parents: readonly string[];
  /** What the step's job does on each attempt. */
  readonly attempts: AttemptPlan;
  /** The attempt plans of the jobs it spawns. */
  readonly spawn: readonly AttemptPlan[];
}

/** A flow to submit and what it must come to. */
export interface ChaosFlow {
  readonly id: string;
  readonly steps: readonly ChaosFlowStep[];
  /** The step that dies, and the policy of every edge leaving it. */
  readonly dying?: { readonly step: string; readonly policy: 'fail' | 'ignore' };
  readonly expected: 'succeeded' | 'failed';
}

/** The queue of the flows' jobs, and of their callbacks (the TypeScript worker's). */
export const FLOW_QUEUES = { steps: 'chaos', callbacks: 'callbacks' } as const;
/** Retries of a step's job and of a spawned job: enough for its own failure and a neighbour's crash or two. */
const RETRY = 4;
const MIN_STEPS = 5;
const MAX_STEPS = 20;
const MAX_SPAWN = 4;

/**
 * `count` flows drawn from `random` (the run's generator), their ids prefixed with `runId`;
 * `succeeding` draws the attempt plan of a job that succeeds in the end.
 */
export function chaosFlows(count: number, random: () => number, runId: string, succeeding: () => AttemptPlan): ChaosFlow[] {
  return Array.from({ length: count }, (_, index) => {
    const size = MIN_STEPS + Math.floor(random() * (MAX_STEPS - MIN_STEPS + 1));
    const steps: ChaosFlowStep[] = [];
    for (let at = 0; at < size; at += 1) {
      // A step after 1 to 3 earlier steps, or (one in eight, and the first) a root.
      const parents = at === 0 || random() < 0.125 ? [] : pickDistinct(random, at, 1 + Math.floor(random() * 3)).map((parent) => `s${parent}`);
      const spawn = Array.from({ length: Math.floor(random() * (MAX_SPAWN + 1)) }, succeeding);
      steps.push({ name: `s${at}`, parents, attempts: succeeding(), spawn });
    }
    const id = `${runId}-flow-${index + 1}`;
    if (index % 4 !== 3) return { id, steps, expected: 'succeeded' };
    // A step with dependants dies: on a `fail` edge the flow fails; on `ignore` edges it succeeds.
    const withDependants = steps.filter((step) => steps.some((other) => other.parents.includes(step.name)));
    const dead = withDependants[Math.floor(random() * withDependants.length)];
    if (dead === undefined) return { id, steps, expected: 'succeeded' };
    const policy = index % 8 === 3 ? 'fail' : 'ignore';
    const dying = steps.map((step) => (step === dead ? { ...step, attempts: ['fatal'], spawn: [] } : step));
    return { id, steps: dying, dying: { step: dead.name, policy }, expected: policy === 'fail' ? 'failed' : 'succeeded' };
  });
}

function pickDistinct(random: () => number, below: number, count: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(count, below)) picked.add(Math.floor(random() * below));
  return [...picked].sort((a, b) => a - b);
}

/** The job input of a `Chaos` job with `attempts` (its jid chosen by Hopper). */
export function chaosJobInput(attempts: AttemptPlan, spawn: readonly AttemptPlan[] = []): Omit<JobInput, 'jid'> & { readonly args: unknown[] } {
  return { jobtype: 'Chaos', args: [attempts, 0, spawn], queue: FLOW_QUEUES.steps, retry: attempts[attempts.length - 1] === 'ok' ? RETRY : 0 };
}

/** The flow to submit for `flow`, with its three callbacks. */
export function flowDefinition(flow: ChaosFlow): FlowDefinition {
  const steps: Record<string, FlowStepBuilder> = {};
  for (const step of flow.steps) {
    const input = chaosJobInput(step.attempts, step.spawn);
    const builder = job(input.jobtype, input.args, { queue: FLOW_QUEUES.steps, retry: input.retry });
    const byPolicy = (policy: 'fail' | 'ignore') => step.parents.filter((parent) => (flow.dying?.step === parent ? flow.dying.policy : 'fail') === policy);
    let after = builder;
    for (const policy of ['fail', 'ignore'] as const) {
      const parents = byPolicy(policy);
      if (parents.length > 0) after = after.after(parents, { onFailure: policy });
    }
    steps[step.name] = after;
  }
  const callback = { jobtype: 'Callback', queue: FLOW_QUEUES.callbacks };
  return { id: flow.id, steps, onSuccess: callback, onFailure: callback, onComplete: callback };
}

/** The callbacks `flow` must fire, as `<flow>:<event>`. */
export function expectedFlowCallbacks(flow: ChaosFlow): string[] {
  return (flow.expected === 'succeeded' ? ['success', 'complete'] : ['failure', 'complete']).map((event) => `${flow.id}:${event}`);
}
