/**
 * Validates a flow when it is submitted and compiles it into the plan the flow item stores: every
 * step's job checked as the job it will become, every edge pointing at a known step, no cycle, and
 * the whole within {@link FLOW_LIMITS}. Errors name the step and the field.
 */
import { prepareJob, type EnqueueRuntime } from '../enqueue/enqueue.js';
import { InvalidFlowError } from '../errors/flow.js';
import { HopperError, InvalidJobError } from '../errors/base.js';
import { newJid } from '../job/model.js';
import { flowStepBid } from '../storage/keys.js';
import { flowCallbackJid } from './engine.js';
import {
  FAILURE_POLICIES, FLOW_LIMITS, FlowStepBuilder, type FlowCallbackJob, type FlowDefinition, type FlowEvent, type FlowPlan, type PlannedStep,
} from './model.js';

const CALLBACK_OPTIONS: ReadonlyArray<readonly [FlowEvent, 'onSuccess' | 'onFailure' | 'onComplete']> = [
  ['success', 'onSuccess'],
  ['failure', 'onFailure'],
  ['complete', 'onComplete'],
];

/** A new flow id: random, in the flow id alphabet. */
export function newFlowId(): string {
  return newJid().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40);
}

/**
 * The validated plan of `definition`, and its id.
 *
 * @throws InvalidFlowError naming the step and field (`steps.parse.after`, `steps.index.queue`,
 *   `steps`, `id`, `onSuccess.queue`).
 */
export function compileFlow(definition: FlowDefinition, runtime: Pick<EnqueueRuntime, 'queueUrls' | 'defaultRetry'>, now: Date): { readonly id: string; readonly plan: FlowPlan } {
  const id = definition.id ?? newFlowId();
  if (!FLOW_LIMITS.flowIdPattern.test(id)) throw new InvalidFlowError('id', '1 to 40 letters, digits, _ or -', JSON.stringify(id));
  const entries = Object.entries(definition.steps);
  if (entries.length === 0) throw new InvalidFlowError('steps', 'at least one step', 'none');
  if (entries.length > FLOW_LIMITS.maxSteps) throw new InvalidFlowError('steps', `at most ${FLOW_LIMITS.maxSteps} steps`, String(entries.length));
  const names = entries.map(([name]) => name);
  const steps: Record<string, PlannedStep> = {};
  for (const [name, step] of entries) {
    if (!FLOW_LIMITS.stepNamePattern.test(name)) throw new InvalidFlowError(`steps.${name}`, 'a step name of 1 to 40 letters, digits, _ or -', JSON.stringify(name));
    if (!(step instanceof FlowStepBuilder)) throw new InvalidFlowError(`steps.${name}`, "a step made with job(...)", typeof step);
    checkJob(step.job, flowStepBid(id, name, 1), `steps.${name}.`, runtime, now);
    checkStepJob(step.job, `steps.${name}.`);
    const seen = new Set<string>();
    for (const edge of step.parents) {
      const field = `steps.${name}.after`;
      if (!Object.hasOwn(FAILURE_POLICIES, edge.onFailure)) throw new InvalidFlowError(`${field}.onFailure`, `one of ${Object.keys(FAILURE_POLICIES).join(', ')}`, JSON.stringify(edge.onFailure));
      if (edge.step === name) throw new InvalidFlowError(field, 'other steps than the step itself', JSON.stringify(edge.step));
      if (!Object.hasOwn(definition.steps, edge.step)) throw new InvalidFlowError(field, `steps of this flow (${names.join(', ')})`, JSON.stringify(edge.step));
      if (seen.has(edge.step)) throw new InvalidFlowError(field, 'each parent once', `${JSON.stringify(edge.step)} twice`);
      seen.add(edge.step);
    }
    steps[name] = { job: step.job, parents: step.parents };
  }
  const callbacks: Partial<Record<FlowEvent, FlowCallbackJob>> = {};
  for (const [event, option] of CALLBACK_OPTIONS) {
    const callback = definition[option];
    if (callback === undefined) continue;
    checkJob(callback, flowCallbackJid(id, event, 0), `${option}.`, runtime, now);
    callbacks[event] = callback;
  }
  const plan: FlowPlan = { steps, order: topologicalOrder(steps), callbacks };
  const bytes = Buffer.byteLength(JSON.stringify(plan), 'utf8');
  if (bytes > FLOW_LIMITS.maxPlanBytes) throw new InvalidFlowError('steps', `at most ${FLOW_LIMITS.maxPlanBytes} bytes of steps and callbacks as JSON`, `${bytes} bytes`);
  return { id, plan };
}

