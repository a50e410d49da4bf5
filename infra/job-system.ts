/**
 * The JobSystem construct: everything Hopper needs in one `new JobSystem(stack, 'Jobs', props)`.
 */
import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../lib/config/env.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { JOB_LIMITS } from '../lib/job/model.js';
import { BATCH_STREAM_FILTER } from '../lib/batch/stream-filter.js';
import { BATCH_KEYS, COHORT_KEYS, SORTED_SETS, STATE_TABLE, STATS_KEYS, UNIQUE_KEYS } from '../lib/storage/keys.js';
import { LIMITS_TABLE } from '../lib/limiters/keys.js';
import { STATS_ON } from '../lib/stats/recorder.js';
import { METRICS, METRICS_DEFAULTS, METRICS_OFF } from '../lib/observability/emf.js';
import { HopperFunction } from './hopper-function.js';
import { concurrencyPlan, queueConcurrencyEnv, validateMaxConcurrency, type ConcurrencyPlan } from './concurrency-plan.js';
import { JobSystemMonitoring, pathInStack, type JobMetricOptions } from './job-system-monitoring.js';
import { hopperEntry, pinnedToHopperPackage } from './hopper-package.js';
import { JobScheduler } from './job-scheduler.js';
import { apiEnvironment, backlogLimitsJson, cronsJson, quotasJson, tenantsJson } from './job-system-api.js';
import {
  deadSetDays, JOB_SYSTEM_DEFAULTS, type JobSystemProps, type QueueOptions, validateCrons, validateMetricsOptions, validateQueueOptions, validateVisibility,
  type WorkerOptions,
} from './job-system-props.js';
import { resolvedSeconds, validateDurationRange, validateIntegerRange } from './validation.js';

export { JOB_SYSTEM_DEFAULTS, type JobSystemProps, type MetricsOptions, type QueueOptions, type RetryOptions, type WorkerOptions } from './job-system-props.js';
export { ALARM_DEFAULTS, type JobMetricOptions, type JobSystemAlarmOptions } from './job-system-monitoring.js';
export type { CronDefinition, CronJobTemplate } from '../lib/cron/definition.js';

/**
 * Hopper's background-job system: one SQS queue per declared queue, the retries queue (redrive
 * target of every queue) with its own DLQ, the state table, the limits table, the retry function,
 * the batch function (batch callbacks, from the state table's stream), the scheduler function with
 * its every-minute schedule, the cron function with one schedule per cron, and the api function
 * behind a Function URL with IAM auth.
 *
 * Construct ids (renaming one replaces the resource): `Queue-<name>`, `Retries`, `RetriesDlq`,
 * `StateTable`, `LimitsTable`, `RetryFunction`, `BatchFunction`, `ApiFunction`, `Scheduler`
 * (`Scheduler/SweepFunction`, `Scheduler/Role`, `Scheduler/Sweep`, `Scheduler/CronFunction`,
 * `Scheduler/Cron-<name>`), `Monitoring` (alarms `Monitoring/QueueAge-<queue>`, `Dead-<queue>`,
 * `RetriesDepth`, `RetriesDlqDepth`, `Errors-<function>`, `Throttles-<function>`, and
 * `Monitoring/Dashboard`; docs/observability.md); outputs `QueueUrls`, `StateTableName`, `RetriesQueueUrl`,
 * `RetriesDlqUrl`, `LimitsTableName`, `ApiUrl`, whose logical ids are the JobSystem's id followed
 * by the output id (`JobsQueueUrls` for `new JobSystem(stack, 'Jobs')`).
 *
 * @example
 * const jobs = new JobSystem(stack, 'Jobs', { queues: { default: {}, critical: { maxConcurrency: 50 } } });
 * jobs.addWorker(worker, { queues: ['default', 'critical'] });
 * jobs.grantEnqueue(apiRole);
 */
