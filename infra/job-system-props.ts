/**
 * The props of the JobSystem construct, their defaults and bounds, and their validation.
 */
import { Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { DEADLINE_MARGIN } from '../lib/common/deadline.js';
import { CronDefinitionError, cronTickInput, resolveCron, type CronDefinition, type ResolvedCron } from '../lib/cron/definition.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { JOB_DEFAULTS, JOB_LIMITS } from '../lib/job/model.js';
import type { QuotasConfig } from '../lib/quota/index.js';
import { intervalSeconds, validateTenantCap, type TenantCap } from '../lib/limiters/tenant-caps.js';
import type { JobSystemAlarmOptions } from './job-system-monitoring.js';
import { resolvedSeconds, validateDurationRange, validateIntegerRange, validateQueueName } from './validation.js';
import { validateMaxConcurrency } from './concurrency-plan.js';
import { validateTiers, type TierOptions } from './queue-tiers.js';

/** Defaults and bounds of the JobSystem's props, in one place for docs and tests. */
export const JOB_SYSTEM_DEFAULTS = {
  /** Records per worker invocation (the SQS maximum without a batching window). */
  batchSize: 10,
  /**
   * Receives of one message before SQS moves it to the retries queue ("crashed"). Lambda's throttles
   * and failed starts count as receives too, so AWS advises at least 5 for an SQS event source.
   */
  maxReceiveCount: 5,
  /** Receives of one retries-queue message before it is parked in the retries DLQ. */
  retriesMaxReceiveCount: 5,
  /** Concurrent retry-function invocations, so a failure storm cannot starve the workers. */
  retryMaxConcurrency: 10,
  /** Timeout of the retry function, in seconds. */
  retryTimeoutSeconds: 30,
  /** Retries of a job that does not say. */
  maxRetries: JOB_DEFAULTS.retry,
  /** Days a dead job is kept. */
  deadSetRetentionDays: 180,
  /** Days SQS keeps a message (the SQS maximum). */
  retentionDays: 14,
  /** Visibility timeout = this × the worker's timeout, as AWS recommends for SQS event sources. */
  visibilityTimeoutFactor: 6,
  /** Shortest default visibility timeout (SQS's own default). */
  minVisibilityTimeoutSeconds: 30,
  /** Longest visibility timeout SQS allows (12 hours). */
  maxVisibilityTimeoutSeconds: JOB_LIMITS.maxReserveForSeconds,
  /** Lambda's default timeout, for workers created without one. */
  lambdaDefaultTimeoutSeconds: 3,
  /** Timeout of the scheduler function, in seconds: a sweep stops 5 s before it, the next starts a minute later. */
  schedulerTimeoutSeconds: 60,
  /** Memory of the sweep's helpers: one vCPU each, what moving a backlog is bound by (docs/cost.md). */
  sweepHelperMemoryMb: 1_769,
  /** Timeout of the cron function, in seconds. */
  cronTimeoutSeconds: 30,
  /** Timeout of the batch function, in seconds. */
  batchTimeoutSeconds: 60,
  /** Stream records per batch-function invocation. */
  batchStreamBatchSize: 100,
  /** Retries of a failing stream batch (bisected each time) before its metadata goes to the retries DLQ. */
  batchStreamRetryAttempts: 10,
  /**
   * Queues per nested stack (`nestedStacks`): five resources each (queue, policy, mapping, two
   * alarms) and up to three outputs the parent reads (URL, name, mapping id), under CloudFormation's
   * 500 resources and 200 outputs per template.
   */
  queuesPerNestedStack: 40,
} as const;

/** How one queue is consumed and how long its messages live. */
export interface QueueOptions {
  /**
   * Most of the queue's jobs running at once, end to end (1 to 10,000): the construct sets the
   * mapping's maximum concurrency, the batch size and the worker's jobs per invocation so that
   * invocations × jobs per invocation ≤ this (infra/concurrency-plan.ts; 50 → 5 invocations of 10
   * jobs, 3 → 3 invocations of 1). A cap of 1 also has each job hold a lease in the limits table.
   * @default - no limit: the mapping scales up to the account's Lambda concurrency
   */
  readonly maxConcurrency?: number;
  /**
   * Records per worker invocation (1 to 10); with `maxConcurrency`, at most this many, fewer when
   * the cap's share per invocation is smaller.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long the event source mapping gathers records before invoking (0 to 300 seconds).
   * @default - no batching window; invoked as soon as records arrive
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * How long a received message stays invisible (at most 12 hours; at least the worker's timeout
   * plus the batching window).
   * @default - 6 × the timeout of the queue's worker plus its batching window, at least 30 seconds, at most 12 hours
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives of one message before SQS moves it to the retries queue, where it is handled as a
   * failure (`WorkerCrashed`), 1 to 1000. A delivery ending in a crash or timeout counts, and so
   * does one Lambda throttled or could not start the function for: below 5, a burst that throttles
   * the worker turns healthy jobs into crashes (AWS advises at least 5 for SQS event sources).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Most jobs waiting in the queue (visible messages) before the API's `POST /v1/jobs` answers
   * `503` with a `Retry-After` estimated from the drain rate (1 to 100,000,000).
   * @default - no backlog limit
   */
  readonly maxBacklog?: number;
  /**
   * Longest expected wait of a new job (backlog ÷ drain rate, or the wait workers last reported)
   * before the API answers `503` (1 second to 14 days).
   * @default - no latency limit
   */
  readonly maxLatency?: Duration;
  /**
   * Whether every job of the queue enqueued more than a minute ahead waits in the scheduled set,
   * where the Scheduled page, `hopper scheduled` and `GET /v1/scheduled` list it and it can be run
   * now or deleted. Without it, a job due within 15 minutes waits in SQS with a delay, where it can
   * be counted but not listed. Costs what a job scheduled further ahead costs: a write into the set
   * and the sweep's move (docs/decisions.md, "Listing every scheduled job of a queue"). A job due
   * within a minute still goes to SQS at once, since the sweep runs every minute.
   * @default false
   */
  readonly listScheduled?: boolean;
  /**
   * Hard caps on each tenant's jobs of this queue (a job's tenant is `custom.tenant`, which the API
   * sets from the caller's identity): a job over its tenant's cap goes back on the queue, delayed,
   * never failed and using no retry. Operators override a tenant's cap at runtime (`hopper limits
   * set tenant:acme concurrency=20`), effective within a minute. Each capped job costs 2 writes to
   * the limits table for a concurrency cap and 1 for a rate cap (docs/flow-control.md).
   * @default - no per-tenant cap
   */
  readonly perTenant?: PerTenantOptions;
  /**
   * Priority tiers, most urgent first (2 to 10): each tier is its own SQS queue and its own event
   * source mapping to the queue's worker, so enqueueing stays one send. A job picks its tier with
   * `custom.tier` (the tier's name) or `custom.priority` (0 to 9, Faktory's numbers: 9 the most
   * urgent; the ten values are split in equal runs over the tiers in this order), else it goes to
   * the tier named `default`, or the last one. `maxConcurrency` is then required, at least 2 per
   * tier, and is the total of the tiers: a governor function moves each tier's mapping concurrency
   * every few seconds (half the tightest targetAge, 2 to 10 s) so that the more urgent tiers meet their `targetAge` first, while every tier
   * keeps at least 2 invocations (docs/flow-control.md, "Priority tiers").
   * @example tiers: { critical: { targetAge: Duration.seconds(5) }, default: { targetAge: Duration.minutes(1) }, bulk: { targetAge: Duration.hours(1) } }
   * @default - no tiers: one SQS queue and one mapping
   */
  readonly tiers?: Readonly<Record<string, TierOptions>>;
}

/** Caps on each tenant's jobs of one queue; at least one of them. */
export interface PerTenantOptions {
  /**
   * Most of one tenant's jobs of the queue running at once (1 to 1,000).
   * @default - no concurrency cap
   */
  readonly concurrency?: number;
  /**
   * Most of one tenant's jobs of the queue started per interval: a burst of up to `limit`, then
   * `limit` per `per` (a leaky bucket).
   * @default - no rate cap
   */
  readonly rate?: { readonly limit: number; readonly per: 'second' | 'minute' | 'hour' | 'day' | Duration };
}

/**
 * The per-tenant cap of queue `name` as the functions read it, checked.
 * @throws ConfigurationError naming the option (`queues.email.perTenant.rate.limit`) and what was expected
 */
export function tenantCapOf(name: string, options: PerTenantOptions): TenantCap {
  const field = `queues.${name}.perTenant`;
  const { concurrency, rate } = options;
  if (concurrency === undefined && rate === undefined) throw new ConfigurationError(`${field} must set concurrency, rate or both, but neither was provided`);
  let perSeconds: number | undefined;
  if (rate !== undefined) {
    if (typeof rate.per !== 'string' && rate.per.isUnresolved()) throw new ConfigurationError(`${field}.rate.per must be known at synth time, but a token was provided`);
    perSeconds = typeof rate.per === 'string' ? intervalSeconds(rate.per) : rate.per.toSeconds({ integral: false });
  }
  return validateTenantCap(field, {
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(rate === undefined ? {} : { rate: { limit: rate.limit, perSeconds } }),
  });
}

/** How failed jobs are retried. */
export interface RetryOptions {
  /**
   * Retries of a job that does not set `retry` itself (0 to 1000).
   * @default 25
   */
  readonly maxRetries?: number;
  /**
   * Most concurrent invocations of the retry function (2 to 1000).
   * @default 10
   */
  readonly maxConcurrency?: number;
}

/** Props of a {@link JobSystem}. */
export interface JobSystemProps {
  /**
   * The queues, by name (1 to 64 letters, digits, `-` or `_`). Jobs without a queue go to `default`.
   * @default { default: {} }
   */
  readonly queues?: Readonly<Record<string, QueueOptions>>;
  /**
   * Retry policy defaults.
   * @default - 25 retries; at most 10 concurrent retry-function invocations
   */
  readonly retry?: RetryOptions;
  /**
   * How long a dead job is kept before DynamoDB's TTL removes it (whole days, at least 1).
   * @default Duration.days(180)
   */
  readonly deadSetRetention?: Duration;
  /**
   * What happens to the state table (scheduled set, dead set) when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Jobs enqueued on a schedule: one EventBridge Scheduler schedule per cron, in its time zone.
   * Each tick enqueues a fresh job once, even when the schedule fires twice.
   *
   * @example
   * crons: [{ name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'] } }]
   * @default - no crons (and no cron function)
   */
  readonly crons?: readonly CronDefinition[];
  /**
   * How long the logs of Hopper's functions (retry, scheduler, cron, batch, API) are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Path of the team's middleware module (its default export, or export named `middleware`, is
   * `defineMiddleware({ client, server, hooks })` from `hopper-jobs/worker`). Hopper's own functions
   * (retry, scheduler, cron, batch, API) run its client chain on every job they enqueue and its
   * hooks after their moves; it is bundled with esbuild (the app's own) next to each of them. Pass
   * the same module to `createWorker({ middleware })` and `new Client({ middleware })`, so that every
   * path runs the same chain.
   * @example middleware: 'src/jobs/middleware.ts'
   * @default - no middleware
   */
  readonly middleware?: string;
  /**
   * Quotas the API's `POST /v1/jobs` enforces per tenant and per queue (token buckets in the limits
   * table); over quota it answers `429` with `Retry-After` and `X-Hopper-Rate-Limits`.
   * @default - no quotas
   * @example { default: { limit: 1000, per: 'minute' }, tenants: { acme: 'unlimited' }, queues: { reports: { limit: 10, per: 'second' } } }
   */
  readonly quotas?: QuotasConfig;
  /**
   * Which tenant an API caller is: IAM principal (user ARN, role ARN, or account id) → tenant id.
   * A caller found under none of its user ARN, role ARN and account id is its own tenant (its role
   * or user ARN). Tenants never come from the request body.
   * @default - every principal is its own tenant
   */
  readonly tenants?: Readonly<Record<string, string>>;
  /**
   * Largest request body the API accepts, in bytes (1 KiB to 6 MiB, Lambda's own limit).
   * @default 262144 (256 KiB)
   */
  readonly apiMaxBodyBytes?: number;
  /**
   * Whether workers and the retry function keep processed/failed counts for `GET /v1/stats`: one
   * DynamoDB write per 10 jobs at most under load (see docs/decisions.md).
   * @default true
   */
  readonly stats?: boolean;
  /**
   * CloudWatch metrics that workers and Hopper's functions print as Embedded Metric Format lines
   * (no API call): `false` turns them off (and the alarms and widgets built on them).
   * @default - on, namespace `Hopper`, at most 50 jobtypes per function instance
   */
  readonly metrics?: MetricsOptions | false;
  /**
   * The default alarms (no actions unless `actions` or `addAlarmAction`), or `false` for none.
   * @default - every alarm with its default threshold (see JobSystemAlarmOptions)
   */
  readonly alarms?: JobSystemAlarmOptions | false;
  /**
   * Whether to create a CloudWatch dashboard (queue depth and age, throughput, failures, latency,
   * functions).
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * Puts the job queues, each with its policy, event source mapping and alarms, into nested stacks
   * of `queuesPerStack` queues, for systems of more queues than one stack holds (a stack takes 500
   * resources; each queue is five, so about 80 queues fit beside Hopper's functions). The queues
   * are then named `hopper-<8 hex>-<queue>` (the hex from the stack name and the JobSystem's path),
   * so that every IAM grant names them all with one ARN pattern and stays within IAM's policy
   * sizes at hundreds of queues. Choose it before the first deploy: switching it on or off
   * replaces every job queue, and with it the messages waiting there.
   * @default false - every resource in the JobSystem's own stack
   * @example nestedStacks: true
   * @example nestedStacks: { queuesPerStack: 25 }
   */
  readonly nestedStacks?: boolean | NestedStacksOptions;
}

/** How the job queues are spread over nested stacks. */
export interface NestedStacksOptions {
  /**
   * Queues per nested stack (1 to 40).
   * @default 40
   */
  readonly queuesPerStack?: number;
}

/** The EMF metrics' settings. */
export interface MetricsOptions {
  /**
   * CloudWatch namespace (1 to 255 of `A-Za-z0-9.-_/#:`, not starting with `AWS/`).
   * @default 'Hopper'
   */
  readonly namespace?: string;
  /**
   * Distinct jobtypes one function instance publishes as their own `JobType` series; later ones
   * are published as `Other`, so a producer inventing jobtypes cannot multiply the metrics bill
   * (1 to 1000).
   * @default 50
   */
  readonly maxJobTypes?: number;
}

/** How a worker consumes its queues; unset options fall back to the queue's. */
export interface WorkerOptions {
  /** Names of the declared queues this worker serves (each queue has exactly one worker). */
  readonly queues: readonly string[];
  /**
   * Records per invocation (1 to 10).
   * @default - the queue's `batchSize`, else 10
   */
  readonly batchSize?: number;
  /**
   * Most jobs of each of these queues running at once (1 to 10,000), as the queue's `maxConcurrency`.
   * @default - the queue's `maxConcurrency`, else no limit
   */
  readonly maxConcurrency?: number;
  /**
   * How long to gather records before invoking (0 to 300 seconds).
   * @default - the queue's `maxBatchingWindow`, else none
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Give the worker the state-table rights that jobs in batches and unique jobs need (record
   * successes, release locks, `ctx.batch`), and `ctx.once` its steps. Producers decide per job
   * whether it uses them, so turn this off only for a worker whose queues never carry such jobs and
   * whose handlers do not call `ctx.once`.
   * @default true
   */
  readonly stateTableAccess?: boolean;
}

/** Validates the options of queue `name`. */
export function validateQueueOptions(name: string, options: QueueOptions): void {
  validateQueueName(name);
  const field = (option: string): string => `queues.${name}.${option}`;
  validateMaxConcurrency(field('maxConcurrency'), options.maxConcurrency);
  validateIntegerRange(field('batchSize'), options.batchSize, 1, 10);
  validateIntegerRange(field('maxReceiveCount'), options.maxReceiveCount, 1, 1000);
  validateDurationRange(field('maxBatchingWindow'), options.maxBatchingWindow, Duration.seconds(0), Duration.seconds(300));
  validateDurationRange(field('visibilityTimeout'), options.visibilityTimeout, Duration.seconds(0), Duration.seconds(JOB_SYSTEM_DEFAULTS.maxVisibilityTimeoutSeconds));
  validateIntegerRange(field('maxBacklog'), options.maxBacklog, 1, 100_000_000);
  validateDurationRange(field('maxLatency'), options.maxLatency, Duration.seconds(1), Duration.days(14));
  if (options.perTenant !== undefined) tenantCapOf(name, options.perTenant);
  if (options.tiers !== undefined) validateTiers(name, options.tiers, options.maxConcurrency);
}

/**
 * Validates that queue `name` can be served by `fn`: its visibility timeout either follows the
 * worker's timeout (which must then be known at synth time) or is at least that timeout plus the
 * mapping's batching window (`windowSeconds`, undefined when not known at synth): a record is
 * invisible from the receive, which can come that long before the invocation.
 */
export function validateVisibility(name: string, options: QueueOptions, fn: lambda.IFunction, timeoutSeconds: number | undefined, windowSeconds: number | undefined = 0): void {
  const visibility = options.visibilityTimeout;
  if (visibility === undefined) {
    if (timeoutSeconds === undefined) {
      throw new ConfigurationError(`the timeout of ${fn.node.path} is not known at synth time, so the visibility timeout of queue "${name}" cannot follow it; set queues.${name}.visibilityTimeout`);
    }
    return;
  }
  const visibilitySeconds = resolvedSeconds(visibility);
  if (visibilitySeconds === undefined || timeoutSeconds === undefined) return;
  const window = windowSeconds ?? 0;
  if (visibilitySeconds < timeoutSeconds + window) {
    const windowText = window === 0 ? '' : ` plus its batching window (${window} seconds)`;
    throw new ConfigurationError(`queues.${name}.visibilityTimeout must be at least the timeout of its worker ${fn.node.path} (${timeoutSeconds} seconds)${windowText}, but ${visibilitySeconds} seconds was provided`);
  }
}

/**
 * Validates that `fn`'s timeout (`timeoutSeconds`, undefined when unknown at synth) leaves a worker
 * time to run jobs: at least {@link DEADLINE_MARGIN.minTimeoutSeconds} seconds, since the worker
 * keeps a fifth of each invocation (at most 3 s) to report failures and hand back jobs it did not
 * start (lib/common/deadline.ts).
 */
export function validateWorkerTimeout(fn: lambda.IFunction, timeoutSeconds: number | undefined): void {
  if (timeoutSeconds === undefined || timeoutSeconds >= DEADLINE_MARGIN.minTimeoutSeconds) return;
  throw new ConfigurationError(`the timeout of worker ${fn.node.path} must be at least ${DEADLINE_MARGIN.minTimeoutSeconds} seconds, but ${timeoutSeconds} seconds was provided: `
    + 'a worker keeps a fifth of each invocation (at most 3 s) to report failures and hand back the jobs it did not start; '
    + 'set `timeout: Duration.seconds(30)` on the function (or longer, for your slowest job)');
}

/** The dead-set retention in whole days (validated). */
export function deadSetDays(retention: Duration | undefined): number {
  if (retention === undefined) return JOB_SYSTEM_DEFAULTS.deadSetRetentionDays;
  if (retention.isUnresolved()) {
    throw new ConfigurationError('deadSetRetention must be a whole number of days known at synth time, but a token was provided');
  }
  const days = retention.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    throw new ConfigurationError(`deadSetRetention must be a whole number of days, at least 1, but ${retention.toHumanString()} was provided`);
  }
  return days;
}