/** Validates `input` as the job it will become, with errors naming `path`. */
function checkJob(input: FlowCallbackJob, jid: string, path: string, runtime: Pick<EnqueueRuntime, 'queueUrls' | 'defaultRetry'>, now: Date): void {
  try {
    prepareJob({ ...input, jid }, runtime, { now });
  } catch (error) {
    if (error instanceof InvalidJobError) throw new InvalidFlowError(`${path}${error.field}`, error.expected, error.received);
    if (error instanceof HopperError) throw new InvalidFlowError(path.slice(0, -1), 'a job within the limits of one job', error.message);
    throw error;
  }
}

/** Custom fields a step's job may not carry: Hopper sets them, or the batch function cannot honour them. */
const STEP_CUSTOM_REFUSED = ['bid', 'flow', 'unique_for', 'debounce'] as const;

/**
 * Refuses what a step's job cannot have: a time (`at`: a step starts when its parents settled), and
 * the custom fields of {@link STEP_CUSTOM_REFUSED}.
 */
function checkStepJob(input: PlannedStep['job'], path: string): void {
  if (input.at !== undefined) throw new InvalidFlowError(`${path}at`, 'absent: a step starts when its parents have settled', String(input.at));
  for (const name of STEP_CUSTOM_REFUSED) {
    if (input.custom?.[name] !== undefined) throw new InvalidFlowError(`${path}custom.${name}`, 'absent in a flow step', JSON.stringify(input.custom[name]));
  }
}

/**
 * The step names in an order where every step comes after its parents (Kahn's algorithm, in
 * declaration order among the steps ready at once).
 *
 * @throws InvalidFlowError naming a cycle (`steps.parse.after: … parse → index → parse`).
 */
export function topologicalOrder(steps: Readonly<Record<string, PlannedStep>>): string[] {
  const names = Object.keys(steps);
  const left = new Map(names.map((name) => [name, steps[name]?.parents.length ?? 0]));
  const order: string[] = [];
  let ready = names.filter((name) => left.get(name) === 0);
  while (ready.length > 0) {
    order.push(...ready);
    const next: string[] = [];
    for (const name of names) {
      const remaining = left.get(name) ?? 0;
      if (remaining === 0) continue;
      const done = (steps[name]?.parents ?? []).filter((edge) => ready.includes(edge.step)).length;
      left.set(name, remaining - done);
      if (remaining - done === 0) next.push(name);
    }
    ready = next;
  }
  if (order.length === names.length) return order;
  const cycle = findCycle(steps, names.filter((name) => !order.includes(name)));
  throw new InvalidFlowError(`steps.${cycle[0] ?? ''}.after`, 'steps that do not lead back to it (no cycle)', `a cycle ${cycle.join(' → ')}`);
}

/** A cycle among `stuck` (steps Kahn's algorithm could not order), as names, first repeated last. */
function findCycle(steps: Readonly<Record<string, PlannedStep>>, stuck: readonly string[]): string[] {
  // Every stuck step has a stuck parent: walking parents from one must repeat a step.
  const path: string[] = [];
  let at = stuck[0];
  while (at !== undefined && !path.includes(at)) {
    path.push(at);
    at = steps[at]?.parents.map((edge) => edge.step).find((parent) => stuck.includes(parent));
  }
  if (at === undefined) return path;
  const cycle = path.slice(path.indexOf(at));
  // Walked from child to parent: print it in the direction the work flows.
  return [...cycle.reverse(), cycle[0] ?? at];
}