export class JobSystem extends Construct {
  /** The job queues, by queue name. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** Receives workers' failure envelopes and, by redrive, jobs whose worker crashed. */
  readonly retriesQueue: sqs.IQueue;
  /** Where retries-queue messages the retry function cannot process are parked. */
  readonly retriesDeadLetterQueue: sqs.IQueue;
  /** The state table: scheduled set, retry set, dead set (key layout in lib/storage/keys.ts). */
  readonly stateTable: dynamodb.Table;
  /** The function that consumes the retries queue. */
  readonly retryFunction: lambda.Function;
  /** The scheduler and cron functions and their schedules. */
  readonly scheduler: JobScheduler;
  /** The function that reads the state table's stream and enqueues batch callbacks. */
  readonly batchFunction: lambda.Function;
  /** Rate-limiter and quota state (key layout in lib/limiters/keys.ts). */
  readonly limitsTable: dynamodb.Table;
  /** The HTTP API (lib/api): enqueue with backpressure, and the admin routes. */
  readonly apiFunction: lambda.Function;
  /** The API's Function URL (auth type AWS_IAM: every request must be SigV4-signed). */
  readonly apiUrl: lambda.FunctionUrl;

  private readonly queueOptions: ReadonlyMap<string, QueueOptions>;
  private readonly maxRetries: number;
  private readonly deadSetRetentionDays: number;
  /** Queue name → construct path of the function serving it. */
  private readonly servedBy = new Map<string, string>();
  /** Queue name → timeout of the function serving it, in seconds. */
  private readonly workerTimeouts = new Map<string, number>();
  /** Queue name → UUID of the event source mapping feeding its worker (what pause/resume changes). */
  private readonly mappingIds = new Map<string, string>();
  /** Queue name → how its maxConcurrency is spread over mapping, batch size and worker (concurrency-plan.ts). */
  private readonly concurrencyPlans = new Map<string, ConcurrencyPlan>();
  private readonly statsOn: boolean;
  /** Namespace of the EMF metrics; undefined when they are off. */
  private readonly metricsNamespace: string | undefined;
  private readonly maxJobTypes: number | undefined;
  private readonly monitoring: JobSystemMonitoring;

  constructor(scope: Construct, id: string, props: JobSystemProps = {}) {
    super(scope, id);
    const queueOptions = new Map(Object.entries(props.queues ?? { default: {} }));
    if (queueOptions.size === 0) {
      throw new ConfigurationError('queues must declare at least one queue, but none was provided');
    }
    for (const [name, options] of queueOptions) validateQueueOptions(name, options);
    this.queueOptions = queueOptions;
    this.maxRetries = props.retry?.maxRetries ?? JOB_SYSTEM_DEFAULTS.maxRetries;
    validateIntegerRange('retry.maxRetries', this.maxRetries, 0, JOB_LIMITS.maxRetry);
    validateIntegerRange('retry.maxConcurrency', props.retry?.maxConcurrency, 2, 1000);
    this.deadSetRetentionDays = deadSetDays(props.deadSetRetention);
    const crons = validateCrons(props.crons ?? [], [...queueOptions.keys()]);
    this.statsOn = props.stats ?? true;
    if (props.metrics !== undefined && props.metrics !== false) validateMetricsOptions(props.metrics);
    this.metricsNamespace = props.metrics === false ? undefined : props.metrics?.namespace ?? METRICS_DEFAULTS.namespace;
    this.maxJobTypes = props.metrics === false ? undefined : props.metrics?.maxJobTypes;
    const quotas = quotasJson(props.quotas, [...queueOptions.keys()]);
    const tenants = tenantsJson(props.tenants);

    const retriesDeadLetterQueue = new sqs.Queue(this, 'RetriesDlq', secureQueueProps());
    const retryTimeout = Duration.seconds(JOB_SYSTEM_DEFAULTS.retryTimeoutSeconds);
    const retriesQueue = new sqs.Queue(this, 'Retries', {
      ...secureQueueProps(),
      visibilityTimeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.visibilityTimeoutFactor * JOB_SYSTEM_DEFAULTS.retryTimeoutSeconds),
      deadLetterQueue: { queue: retriesDeadLetterQueue, maxReceiveCount: JOB_SYSTEM_DEFAULTS.retriesMaxReceiveCount },
    });
    this.retriesDeadLetterQueue = retriesDeadLetterQueue;
    this.retriesQueue = retriesQueue;

