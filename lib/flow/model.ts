/**
 * Flows: a DAG of jobs whose steps start once each, after their parents settled. This module holds
 * the builders a producer writes a flow with (`job(...).after(...)`), the failure policies, the
 * limits and the shapes stored in the flow item. Pure: no SDK is loaded here.
 *
 * A flow item (`flow#<id>` / `flow`, lib/storage/keys.ts) holds:
 * | attribute       | type | meaning                                                          |
 * |-----------------|------|------------------------------------------------------------------|
 * | `flow_id`, `created_at` | S | identity and creation time (ISO-8601)                       |
 * | `description`   | S    | optional, free text                                               |
 * | `plan`          | S    | JSON {@link FlowPlan}: each step's job and parents, the callbacks |
 * | `steps`         | S    | JSON {@link FlowSteps}: where each step stands, with its timing   |
 * | `status`        | S    | running, succeeded or failed ({@link FLOW_STATUSES})              |
 * | `failed_step`   | S    | the step whose failure failed the flow                            |
 * | `finished_at`   | S    | when the flow settled: no step runs and none will start          |
 * | `callbacks_sent_at` | S | when the flow's callback jobs were sent                          |
 * | `retries`       | N    | times the flow was retried from its failed steps                  |
 * | `v`             | N    | version: every change of `steps` is conditional on it             |
 * | `ttl`           | N    | epoch seconds after which DynamoDB deletes the item               |
 */
import type { JobInput } from '../job/model.js';

/**
 * What a dependant does when a parent fails (BullMQ's flow options):
 * - `fail`: the flow fails, and no step that has not started yet starts (they are cancelled);
 * - `ignore`: the parent counts as settled; the dependant sees its failure in `ctx.parents`;
 * - `continue`: the dependant starts at once, without waiting for its other parents;
 * - `remove`: the parent counts as settled, and the dependant does not see it in `ctx.parents`.
 */
export const FAILURE_POLICIES = {
  fail: 'fail',
  ignore: 'ignore',
  continue: 'continue',
  remove: 'remove',
} as const;

export type FailurePolicy = keyof typeof FAILURE_POLICIES;

/** Where a step stands. */
export const STEP_STATUSES = {
  /** Some parent has not settled yet. */
  waiting: 'waiting',
  /** Its batch was started: its job (and what it spawns) runs. */
  started: 'started',
  /** Every job of its batch succeeded. */
  succeeded: 'succeeded',
  /** A job of its batch is in the dead set (retries are over). */
  failed: 'failed',
  /** The flow failed before it could start: it never will. */
  cancelled: 'cancelled',
} as const;

export type StepStatus = keyof typeof STEP_STATUSES;

/** Where a flow stands. */
export const FLOW_STATUSES = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
} as const;

export type FlowStatus = keyof typeof FLOW_STATUSES;

/** Bounds a flow is validated against when submitted. */
export const FLOW_LIMITS = {
  /** Steps per flow: the flow item rewrites every step's state on each change. */
  maxSteps: 100,
  /** A step name (a part of its batch id). */
  stepNamePattern: /^[A-Za-z0-9_-]{1,40}$/,
  /** A flow id (a part of its steps' batch ids, which are at most 100 characters). */
  flowIdPattern: /^[A-Za-z0-9_-]{1,40}$/,
  /** The plan as stored (JSON, UTF-8), far below DynamoDB's 400 KB item. */
  maxPlanBytes: 256 * 1024,
} as const;

/** One parent of a step, with the policy its edge applies when the parent fails. */
export interface FlowEdge {
  readonly step: string;
  readonly onFailure: FailurePolicy;
}

/** Options of {@link FlowStepBuilder.after}. */
export interface AfterOptions {
  /** What this step does when one of these parents fails. @default 'fail' */
  readonly onFailure?: FailurePolicy;
}

