/**
 * The producer side: put jobs on their queues. A plain job costs one SQS request per batch of up
 * to ten (and never a DynamoDB write); jobs due more than 15 minutes ahead go to the scheduled set.
 */
import type { QueueTiers } from '../config/queue-tiers.js';
import { sqsClientOf } from '../aws/clients.js';
import { createBatch, type Batch, type BatchFill, type BatchOptions } from '../batch/handle.js';
import { batchStatus, type BatchStatus } from '../batch/status.js';
import type { StateCommands } from '../aws/dynamo.js';
import { enqueueJobs, type EnqueueRuntime, type ScheduledSetWriter } from '../enqueue/enqueue.js';
import { environmentWithDocument } from '../config/document.js';
import { ENV, type Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { HopperError } from '../errors/base.js';
import type { JobInput } from '../job/model.js';
import type { JobArgs, JobShapes, UntypedJobs } from '../job/typed.js';
import { MAX_SQS_DELAY_SECONDS } from '../retry/policy.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import { stateAccess, type StateAccess } from '../storage/access.js';

import { awaitResult, type ResultOptions } from './result.js';
import type { FlowDefinition } from '../flow/model.js';
import { flowView, type FlowView } from '../flow/status.js';
import { submitFlow, type SubmittedFlow } from '../flow/submit.js';
import type { AnyMiddleware, EnqueueVia } from '../middleware/chain.js';
import type { JobStatus } from '../storage/job-states.js';
import { expiry, runAt, typedJob, type EnqueueOptions, type ScheduleWhen, type TypedEnqueueOptions, type TypedJobInput } from './typed-input.js';

export { EnqueueError, type EnqueueFailure } from '../errors/enqueue.js';
export { parseDuration, type EnqueueOptions, type ScheduleWhen, type TypedEnqueueOptions, type TypedJobInput } from './typed-input.js';
export type { ScheduledSetWriter } from '../enqueue/enqueue.js';
export { NotUniqueError } from '../errors/unique.js';
export { JobResultError, type JobResultProblem } from '../errors/enqueue.js';
export type { ResultOptions } from './result.js';
export type { JobPhase, JobStatus } from '../storage/job-states.js';
export { BatchContentionError, BatchFinishedError, BatchNotFoundError } from '../errors/batch.js';
export type { Batch, BatchFill, BatchOptions } from '../batch/handle.js';
export type { BatchStatus } from '../batch/status.js';
export { job, FlowStepBuilder, FAILURE_POLICIES, type FailurePolicy, type FlowDefinition, type FlowCallbackJob, type AfterOptions } from '../flow/model.js';
export type { FlowView, FlowStepView } from '../flow/status.js';
export type { SubmittedFlow } from '../flow/submit.js';
export { InvalidFlowError, FlowNotFoundError } from '../errors/flow.js';

/** How a producer gets the JobSystem's configuration, said when a variable `Client` reads is missing. */
const FROM_THE_JOB_SYSTEM = 'in the CDK app, call jobs.grantEnqueue(fn) for the function that enqueues (it sets the variables on a lambda.Function) '
  + 'or give any other process the variables of jobs.clientEnvironment()';

/** What a `Client` without `queueUrls` says when `HOPPER_QUEUE_URLS` is missing. */
export const CLIENT_CONFIGURATION_HINT = `${FROM_THE_JOB_SYSTEM}; or pass new Client({ queueUrls })`;

/**
 * Options of a {@link Client}. Without options it reads the variables the JobSystem construct gives
 * a producer (`jobs.grantEnqueue(fn)` on a `lambda.Function`, or `jobs.clientEnvironment()`):
 * `HOPPER_QUEUE_URLS`, `HOPPER_STATE_TABLE` and `HOPPER_DEFAULT_RETRY`.
 */
export interface ClientOptions {
  /** Queue name → queue URL. @default - read from HOPPER_QUEUE_URLS */
  readonly queueUrls?: Readonly<Record<string, string>>;
  /**
   * The queues' priority tiers (queue name → its tiers' URLs): a job of such a queue goes to its
   * tier's queue (`custom.tier` or `custom.priority`).
   * @default - read from HOPPER_QUEUE_TIERS when `queueUrls` is not given either; else no tiers
   */
  readonly queueTiers?: QueueTiers;
  /** Anything that sends SendMessageBatch (an `SQSClient`). @default - a client for the environment (AWS_ENDPOINT_URL_SQS honoured) */
  readonly sqs?: SqsBatchSender;
  /** Writer for jobs due beyond SQS's 15-minute delay. @default - the state table from HOPPER_STATE_TABLE, loaded on first use */
  readonly scheduledSet?: ScheduledSetWriter;
  /**
   * DynamoDB client for batches and unique locks (a `DynamoDBClient`).
   * @default - a client for the environment, loaded when a batch or a unique job first needs it
   */
  readonly dynamo?: StateCommands;
  /**
   * Where the configuration is read, such as the map of `jobs.clientEnvironment()` passed on by
   * other means (a container's environment, a parameter store).
   * @default process.env
   */
  readonly env?: Env;
  /** The clock. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * The team's middleware (`defineMiddleware`, the module the JobSystem's `middleware` prop names):
   * its client chain runs on every job before anything is written.
   */
  readonly middleware?: AnyMiddleware;
  /** The path `ctx.via` names to the client middleware: Hopper's functions say theirs. @default 'client' */
  readonly via?: EnqueueVia;
}

/**
 * Enqueues jobs. `Client<typeof jobs>` (the worker's `defineJobs`) checks every jobtype and
 * argument tuple at compile time; a plain `Client` takes any.
 */
export class Client<Jobs extends JobShapes = UntypedJobs> {
  private readonly now: () => Date;
  private readonly runtime: () => Promise<EnqueueRuntime>;
  private readonly state: StateAccess;

  constructor(options: ClientOptions = {}) {
    const config = HopperConfig.of(options.env);
    const { env } = config;
    const now = options.now ?? (() => new Date());
    this.now = now;
    this.state = stateAccess(config, options.dynamo, now);
    let scheduledSet = options.scheduledSet;
    // `configured` is `config` with the configuration document merged in, when the queues are there.
    const build = (configured: HopperConfig): EnqueueRuntime => ({
      queueUrls: options.queueUrls ?? configured.queueUrls(CLIENT_CONFIGURATION_HINT),
      queueTiers: options.queueTiers ?? (options.queueUrls === undefined ? configured.queueTiers : {}),
      sqs: options.sqs ?? sqsClientOf(config),
      now,
      defaultRetry: config.defaultRetry,
      listedQueues: configured.listedQueues,
      scheduledSet: async () => {
        if (scheduledSet !== undefined) return scheduledSet;
        if (!config.hasStateTable) {
          throw new HopperError(`jobs due more than ${MAX_SQS_DELAY_SECONDS} s ahead go to the scheduled set, which needs ${ENV.stateTable}; ${FROM_THE_JOB_SYSTEM}`);
        }
        const { stateTableOf } = await import('../storage/state-table.js');
        scheduledSet = await stateTableOf(config);
        return scheduledSet;
      },
      uniqueLocks: () => this.state.uniqueLocks(),
      debounceItems: () => this.state.debounceItems(),
      ...(options.middleware === undefined ? {} : { middleware: { chain: options.middleware, via: options.via ?? 'client' } }),
    });
    if (options.queueUrls === undefined && !env[ENV.queueUrls] && env[ENV.configVersion]) {
      // The queue URLs are in the configuration document: read on the first enqueue.
      let runtime: Promise<EnqueueRuntime> | undefined;
      this.runtime = () => {
        runtime ??= environmentWithDocument(env, options.dynamo === undefined ? {} : { dynamo: options.dynamo }).then((merged) => build(HopperConfig.of(merged)));
        runtime.catch(() => { runtime = undefined; });
        return runtime;
      };
    } else {
      // Without a document, a missing variable is an error of the constructor.
      const runtime = Promise.resolve(build(config));
      this.runtime = () => runtime;
    }
  }

  /**
   * Enqueues one job and returns its jid: `enqueue(jobtype, args, options)`, or `enqueue(job, options)`.
   *
   * @throws NotUniqueError (with `existingJid`) when the job has `custom.unique_for` and a job of
   *   the same jobtype, args and queue holds the lock.
   * @example
   * await client.enqueue('SendEmail', ['a@example.com', 42], { in: '5m' });
   * await client.enqueue({ jobtype: 'RefreshQuote', args: ['EURUSD'] }, { expiresIn: '30s' });
   */
  async enqueue<Type extends keyof Jobs & string>(jobtype: Type, args: JobArgs<Jobs[Type]>, options?: TypedEnqueueOptions): Promise<string>;
  async enqueue(input: TypedJobInput<Jobs>, options?: EnqueueOptions): Promise<string>;
  async enqueue(first: string | JobInput, second?: readonly unknown[] | EnqueueOptions, third: TypedEnqueueOptions = {}): Promise<string> {
    const [input, options] = typeof first === 'string' ? this.jobOf(first, second, third) : [first, (second ?? {}) as EnqueueOptions];
    return this.enqueueOne(input, options);
  }

  /**
   * Runs `input` later: `{ in: '3h' }` or `{ at: date }`.
   *
   * @example
   * await client.schedule({ jobtype: 'Remind', args: [42] }, { in: '3h' });
   */
  async schedule(input: TypedJobInput<Jobs>, when: ScheduleWhen, options: EnqueueOptions = {}): Promise<string> {
    return this.enqueueOne({ ...(input as JobInput), at: this.when(when) }, options);
  }

  /**
   * Enqueues many jobs with as few requests as SQS allows (10 per batch, 1 MiB per batch; entries
   * SQS fails on its side are sent once more) and
   * returns their jids in input order. Every job is validated before anything is sent.
   *
   * @throws InvalidJobError or PayloadTooLargeError before sending anything;
   *         EnqueueError when SQS refused some entries after retries, or some unique jobs were
   *         refused (their entries in `failed` carry `existingJid`); the others are enqueued.
   */
  async enqueueMany(inputs: readonly TypedJobInput<Jobs>[], options: EnqueueOptions = {}): Promise<string[]> {
    return enqueueJobs(await this.runtime(), inputs as readonly JobInput[], { many: true, ...expiry(options) });
  }

  /**
   * Creates a batch: jobs added to it are tracked together, and its callbacks are enqueued once
   * each when it completes, succeeds, or has a job die (see lib/batch/callbacks.ts). With `parent`,
   * it is a child batch whose completion counts toward the parent's.
   *
   * With `fill`, the batch is sealed when `fill` returns: its callbacks fire only after the last
   * job `fill` added (and any job those jobs add) is done. Without it, the batch is returned
   * unsealed, and nothing fires until `batch.seal()`.
   *
   * @throws InvalidJobError naming the callback field (`onSuccess.queue`) that is wrong;
   *   BatchNotFoundError when `parent` does not exist; what `fill` throws (the batch stays unsealed).
   * @example
   * await client.batch({ description: 'import 42', onSuccess: { jobtype: 'ImportDone', args: [42] } }, async (batch) => {
   *   await batch.add(firstRows.map((row) => ({ jobtype: 'ImportRow', args: [row] })));
   *   await batch.add(moreRows.map((row) => ({ jobtype: 'ImportRow', args: [row] })));
   * });
   */
  async batch(options: BatchOptions = {}, fill?: BatchFill): Promise<Batch> {
    return createBatch({ runtime: await this.runtime(), store: () => this.state.batchStore() }, options, fill);
  }

  /**
   * Where tracked job `jid` stands (enqueued with `custom.track: true` or `custom.result: true`): its
   * state, attempt, progress and, with `custom.result`, its result. Undefined when the job is not
   * tracked, has not started, or its state expired (kept 7 days).
   */
  async status(jid: string): Promise<JobStatus | undefined> {
    return (await this.state.jobStates()).get(jid);
  }

  /**
   * The return value of job `jid`, enqueued with `custom.result: true`, waiting up to `wait` for it
   * to succeed.
   *
   * @throws JobResultError saying why there is none: unknown, still running, failed, or not kept
   * @example
   * const jid = await client.enqueue('RenderReport', [42], { custom: { result: true } });
   * const url = await client.result(jid, { wait: '2m' });
   */
  async result<T = unknown>(jid: string, options: ResultOptions = {}): Promise<T> {
    return awaitResult(jid, () => this.status(jid), options, { now: () => this.now().getTime(), sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms); }) }) as Promise<T>;
  }

  /**
   * Submits a flow: a DAG of jobs, each step started once, after its parents settled, in a batch of
   * its own (lib/flow). Validated before anything is written.
   *
   * @throws InvalidFlowError naming the step and field (an unknown parent, a cycle, a bad job).
   * @example
   * await client.flow({ description: 'import 42', steps: {
   *   fetch: job('Fetch', [url]),
   *   parse: job('Parse').after('fetch'),
   *   notify: job('Notify').after('parse', { onFailure: 'continue' }),
   * } });
   */
  async flow(definition: FlowDefinition): Promise<SubmittedFlow> {
    return submitFlow(definition, await this.runtime(), () => this.state.flowStore());
  }

  /** Flow `id` with each step's state and timing, or undefined when there is no such flow (or it expired). */
  async getFlow(id: string): Promise<FlowView | undefined> {
    const state = await (await this.state.flowStore()).get(id);
    return state === undefined ? undefined : flowView(state);
  }

  /** The status of batch `bid`, or undefined when there is no such batch (or it expired). */
  async getBatch(bid: string): Promise<BatchStatus | undefined> {
    const state = await (await this.state.batchStore()).get(bid);
    return state === undefined ? undefined : batchStatus(state);
  }

  private async enqueueOne(input: JobInput, options: EnqueueOptions): Promise<string> {
    const [jid] = await enqueueJobs(await this.runtime(), [input], { many: false, ...expiry(options) });
    if (jid === undefined) throw new HopperError('enqueue returned no jid');
    return jid;
  }

  /** The job and the options of `enqueue(jobtype, args, options)`. */
  private jobOf(jobtype: string, args: unknown, options: TypedEnqueueOptions): [JobInput, EnqueueOptions] {
    return typedJob(jobtype, args, options, this.now());
  }

  private when(when: ScheduleWhen): Date {
    return runAt(when, this.now());
  }
}