    const queues: Record<string, sqs.IQueue> = {};
    for (const [name, options] of queueOptions) {
      queues[name] = new sqs.Queue(this, `Queue-${name}`, {
        ...secureQueueProps(),
        visibilityTimeout: options.visibilityTimeout ?? Duration.seconds(Lazy.number({ produce: () => this.defaultVisibilitySeconds(name) })),
        deadLetterQueue: { queue: retriesQueue, maxReceiveCount: options.maxReceiveCount ?? JOB_SYSTEM_DEFAULTS.maxReceiveCount },
      });
    }
    this.queues = queues;

    this.stateTable = new dynamodb.Table(this, 'StateTable', {
      ...hopperTableProps(STATE_TABLE),
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.limitsTable = new dynamodb.Table(this, 'LimitsTable', {
      ...hopperTableProps(LIMITS_TABLE),
      // Limiter state expires by itself; nothing in it outlives the stack.
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });

    const retry = new HopperFunction(this, 'RetryFunction', {
      entry: hopperEntry('retry'),
      description: 'Hopper retry function: backs off failed jobs, re-enqueues them, or moves them to the dead set',
      timeout: retryTimeout,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      // Pin the bundle to Hopper's own lock file when there is one, whatever the working directory.
      ...pinnedToHopperPackage(),
    });
    this.retryFunction = retry.function;
    this.applyEnvironment(this.retryFunction);
    this.retryFunction.addEventSource(new SqsEventSource(retriesQueue, {
      batchSize: JOB_SYSTEM_DEFAULTS.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: props.retry?.maxConcurrency ?? JOB_SYSTEM_DEFAULTS.retryMaxConcurrency,
    }));
    // Re-enqueue after a short backoff (DelaySeconds ≤ 900).
    this.grantSend(this.retryFunction, this.jobQueueArns());
    // Longer backoffs go to the retry set, exhausted jobs to the dead set.
    iam.Grant.addToPrincipal({ grantee: this.retryFunction, actions: ['dynamodb:PutItem'], resourceArns: [this.stateTable.tableArn] });
    // Failures and deaths of batch jobs are marked in their batch; dead jobs release unique locks.
    this.grantStateItems(this.retryFunction, ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [BATCH_KEYS.prefix, UNIQUE_KEYS.prefix]);

    this.batchFunction = new HopperFunction(this, 'BatchFunction', {
      entry: hopperEntry('batch'),
      description: 'Hopper batch function: enqueues batch callbacks (complete, success, death) exactly once',
      timeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.batchTimeoutSeconds),
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...pinnedToHopperPackage(),
    }).function;
    this.applyEnvironment(this.batchFunction);
    this.connectBatchFunction(this.batchFunction);

    this.scheduler = new JobScheduler(this, 'Scheduler', {
      stateTable: this.stateTable,
      queues,
      environment: this.environment,
      crons,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
    });

    if (this.statsOn) this.grantStats(this.retryFunction);

    const api = new HopperFunction(this, 'ApiFunction', {
      entry: hopperEntry('api'),
      description: 'Hopper API: enqueue with quota and backlog backpressure; queues, retries, scheduled, dead, stats, limits',
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...pinnedToHopperPackage(),
    });
    this.apiFunction = api.function;
    this.applyEnvironment(this.apiFunction);
    const backlogLimits = backlogLimitsJson(queueOptions);
    const cronDefinitions = cronsJson(crons);
    const apiVariables = apiEnvironment({
      ...(quotas === undefined ? {} : { quotas }),
      ...(tenants === undefined ? {} : { tenants }),
      ...(props.apiMaxBodyBytes === undefined ? {} : { maxBodyBytes: props.apiMaxBodyBytes }),
      ...(backlogLimits === undefined ? {} : { backlogLimits }),
      ...(cronDefinitions === undefined ? {} : { crons: cronDefinitions }),
      // Workers are added after the API exists, so the mapping UUIDs are filled in at synth.
      queueMappings: Lazy.string({ produce: () => Stack.of(this).toJsonString(Object.fromEntries(this.mappingIds)) }),
      retriesDlqUrl: this.retriesDeadLetterQueue.queueUrl,
    });
    for (const [name, value] of Object.entries(apiVariables)) this.apiFunction.addEnvironment(name, value);
    // Never NONE: every call must be signed by a principal granted lambda:InvokeFunctionUrl.
    this.apiUrl = this.apiFunction.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    this.grantApiFunction(this.apiFunction);

    this.monitoring = new JobSystemMonitoring(this, 'Monitoring', {
      namespace: this.metricsNamespace ?? METRICS_DEFAULTS.namespace,
      queues,
      retriesQueue,
      retriesDeadLetterQueue,
      alarms: props.alarms ?? {},
      dashboard: props.dashboard ?? true,
      metricsOn: this.metricsNamespace !== undefined,
    });
    const hopperFunctions: [string, lambda.IFunction | undefined][] = [
      ['RetryFunction', this.retryFunction], ['BatchFunction', this.batchFunction], ['ApiFunction', this.apiFunction],
      ['SweepFunction', this.scheduler.sweepFunction], ['CronFunction', this.scheduler.cronFunction],
    ];
    for (const [label, fn] of hopperFunctions) if (fn !== undefined) this.monitoring.addFunction(label, fn);

    this.addOutputs();
  }

