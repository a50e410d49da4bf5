/**
 * The types a worker's author touches: handlers, their context, and the worker's options.
 */
import type { Batch } from '../batch/handle.js';
import type { StateCommands } from '../aws/dynamo.js';
import type { Env } from '../config/env.js';
import type { Job, JobInput } from '../job/model.js';
import type { LimiterFactory } from '../limiters/limiter.js';
import type { TenantOverrideStore } from '../limiters/tenant-overrides.js';
import type { LimiterStore } from '../limiters/store.js';
import type { StatsRecorder } from '../stats/recorder.js';
import type { LogSink, Logger } from '../observability/logger.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import type { StandardSchemaV1 } from '../job/typed.js';
import type { SqsVisibilityChanger } from './reservation.js';
import type { Once } from './once.js';
import type { ReportProgress } from './track.js';
import type { Middleware } from '../middleware/chain.js';
import type { FlowParent } from '../flow/parents.js';

/** The SQS commands a worker sends; an `SQSClient` satisfies it. */
export type WorkerSqs = SqsBatchSender & SqsVisibilityChanger;

/**
 * What a handler gets besides the job's arguments.
 *
 * @example
 * async ([userId], ctx) => {
 *   ctx.logger.info('charging', { userId });
 *   await payments.charge(userId, { idempotencyKey: ctx.jid, signal: ctx.signal });
 * }
 */
export interface JobContext {
  /** The job id: stable across retries and redeliveries, so use it to make effects idempotent. */
  readonly jid: string;
  /** The whole job (queue, retry, custom fields, the previous failure). */
  readonly job: Job;
  /** Writes JSON lines carrying `jid`, `jobtype`, `queue` and `attempt`. */
  readonly logger: Logger;
  /** Milliseconds left before Lambda ends this invocation. */
  remainingTimeMs(): number;
  /**
   * Aborted when the invocation gives up on running jobs because its deadline is near; the job is
   * then handed back to SQS and runs again later. Pass it to fetch and the AWS SDK.
   */
  readonly signal: AbortSignal;
  /**
   * Keeps the job's message reserved for `seconds` from now (1 to 43,200), and renews by that much
   * from then on. Without it the worker renews on its own (by `reserve_for`, else the queue's
   * visibility timeout) whenever half of the reservation is used, so a long job is not delivered
   * to another worker while it runs. SQS ends a reservation 12 hours after the message's first
   * receive at the latest: a longer one is cut to end then (a warning is logged), and not renewed.
   *
   * @example
   * await ctx.extend(3600); // an hour from now, then renewed hourly
   */
  extend(seconds: number): Promise<void>;
  /**
   * The job's batch, when it belongs to one (`custom.bid`): add jobs or child batches to it while
   * it runs (the batch cannot finish meanwhile: this job is pending in it). Jobs added without a
   * jid get one derived from this job's jid, so a job that runs again adds the same jobs, and its
   * batch counts them once. A child batch is sealed when its fill returns
   * (`ctx.batch.child(options, (child) => child.add(jobs))`), or by its `seal()`.
   */
  readonly batch?: BatchContext;
  /**
   * The flow step this job runs, when it is one (lib/flow): its flow id, step name and attempt, and
   * `spawn(jobs)`, which fans out: the spawned jobs join the step's batch, and the step's dependants
   * start only after every one of them settled. Spawned jobs without a jid get one derived from
   * this job's, as `ctx.batch.add` gives them, so a step that runs again spawns nothing twice.
   *
   * @example
   * await ctx.flow?.spawn(rows.map((row) => ({ jobtype: 'ImportRow', args: [row] })));
   */
  readonly flow?: FlowContext;
  /**
   * A limiter (Sidekiq Enterprise's kinds) whose state is in the limits table. Over the limit, `run`
   * throws `RateLimitedError` and the worker puts the job back on its queue after the limiter's
   * wait plus jitter, without using a retry (at most 20 times; then it counts as a failure).
   *
   * @example
   * await ctx.limiter(`stripe:${account}`, { type: 'concurrent', limit: 10 }).run(() => charge(account));
   */
  readonly limiter: LimiterFactory;
  /**
   * Runs `fn` at most once for this job and `key` (1 to 200 characters), across duplicate
   * deliveries, retries and retries from the dead set: a later run gets the value `fn` returned
   * (through JSON, at most 32 KB) without running it again. A step that throws is given back, so the
   * next run tries it again. Kept in the state table (a write when the step starts and one when it
   * ends; nothing for a job that does not call it) for the dead set's retention plus 30 days.
   *
   * @example
   * const receipt = await ctx.once('charge', () => payments.charge(order));
   * await ctx.once('email', () => sendReceipt(order, receipt));
   */
  readonly once: Once;
  /**
   * Reports how far the job has got: a percentage from 0 to 100 and an optional message. For a
   * tracked job (`custom.track: true` or `custom.result: true`) it is written to the state table, at
   * most once every 3 seconds and never lower than before, and `Client.status(jid)`,
   * `GET /v1/jobs/{jid}` and `hopper` show it; for any other job it does nothing.
   *
   * @example
   * for (const [index, row] of rows.entries()) {
   *   await importRow(row);
   *   await ctx.progress((100 * (index + 1)) / rows.length, `row ${index + 1} of ${rows.length}`);
   * }
   */
  readonly progress: ReportProgress;
}