/**
 * Validates the crons against the declared queues: names well-formed and unique, schedules in
 * crontab or EventBridge form, time zones known to IANA, jobs valid and small enough to travel in
 * the schedule's input. Errors name the cron: `crons[1] ("nightly"): timezone "Europe/Vienn" is
 * not a known IANA time zone`.
 */
export function validateCrons(crons: readonly CronDefinition[], queues: readonly string[]): ResolvedCron[] {
  const seen = new Map<string, number>();
  return crons.map((cron, index) => {
    const where = `crons[${index}] (${JSON.stringify(cron.name)})`;
    for (const [field, value] of [['name', cron.name], ['schedule', cron.schedule], ['timezone', cron.timezone]] as const) {
      if (value !== undefined && Token.isUnresolved(value)) throw new ConfigurationError(`${where}: ${field} must be known at synth time, but a token was provided`);
    }
    const first = seen.get(cron.name);
    if (first !== undefined) throw new ConfigurationError(`${where}: name ${JSON.stringify(cron.name)} is already used by crons[${first}]`);
    seen.set(cron.name, index);
    try {
      const resolved = resolveCron(cron, queues);
      cronTickInput(resolved);
      return resolved;
    } catch (error) {
      if (error instanceof CronDefinitionError) throw new ConfigurationError(`${where}: ${error.message}`);
      throw error;
    }
  });
}

/** Validates the metrics' settings. */
export function validateMetricsOptions(options: MetricsOptions): void {
  const namespace = options.namespace;
  if (namespace !== undefined && !Token.isUnresolved(namespace) && (!/^[A-Za-z0-9.\-_/#:]{1,255}$/.test(namespace) || namespace.startsWith('AWS/'))) {
    throw new ConfigurationError(`metrics.namespace must be 1 to 255 of A-Za-z0-9.-_/#: and not start with AWS/, but ${JSON.stringify(namespace)} was provided`);
  }
  validateIntegerRange('metrics.maxJobTypes', options.maxJobTypes, 1, 1000);
}