/**
 * A step of a flow as a producer writes it: a job, and the steps it runs after. Immutable: `after`
 * returns a new step.
 *
 * @example
 * const steps = {
 *   fetch: job('Fetch', [url]),
 *   parse: job('Parse').after('fetch'),
 *   notify: job('Notify').after('parse', { onFailure: 'continue' }),
 * };
 */
export class FlowStepBuilder {
  constructor(
    /** The step's job (its jid is Hopper's: one per attempt of the step). */
    readonly job: Omit<JobInput, 'jid'>,
    /** Its parents, in the order given. */
    readonly parents: readonly FlowEdge[] = [],
  ) {}

  /** This step, run after `steps` (a name or names of steps of the same flow) have settled. */
  after(steps: string | readonly string[], options: AfterOptions = {}): FlowStepBuilder {
    const onFailure = options.onFailure ?? FAILURE_POLICIES.fail;
    const names = typeof steps === 'string' ? [steps] : steps;
    return new FlowStepBuilder(this.job, [...this.parents, ...names.map((step) => ({ step, onFailure }))]);
  }
}

/**
 * A step running job `jobtype` with `args`; `options` are the rest of the job (queue, retry,
 * custom, …).
 *
 * @example
 * job('Index', [], { queue: 'slow', retry: 3 }).after(['parse', 'thumbnails'])
 */
export function job(jobtype: string, args: readonly unknown[] = [], options: Omit<JobInput, 'jid' | 'jobtype' | 'args'> = {}): FlowStepBuilder {
  return new FlowStepBuilder({ ...options, jobtype, args: [...args] });
}

/** A flow callback: the job to enqueue when the flow settles (its jid is chosen by Hopper). */
export type FlowCallbackJob = Omit<JobInput, 'jid' | 'at' | 'created_at'>;

/** The flow events that have callbacks. */
export const FLOW_EVENTS = ['success', 'failure', 'complete'] as const;

export type FlowEvent = (typeof FLOW_EVENTS)[number];

/** A flow to submit (`Client.flow`). */
export interface FlowDefinition {
  /** The flow id (1 to 40 letters, digits, `_` or `-`). @default - a random id */
  readonly id?: string;
  readonly description?: string;
  readonly steps: Readonly<Record<string, FlowStepBuilder>>;
  /** Enqueued once when every step succeeded (failures other edges tolerate included). */
  readonly onSuccess?: FlowCallbackJob;
  /** Enqueued once when the flow failed, after its last running step settled. */
  readonly onFailure?: FlowCallbackJob;
  /** Enqueued once when the flow settled, either way. */
  readonly onComplete?: FlowCallbackJob;
}

/** A step as stored in the plan. */
export interface PlannedStep {
  readonly job: Omit<JobInput, 'jid'>;
  readonly parents: readonly FlowEdge[];
}

/** The validated flow as stored in the flow item (`plan`). */
export interface FlowPlan {
  /** Steps in a topological order (parents first). */
  readonly steps: Readonly<Record<string, PlannedStep>>;
  readonly order: readonly string[];
  readonly callbacks: Readonly<Partial<Record<FlowEvent, FlowCallbackJob>>>;
}

/** Where one step stands, with its timing. */
export interface StepState {
  readonly status: StepStatus;
  /** Starts of the step so far (a retried flow starts its failed steps again): its batch is `<flow>.<step>.<attempt>`. */
  readonly attempt: number;
  readonly startedAt?: string;
  readonly endedAt?: string;
}

/** Every step's state, by name. */
export type FlowSteps = Readonly<Record<string, StepState>>;

/** The part of a flow item that changes. */
export interface FlowProgress {
  readonly status: FlowStatus;
  readonly steps: FlowSteps;
  /** Times the flow was retried from its failed steps. */
  readonly retries: number;
  readonly failedStep?: string;
  readonly finishedAt?: string;
}

/** A flow as read from its item. */
export interface FlowState extends FlowProgress {
  readonly id: string;
  readonly createdAt: string;
  readonly description?: string;
  readonly plan: FlowPlan;
  readonly version: number;
  readonly callbacksSentAt?: string;
}