/** The flow step of a running job (see {@link JobContext.flow}). */
export interface FlowContext {
  readonly id: string;
  readonly step: string;
  readonly attempt: number;
  /** Adds jobs to the step: its dependants wait for them. @returns their jids, in input order. */
  spawn(jobs: readonly JobInput[]): Promise<string[]>;
  /**
   * Each parent that settled before this step started, by step name: how it ended and, when its job
   * keeps its result (`custom.result: true`), what its handler returned. A parent that failed on a
   * `remove` edge is left out. Reads the kept results (one read each) on the first call only.
   *
   * @example
   * const { parse } = await ctx.flow.parents();
   * const rows = parse?.result;
   */
  parents(): Promise<Readonly<Record<string, FlowParent>>>;
}

/** The batch of a running job (see {@link JobContext.batch}). */
export type BatchContext = Pick<Batch, 'bid' | 'add' | 'child' | 'status'>;

/**
 * Runs one job. Resolving (with any value) is success; throwing or rejecting is failure, and the
 * job is retried with backoff unless the error is an `UnrecoverableJobError`.
 */
export type JobHandler = (args: readonly unknown[], ctx: JobContext) => unknown;

/** A job whose arguments are checked by `args` (any Standard Schema) before `run` gets them. */
export interface ValidatedJob<Args> {
  readonly args: StandardSchemaV1<unknown, Args>;
  readonly run: (args: Args, ctx: JobContext) => unknown;
}

/**
 * A typed job: its handler, whose first parameter's type (the argument tuple, annotated) is what
 * producers must pass, or `{ run }` with an optional schema of its arguments ({@link withArgs},
 * `iterate`).
 */
export type JobDefinition = JobRun | { readonly args?: StandardSchemaV1<unknown, unknown>; readonly run: JobRun };

/**
 * A handler of any argument tuple. Declared as a method's type, whose parameters TypeScript checks
 * both ways: a handler of `[string, number]` fits, and one whose arguments are not annotated gets
 * `readonly unknown[]`.
 */
type JobRun = { handle(args: readonly unknown[], ctx: JobContext): unknown }['handle'];

/** Options of {@link createWorker}. */
export interface WorkerOptions {
  /**
   * Handlers by jobtype: functions of `(args, ctx)`, or `{ args, run }` whose Standard Schema checks
   * the arguments first (`defineJobs` and `withArgs` in ./jobs.ts type them for producers).
   */
  readonly jobs: Readonly<Record<string, JobDefinition>>;
  /**
   * Most jobs of one batch running at once. Jobs of a batch share one Lambda environment, so this
   * bounds memory and connections, not throughput across environments. A queue whose
   * `maxConcurrency` is set runs fewer per invocation when its share is smaller (the construct
   * passes it in `HOPPER_QUEUE_CONCURRENCY`).
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Time kept in reserve at the end of an invocation, in milliseconds. A job is not started when
   * less than this is left, and jobs still running when half of it is left are given up on (handed
   * back to SQS), so the invocation can report failures and return before Lambda's timeout would
   * fail the whole batch, successes included. Give a number only to fix it for every invocation.
   * @default - a fifth of the time the invocation has when it starts, at most 3000: 600 ms with
   *   Lambda's default 3 s timeout, 3000 ms from a 15 s timeout up (lib/common/deadline.ts)
   */
  readonly deadlineMarginMs?: number;
  /** AWS clients, for tests or custom configuration. @default - clients for `env` */
  readonly clients?: { readonly sqs?: WorkerSqs; readonly dynamo?: StateCommands };
  /** Where `ctx.limiter` keeps state. @default - the limits table (HOPPER_LIMITS_TABLE), loaded on first use */
  readonly limiterStore?: LimiterStore;
  /**
   * Where per-tenant cap overrides are read (`hopper limits set`), by queues declaring `perTenant`.
   * @default - the limits table (HOPPER_LIMITS_TABLE), read once per tenant per 30 seconds
   */
  readonly tenantOverrides?: Pick<TenantOverrideStore, 'read'>;
  /** Where processed counts go. @default - rollups in the state table when HOPPER_STATS is `on` */
  readonly stats?: StatsRecorder;
  /** Where configuration is read (lib/config/env.ts names). @default process.env */
  readonly env?: Env;
  /** The clock. @default - the real clock plus HOPPER_CLOCK_OFFSET_MS */
  readonly now?: () => Date;
  /** Where log lines go. @default console.log */
  readonly log?: LogSink;
  /**
   * The team's middleware (`defineMiddleware`; the module the JobSystem's `middleware` prop names,
   * so Hopper's own functions run the same chains): server middleware around every job, the
   * client chain on every job the worker sends (`ctx.batch.add`, retries, requeues), and the hooks
   * `onRetry` and `onExpired` for the moves the worker makes.
   */
  readonly middleware?: Middleware<JobContext>;
}