  /**
   * The environment variables Hopper's library reads (names in lib/config/env.ts): the state table, the
   * retries queue URL, the queue URLs (JSON), the queues' visibility timeouts (JSON, for long jobs'
   * reservations), the default retry count and the dead-set TTL. Workers
   * added with {@link addWorker} get them; give them to any other function that enqueues with
   * `Client` (and call {@link grantEnqueue} for its rights).
   *
   * @example
   * new HopperFunction(stack, 'Api', { entry: 'src/api.ts', environment: jobs.environment });
   */
  get environment(): Readonly<Record<string, string>> {
    return {
      [ENV.stateTable]: this.stateTable.tableName,
      [ENV.retriesQueueUrl]: this.retriesQueue.queueUrl,
      [ENV.queueUrls]: this.queueUrlsJson(),
      [ENV.queueVisibility]: this.queueVisibilityJson(),
      [ENV.queueConcurrency]: queueConcurrencyEnv(this.concurrencyPlans),
      [ENV.defaultRetry]: String(this.maxRetries),
      [ENV.deadTtlDays]: String(this.deadSetRetentionDays),
      [ENV.limitsTable]: this.limitsTable.tableName,
      ...(this.statsOn ? { [ENV.stats]: STATS_ON } : {}),
      ...(this.metricsNamespace === undefined ? { [ENV.metrics]: METRICS_OFF } : { [ENV.metricsNamespace]: this.metricsNamespace }),
      ...(this.maxJobTypes === undefined ? {} : { [ENV.metricsMaxJobTypes]: String(this.maxJobTypes) }),
    };
  }

  /** The names of the declared queues, in declaration order. */
  get queueNames(): readonly string[] {
    return [...this.queueOptions.keys()];
  }

  /**
   * The queue called `name`.
   * @throws ConfigurationError when no such queue is declared (the message lists the declared ones).
   */
  queue(name: string): sqs.IQueue {
    const queue = this.queues[name];
    if (queue === undefined) throw new ConfigurationError(this.unknownQueueMessage(name));
    return queue;
  }

  /**
   * Makes `fn` the worker of `options.queues`: one SQS event source mapping per queue (with
   * `ReportBatchItemFailures`; a queue's `maxConcurrency`, in jobs, sets its batch size, its maximum
   * concurrency and the worker's jobs per invocation: concurrency-plan.ts), Hopper's environment
   * variables, consume rights on those queues (`sqs:ReceiveMessage`, `sqs:DeleteMessage`,
   * `sqs:ChangeMessageVisibility` — the last also keeps long jobs reserved, `ctx.extend`), and
   * `sqs:SendMessage` on the retries queue and on every job queue (failure envelopes, `ctx`
   * enqueues, rate-limit reschedules). Unless `stateTableAccess` is false, also `dynamodb:GetItem`,
   * `PutItem`, `UpdateItem` and `DeleteItem` on the state table's batch, unique-lock and scheduled
   * items (`dynamodb:LeadingKeys`), for jobs in batches and unique jobs. The queues' default
   * visibility timeout follows `fn`'s timeout.
   *
   * @returns the event sources, one per queue, in the order given
   * @throws ConfigurationError for an undeclared queue, a queue that already has a worker, options
   *   out of range, or an explicit visibility timeout shorter than `fn`'s timeout
   */
  addWorker(fn: lambda.Function, options: WorkerOptions): readonly SqsEventSource[] {
    if (options.queues.length === 0) {
      throw new ConfigurationError(`addWorker needs at least one queue; declared queues: ${this.queueNames.join(', ')}`);
    }
    validateIntegerRange('batchSize', options.batchSize, 1, 10);
    validateMaxConcurrency('maxConcurrency', options.maxConcurrency);
    validateDurationRange('maxBatchingWindow', options.maxBatchingWindow, Duration.seconds(0), Duration.seconds(300));
    const timeoutSeconds = fn.timeout === undefined ? JOB_SYSTEM_DEFAULTS.lambdaDefaultTimeoutSeconds : resolvedSeconds(fn.timeout);
    const seen = new Set<string>();
    for (const name of options.queues) {
      const queueOptions = this.queueOptions.get(name);
      if (queueOptions === undefined) throw new ConfigurationError(this.unknownQueueMessage(name));
      if (seen.has(name)) throw new ConfigurationError(`addWorker lists queue "${name}" more than once`);
      const worker = this.servedBy.get(name);
      if (worker !== undefined) {
        throw new ConfigurationError(`queue "${name}" is already served by ${worker}; a queue has exactly one worker, so serve all of its job types from that function`);
      }
      seen.add(name);
      validateVisibility(name, queueOptions, fn, timeoutSeconds);
    }

    this.applyEnvironment(fn);
    const sources = options.queues.map((name) => {
      const queueOptions = this.queueOptions.get(name) ?? {};
      this.servedBy.set(name, fn.node.path);
      if (timeoutSeconds !== undefined) this.workerTimeouts.set(name, timeoutSeconds);
      const maxConcurrency = options.maxConcurrency ?? queueOptions.maxConcurrency;
      const plan = concurrencyPlan({
        batchSize: options.batchSize ?? queueOptions.batchSize ?? JOB_SYSTEM_DEFAULTS.batchSize,
        ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
        ...(timeoutSeconds === undefined ? {} : { workerTimeoutSeconds: timeoutSeconds }),
      });
      this.concurrencyPlans.set(name, plan);
      const maxBatchingWindow = options.maxBatchingWindow ?? queueOptions.maxBatchingWindow;
      const source = new SqsEventSource(this.queue(name), {
        batchSize: plan.batchSize,
        reportBatchItemFailures: true,
        ...(plan.maxInvocations === undefined ? {} : { maxConcurrency: plan.maxInvocations }),
        ...(maxBatchingWindow === undefined ? {} : { maxBatchingWindow }),
      });
      fn.addEventSource(source);
      this.mappingIds.set(name, source.eventSourceMappingId);
      return source;
    });
    this.grantSend(fn, [this.retriesQueue.queueArn, ...this.jobQueueArns()]);
    if (options.stateTableAccess !== false) {
      // Jobs in batches (successes, ctx.batch) and unique jobs (lock release) write batch and lock
      // items; ctx.batch.add of far-off jobs writes the scheduled set. Nothing else in the table.
      this.grantStateItems(fn, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        [BATCH_KEYS.prefix, UNIQUE_KEYS.prefix, `${SORTED_SETS.scheduled.prefix}#`]);
    }
    // ctx.limiter's conditional writes, and (when on) the stats rollups.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:UpdateItem'], resourceArns: [this.limitsTable.tableArn] });
    if (this.statsOn) this.grantStats(fn);
    this.monitoring.addFunction(pathInStack(fn), fn);
    // Pause and resume: the API flips exactly these mappings.
    iam.Grant.addToPrincipal({
      grantee: this.apiFunction,
      actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
      resourceArns: sources.map((source) => source.eventSourceMappingArn),
    });
    return sources;
  }

  /**
   * Lets `grantee` enqueue jobs: send them to any job queue, put scheduled jobs (due in more than
   * 15 minutes) into the state table, create batches, add jobs to them and read their status
   * (`Client.batch`, `Client.getBatch`), and take unique locks.
   *
   * Actions: `sqs:SendMessage` and `sqs:GetQueueUrl` on every job queue; `dynamodb:PutItem` on
   * the state table; `dynamodb:GetItem`, `dynamodb:UpdateItem` and `dynamodb:DeleteItem` on batch
   * and unique-lock items of the state table (`dynamodb:LeadingKeys` condition).
   */
  grantEnqueue(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
      resourceArns: this.jobQueueArns(),
    }).combine(iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem'],
      resourceArns: [this.stateTable.tableArn],
    })).combine(this.grantStateItems(grantee, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [BATCH_KEYS.prefix, UNIQUE_KEYS.prefix]));
  }

  /**
   * Lets `grantee` call the HTTP API (every route: enqueue, pause/resume, retry, delete, stats).
   * Requests must be SigV4-signed (service `lambda`) by `grantee`'s credentials.
   *
   * Actions: `lambda:InvokeFunctionUrl` (for auth type AWS_IAM) and `lambda:InvokeFunction` (only
   * via the function URL), on the api function.
   */
  grantAdmin(grantee: iam.IGrantable): iam.Grant {
    return this.apiFunction.grantInvokeUrl(grantee);
  }

  /**
   * Age of the oldest message in queue `name` (Sidekiq's "latency"), maximum over 5 minutes.
   * @throws ConfigurationError when no such queue is declared
   */
  metricQueueLatency(name: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue(name).metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', ...props });
  }

  /**
   * Messages waiting in queue `name` (visible, not in flight, not delayed), maximum over 5 minutes.
   * @throws ConfigurationError when no such queue is declared
   */
  metricQueueDepth(name: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue(name).metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...props });
  }

  /** The alarms created (by construct id: `QueueAge-<queue>`, `Dead-<queue>`, `RetriesDepth`, `RetriesDlqDepth`, `Errors-<function>`, `Throttles-<function>`). */
  get alarms(): ReadonlyMap<string, cloudwatch.Alarm> {
    return this.monitoring.alarms;
  }

  /** The CloudWatch dashboard; undefined with `dashboard: false`. */
  get dashboard(): cloudwatch.Dashboard | undefined {
    return this.monitoring.dashboard;
  }

  /**
   * Adds `actions` (an SNS topic: `new cw_actions.SnsAction(topic)`) to every alarm of the
   * JobSystem, the alarms of workers added later included.
   */
  addAlarmAction(...actions: cloudwatch.IAlarmAction[]): void {
    this.monitoring.addAlarmAction(...actions);
  }

  /** Jobs whose handler ran to an end (succeeded or failed), sum over 5 minutes. */
  metricProcessed(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.processed, 'Sum', options);
  }

  /** Jobs whose handler failed (or that could not run), sum over 5 minutes. */
  metricFailed(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.failed, 'Sum', options);
  }

  /** Failed jobs scheduled for another attempt, sum over 5 minutes. */
  metricRetried(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.retried, 'Sum', options);
  }

  /** Jobs moved to the dead set (dead-set growth), sum over 5 minutes. */
  metricDead(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.dead, 'Sum', options);
  }

  /** Jobs dropped unrun because they expired, sum over 5 minutes. */
  metricExpired(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.expired, 'Sum', options);
  }

  /** Jobs a limiter sent back to their queue, sum over 5 minutes. */
  metricRateLimited(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.rateLimited, 'Sum', options);
  }

  /** Time from enqueue (or `at`) to the start of the handler, ms, p99 over 5 minutes unless `statistic` says. */
  metricLatency(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.latency, options?.statistic ?? 'p99', options);
  }

  /** Handler run time, ms, p99 over 5 minutes unless `statistic` says. */
  metricDuration(options?: JobMetricOptions): cloudwatch.IMetric {
    return this.monitoring.metric(METRICS.duration, options?.statistic ?? 'p99', options);
  }

  private jobQueueArns(): string[] {
    return Object.values(this.queues).map((queue) => queue.queueArn);
  }

  /**
   * Grants `actions` on the state-table items whose partition key starts with one of `prefixes`
   * (DynamoDB checks each item of a transaction against its own action, so transactions need no
   * action of their own).
   */
  private grantStateItems(grantee: iam.IGrantable, actions: string[], prefixes: readonly string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.stateTable.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) } },
    });
  }

  /**
   * The batch function reads the state table's stream, batch items only (filter criteria, so other
   * writes never invoke it), from the oldest record kept; a failing record is retried from itself
   * (partial batch responses, bisection), and after the retries the batch's metadata goes to the
   * retries DLQ as evidence. It reads and claims batch items, adds child callbacks to parents,
   * and sends callback jobs to the job queues.
   */
  private connectBatchFunction(fn: lambda.Function): void {
    const streamArn = this.stateTable.tableStreamArn;
    if (streamArn === undefined) throw new ConfigurationError('the state table has no stream; the batch function needs one');
    fn.addEventSourceMapping('StateStream', {
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: JOB_SYSTEM_DEFAULTS.batchStreamBatchSize,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: JOB_SYSTEM_DEFAULTS.batchStreamRetryAttempts,
      filters: [lambda.FilterCriteria.filter(BATCH_STREAM_FILTER)],
      onFailure: new SqsDlq(this.retriesDeadLetterQueue),
    });
    // Lambda's event source mapping checks these four on the stream when it is created.
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      resourceArns: [streamArn],
    });
    this.grantStateItems(fn, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [BATCH_KEYS.prefix]);
    this.grantSend(fn, this.jobQueueArns());
  }

  private grantSend(grantee: iam.IGrantable, queueArns: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: queueArns });
  }

  /** Stats rollups and cohorts: `UpdateItem`s per flush, on the stats and cohorts partitions only. */
  private grantStats(fn: lambda.IFunction): void {
    this.grantStateItems(fn, ['dynamodb:UpdateItem'], [STATS_KEYS.partition, COHORT_KEYS.partition]);
  }

  /**
   * The api function's rights: read queue sizes and enqueue; list, move and delete set entries,
   * fold stats; spend and read quotas; redrive the retries DLQ into the retries queue. Mapping
   * rights are added per worker (addWorker).
   */
  private grantApiFunction(fn: lambda.IFunction): void {
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'], resourceArns: this.jobQueueArns() });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resourceArns: [this.retriesDeadLetterQueue.queueArn] });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:SendMessage'], resourceArns: [this.retriesQueue.queueArn] });
    // GetItem: a batch's status and a cron's run record.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'], resourceArns: [this.stateTable.tableArn] });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query', 'dynamodb:UpdateItem'], resourceArns: [this.limitsTable.tableArn] });
  }

  private applyEnvironment(fn: lambda.Function): void {
    for (const [name, value] of Object.entries(this.environment)) fn.addEnvironment(name, value);
  }

  private defaultVisibilitySeconds(name: string): number {
    const { visibilityTimeoutFactor, minVisibilityTimeoutSeconds, maxVisibilityTimeoutSeconds } = JOB_SYSTEM_DEFAULTS;
    const timeout = this.workerTimeouts.get(name) ?? 0;
    return Math.min(maxVisibilityTimeoutSeconds, Math.max(minVisibilityTimeoutSeconds, visibilityTimeoutFactor * timeout));
  }

  private unknownQueueMessage(name: string): string {
    return `queue "${name}" is not declared; declared queues: ${this.queueNames.join(', ')}`;
  }

  /**
   * Queue name → visibility timeout in seconds, for the worker's reservation heartbeat. Resolved
   * at synth, after every worker is added (the default follows the worker's timeout); a timeout
   * given as a token is left out, and the worker then assumes SQS's default.
   */
  private queueVisibilityJson(): string {
    return Lazy.string({
      produce: () => {
        const seconds: Record<string, number> = {};
        for (const [name, options] of this.queueOptions) {
          const explicit = options.visibilityTimeout;
          const value = explicit === undefined ? this.defaultVisibilitySeconds(name) : resolvedSeconds(explicit);
          if (value !== undefined) seconds[name] = value;
        }
        return JSON.stringify(seconds);
      },
    });
  }

  private queueUrlsJson(): string {
    const urls: Record<string, string> = {};
    for (const [name, queue] of Object.entries(this.queues)) urls[name] = queue.queueUrl;
    return Stack.of(this).toJsonString(urls);
  }

  private addOutputs(): void {
    const prefix = outputPrefix(this);
    const outputs: ReadonlyArray<readonly [string, string, string]> = [
      ['QueueUrls', this.queueUrlsJson(), 'Hopper: JSON object of queue name to SQS queue URL'],
      ['StateTableName', this.stateTable.tableName, 'Hopper: state table (scheduled set, retry set, dead set)'],
      ['RetriesQueueUrl', this.retriesQueue.queueUrl, 'Hopper: retries queue URL'],
      ['RetriesDlqUrl', this.retriesDeadLetterQueue.queueUrl, 'Hopper: messages the retry function could not process'],
      ['LimitsTableName', this.limitsTable.tableName, 'Hopper: limits table (rate limiters, quotas)'],
      ['ApiUrl', this.apiUrl.url, 'Hopper: HTTP API (Function URL, IAM auth: sign requests with SigV4, service lambda)'],
    ];
    for (const [id, value, description] of outputs) {
      new CfnOutput(this, id, { value, description }).overrideLogicalId(`${prefix}${id}`);
    }
  }
}

/** String pk/sk, on demand, point-in-time recovery, TTL and encryption: what every Hopper table gets. */
function hopperTableProps(keys: { readonly partitionKey: string; readonly sortKey: string; readonly ttlAttribute: string }): dynamodb.TableProps {
  return {
    partitionKey: { name: keys.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: keys.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: keys.ttlAttribute,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
  };
}

/** Encryption, TLS-only access and the longest retention: what every Hopper queue gets. */
function secureQueueProps(): sqs.QueueProps {
  return {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(JOB_SYSTEM_DEFAULTS.retentionDays),
  };
}

/**
 * The prefix of the outputs' logical ids: the construct's path inside its stack, letters and
 * digits only, so that `new JobSystem(stack, 'Jobs')` gives `JobsQueueUrls` — stable across
 * synths, which is what the CLI needs to find them.
 */
function outputPrefix(scope: Construct): string {
  const stackDepth = Stack.of(scope).node.scopes.length;
  return scope.node.scopes
    .slice(stackDepth)
    .map((node) => node.node.id.replace(/[^A-Za-z0-9]/g, ''))
    .join('');
}

