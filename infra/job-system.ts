/**
 * The JobSystem construct: everything Hopper needs in one `new JobSystem(stack, 'Jobs', props)`.
 * What it builds is split by part, each built in the JobSystem's own scope so that construct ids
 * stay as they are: the queues and their mappings (job-system-queues.ts), the state tables and the
 * retry and batch functions (job-system-state.ts), the scheduler and cron functions
 * (job-scheduler.ts), the API (job-system-api.ts), monitoring (job-system-monitoring.ts) and the
 * outputs (job-system-outputs.ts).
 */
import { MIDDLEWARE_BUNDLE } from '../lib/middleware/load.js';
import { MiddlewareBundle } from './middleware-bundle.js';
import { Annotations, Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../lib/config/env.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { JOB_LIMITS } from '../lib/job/model.js';
import { BATCH_KEYS, DEBOUNCE_KEYS, ITERATION_KEYS, JOB_STATE_KEYS, ONCE_KEYS, SORTED_SETS, START_MARK_KEYS, UNIQUE_KEYS } from '../lib/storage/keys.js';
import { TENANT_CAP_KEYS } from '../lib/limiters/keys.js';
import { STATS_ON } from '../lib/stats/recorder.js';
import { METRICS, METRICS_DEFAULTS, METRICS_OFF } from '../lib/observability/emf.js';
import { validateMaxConcurrency } from './concurrency-plan.js';
import { checkEnvironmentAtSynth } from './environment-size.js';
import { checkRolePoliciesAtSynth } from './iam-size.js';
import { JobSystemMonitoring, pathInStack, type JobMetricOptions } from './job-system-monitoring.js';
import { JobScheduler } from './job-scheduler.js';
import { apiEnvironment, backlogLimitsJson, createApiFunction, cronsJson, quotasJson, tenantsJson } from './job-system-api.js';
import { configurableFunction, grantEnqueueRights, grantOnEach, grantSend, grantStateItems, grantStats } from './job-system-grants.js';
import { JobSystemConfiguration } from './job-system-configuration.js';
import { addJobSystemOutputs } from './job-system-outputs.js';
import {
  deadSetDays, JOB_SYSTEM_DEFAULTS, type JobSystemProps, type QueueOptions, validateCrons, validateMetricsOptions, validateQueueOptions,
  validateWorkerTimeout, type WorkerOptions,
} from './job-system-props.js';
import { createJobQueues, QueueMappings, workerFunction } from './job-system-queues.js';
import { clientEnvironmentOf, grantEnqueueTo, ImportedJobSystem, queueUrlsJson, type IJobSystem, type JobSystemAttributes } from './job-system-ref.js';
import { createBatchFunction, createJobTables, createRetryFunction } from './job-system-state.js';
import { CONSUME_ACTIONS, QueueLayout } from './queue-layout.js';
import { validateDurationRange, validateIntegerRange } from './validation.js';
import { validateTiers } from './queue-tiers.js';
import { queueTiersJson, TierGovernor } from './tier-governor.js';

export { JOB_SYSTEM_DEFAULTS, type JobSystemProps, type MetricsOptions, type QueueOptions, type RetryOptions, type WorkerOptions } from './job-system-props.js';
export { ALARM_DEFAULTS, type JobMetricOptions, type JobSystemAlarmOptions } from './job-system-monitoring.js';
export type { CronDefinition, CronJobTemplate } from '../lib/cron/definition.js';
export type { IJobSystem, JobQueueAttributes, JobSystemAttributes } from './job-system-ref.js';

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
 * `RetriesDepth`, `RetriesDlqDepth`, `RetriesDlqAge`, `Errors-<function>`, `Throttles-<function>`, and
 * `Monitoring/Dashboard`; docs/observability.md); outputs `QueueUrls`, `StateTableName`, `RetriesQueueUrl`,
 * `RetriesDlqUrl`, `LimitsTableName`, `ApiUrl`, whose logical ids are the JobSystem's id followed
 * by the output id (`JobsQueueUrls` for `new JobSystem(stack, 'Jobs')`). With `nestedStacks`, the
 * job queues are `Queues<n>/Queue-<name>` (named `hopper-<8 hex>-<name>`), their alarms
 * `Queues<n>/QueueAge-<queue>` and `Queues<n>/Dead-<queue>`, their mappings `Mappings<n>/Mapping-<queue>`.
 *
 * @example
 * const jobs = new JobSystem(stack, 'Jobs', { queues: { default: {}, critical: { maxConcurrency: 50 } } });
 * jobs.addWorker(worker, { queues: ['default', 'critical'] });
 * jobs.grantEnqueue(apiRole);
 */
export class JobSystem extends Construct implements IJobSystem {
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
  /** The tiers' queues of the queues that declare tiers: queue name → tier name → queue (the default tier's is the queue's own). */
  readonly tierQueues: Readonly<Record<string, Readonly<Record<string, sqs.IQueue>>>>;
  /** The tier governor (function and schedule); undefined when no queue declares tiers. */
  readonly governor: TierGovernor | undefined;
  /** The HTTP API (lib/api): enqueue with backpressure, and the admin routes. */
  readonly apiFunction: lambda.Function;
  /** The API's Function URL (auth type AWS_IAM: every request must be SigV4-signed). */
  readonly apiUrl: lambda.FunctionUrl;

  /**
   * A job system of another CDK app (or deployed apart), for producers: its queues and state table
   * by ARN or name, as its stack's outputs give them (`<id>QueueUrls`, `<id>StateTableName`). Within
   * one app, pass the `JobSystem` itself instead (as an {@link IJobSystem}): CDK exports what the
   * other stack references.
   *
   * @example
   * const jobs = JobSystem.fromJobSystemAttributes(this, 'Jobs', {
   *   queues: { default: { queueArn: 'arn:aws:sqs:eu-central-1:123456789012:Billing-JobsQueuedefaultDC4251EA-Ab12Cd34' } },
   *   stateTableName: 'Billing-JobsStateTableF84A3836-XYZ',
   * });
   * jobs.grantEnqueue(fn);
   * @throws ConfigurationError without queues, with an invalid queue name or ARN, or without exactly
   *   one of `stateTableName` and `stateTableArn`
   */
  static fromJobSystemAttributes(scope: Construct, id: string, attributes: JobSystemAttributes): IJobSystem {
    return new ImportedJobSystem(scope, id, attributes);
  }

  private readonly queueOptions: ReadonlyMap<string, QueueOptions>;
  private readonly maxRetries: number;
  private readonly deadSetRetentionDays: number;
  private readonly mappings: QueueMappings;
  private readonly statsOn: boolean;
  /** Namespace of the EMF metrics; undefined when they are off. */
  private readonly metricsNamespace: string | undefined;
  private readonly maxJobTypes: number | undefined;
  private readonly monitoring: JobSystemMonitoring;
  private readonly configuration: JobSystemConfiguration;
  /** Whether the props name a middleware module. */
  private readonly hasMiddleware: boolean;
  /** `HOPPER_QUEUE_TIERS`; undefined when no queue declares tiers. */
  private readonly tiersJson: string | undefined;
  /** Where the job queues live: this stack, or nested stacks. */
  private readonly layout: QueueLayout;
  /** What a grant on every job queue names (queue-layout.ts). */
  private readonly queueGrantArns: readonly string[];

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
    const middleware = props.middleware === undefined ? undefined : new MiddlewareBundle(props.middleware);
    this.hasMiddleware = middleware !== undefined;
    // What each of Hopper's functions gets alike (not the configuration writer: it runs no job).
    const logRetention = props.logRetention === undefined ? {} : { logRetention: props.logRetention };
    const shared = { ...logRetention, ...(middleware === undefined ? {} : { middleware }) };

    const tiered = [...queueOptions].filter(([, options]) => options.tiers !== undefined).map(([name]) => name);
    if (tiered.length > 0 && props.nestedStacks !== undefined && props.nestedStacks !== false) {
      throw new ConfigurationError(`queues.${tiered[0] ?? ''}.tiers cannot be combined with nestedStacks yet (the tiers' queues would not carry the nested stacks' name prefix that the grants name)`);
    }
    this.layout = new QueueLayout(this, [...queueOptions.keys()], props.nestedStacks);
    this.mappings = new QueueMappings(queueOptions, this.layout);
    const jobQueues = createJobQueues(this, queueOptions, (name) => this.mappings.defaultVisibilitySeconds(name), this.layout);
    this.queueGrantArns = jobQueues.arns;
    this.retriesDeadLetterQueue = jobQueues.retriesDeadLetterQueue;
    this.retriesQueue = jobQueues.retriesQueue;
    this.queues = jobQueues.queues;
    this.tierQueues = jobQueues.tiers;
    this.tiersJson = tiered.length === 0 ? undefined : queueTiersJson(this, jobQueues.tiers, new Map(tiered.flatMap((name) => {
      const tiers = queueOptions.get(name)?.tiers;
      return tiers === undefined ? [] : [[name, { options: tiers, defaultTier: validateTiers(name, tiers, queueOptions.get(name)?.maxConcurrency).defaultTier }]];
    })));

    const tables = createJobTables(this, props.removalPolicy);
    this.stateTable = tables.stateTable;
    this.limitsTable = tables.limitsTable;
    this.configuration = new JobSystemConfiguration(this, 'Configuration', { stateTable: this.stateTable, ...logRetention });

    const stateFunctions = {
      queues: jobQueues,
      stateTable: this.stateTable,
      environment: this.environment,
      statsOn: this.statsOn,
      ...(props.retry?.maxConcurrency === undefined ? {} : { retryMaxConcurrency: props.retry.maxConcurrency }),
      ...shared,
    };
    this.retryFunction = createRetryFunction(this, stateFunctions);
    // The crash message names how many times the worker got the job.
    const maxReceives = Object.fromEntries([...queueOptions].map(([name, options]) => [name, options.maxReceiveCount ?? JOB_SYSTEM_DEFAULTS.maxReceiveCount]));
    this.configuration.environmentOf({ [ENV.queueMaxReceives]: JSON.stringify(maxReceives) });
    this.batchFunction = createBatchFunction(this, stateFunctions);

    this.scheduler = new JobScheduler(this, 'Scheduler', {
      stateTable: this.stateTable,
      queues: this.queues,
      queueArns: (queues) => this.layout.arns(queues),
      environment: this.environment,
      crons,
      ...shared,
    });

    const backlogLimits = backlogLimitsJson(queueOptions);
    const cronDefinitions = cronsJson(crons);
    const tierMappings: Record<string, string> = tiered.length === 0 ? {} : { [ENV.tierMappings]: this.mappings.tierMappingsJson(this) };
    const apiVariables = { ...tierMappings, ...apiEnvironment({
      ...(quotas === undefined ? {} : { quotas }),
      ...(tenants === undefined ? {} : { tenants }),
      ...(props.apiMaxBodyBytes === undefined ? {} : { maxBodyBytes: props.apiMaxBodyBytes }),
      ...(backlogLimits === undefined ? {} : { backlogLimits }),
      ...(cronDefinitions === undefined ? {} : { crons: cronDefinitions }),
      // Workers are added after the API exists, so the mapping UUIDs are filled in at synth.
      queueMappings: this.mappings.mappingIdsJson(this),
      retriesDlqUrl: this.retriesDeadLetterQueue.queueUrl,
    }) };
    const api = createApiFunction(this, {
      queues: jobQueues,
      stateTable: this.stateTable,
      limitsTable: this.limitsTable,
      environment: this.environment,
      apiVariables: this.configuration.environmentOf(apiVariables),
      ...shared,
    });
    this.apiFunction = api.function;
    this.apiUrl = api.url;

    this.monitoring = new JobSystemMonitoring(this, 'Monitoring', {
      namespace: this.metricsNamespace ?? METRICS_DEFAULTS.namespace,
      queues: this.queues,
      retriesQueue: this.retriesQueue,
      retriesDeadLetterQueue: this.retriesDeadLetterQueue,
      alarms: props.alarms ?? {},
      dashboard: props.dashboard ?? true,
      metricsOn: this.metricsNamespace !== undefined,
      queueScope: (name) => this.layout.scopeOf(name),
      tiers: Object.fromEntries(tiered.map((name) => [name, Object.entries(queueOptions.get(name)?.tiers ?? {}).flatMap(([tier, options]) => {
        const queue = this.tierQueues[name]?.[tier];
        return queue === undefined ? [] : [{ name: tier, queue, targetAge: options.targetAge }];
      })])),
    });
    if (tiered.length > 0) {
      this.governor = new TierGovernor(this, 'Governor', { tierQueues: this.tierQueues, stateTable: this.stateTable, role: this.scheduler.role, ...logRetention });
      this.configuration.configure(this.governor.function, { ...this.environment, ...tierMappings });
    } else {
      this.governor = undefined;
    }
    const hopperFunctions: [string, lambda.IFunction | undefined][] = [
      ['RetryFunction', this.retryFunction], ['BatchFunction', this.batchFunction], ['ApiFunction', this.apiFunction],
      ['SweepFunction', this.scheduler.sweepFunction], ['SweepHelperFunction', this.scheduler.sweepHelperFunction], ['CronFunction', this.scheduler.cronFunction],
      ['GovernorFunction', this.governor?.function],
    ];
    // A tick that comes while a sweep runs is throttled on purpose (reserved concurrency 1): no alarm.
    for (const [label, fn] of hopperFunctions) if (fn !== undefined) this.monitoring.addFunction(label, fn, { throttlesExpected: label === 'SweepFunction' });
    for (const fn of [this.retryFunction, this.batchFunction, this.scheduler.sweepFunction, this.scheduler.sweepHelperFunction, this.scheduler.cronFunction]) {
      if (fn !== undefined) this.configuration.attach(fn);
    }
    for (const [, fn] of hopperFunctions) if (fn !== undefined) checkRolePoliciesAtSynth(fn, this.iamAdvice);
    this.configuration.attach(this.apiFunction, apiVariables);

    addJobSystemOutputs(this, {
      queueUrls: this.queueUrlsJson(),
      stateTableName: this.stateTable.tableName,
      retriesQueueUrl: this.retriesQueue.queueUrl,
      retriesDlqUrl: this.retriesDeadLetterQueue.queueUrl,
      limitsTableName: this.limitsTable.tableName,
      apiUrl: this.apiUrl.url,
    });
  }

  /**
   * The environment variables Hopper's library reads (names in lib/config/env.ts): the state table, the
   * retries queue URL, the queue URLs (JSON), the queues' visibility timeouts (JSON, for long jobs'
   * reservations), the default retry count and the dead-set TTL. Workers added with
   * {@link addWorker} and Hopper's own functions get them; a worker defined outside this app needs
   * them set where it is defined. A producer needs only {@link clientEnvironment}, which
   * {@link grantEnqueue} sets.
   */
  get environment(): Readonly<Record<string, string>> {
    return this.configuration.environmentOf({
      [ENV.stateTable]: this.stateTable.tableName,
      [ENV.retriesQueueUrl]: this.retriesQueue.queueUrl,
      [ENV.queueUrls]: this.queueUrlsJson(),
      [ENV.queueVisibility]: this.mappings.visibilityJson(),
      [ENV.queueConcurrency]: this.mappings.concurrencyEnv(),
      ...(this.tiersJson === undefined ? {} : { [ENV.queueTiers]: this.tiersJson }),
      ...this.mappings.tenantCapsEnv(),
      ...this.listedQueuesEnv(),
      [ENV.defaultRetry]: String(this.maxRetries),
      [ENV.deadTtlDays]: String(this.deadSetRetentionDays),
      [ENV.limitsTable]: this.limitsTable.tableName,
      ...(this.statsOn ? { [ENV.stats]: STATS_ON } : {}),
      ...(this.metricsNamespace === undefined ? { [ENV.metrics]: METRICS_OFF } : { [ENV.metricsNamespace]: this.metricsNamespace }),
      ...(this.maxJobTypes === undefined ? {} : { [ENV.metricsMaxJobTypes]: String(this.maxJobTypes) }),
    });
  }

  /** The SQS queues of queue `name`: its own, and its tiers' when it declares tiers. */
  private queuesOf(name: string): sqs.IQueue[] {
    const own = this.queue(name);
    const tiers = this.tierQueues[name];
    return tiers === undefined ? [own] : [own, ...Object.values(tiers).filter((queue) => queue !== own)];
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
    if (queue === undefined) throw new ConfigurationError(this.mappings.unknownQueueMessage(name));
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
   * `PutItem`, `UpdateItem` and `DeleteItem` on the state table's batch, unique-lock, scheduled and
   * debounce items (`dynamodb:LeadingKeys`), for jobs in batches, unique and debounced jobs; and `dynamodb:UpdateItem`
   * on the limits table (`ctx.limiter`). The queues' default visibility timeout follows `fn`'s
   * timeout.
   *
   * `fn` is any Lambda function: a `lambda.Function` of any runtime or kind (`NodejsFunction`,
   * `PythonFunction`, `DockerImageFunction`), an alias or version of one (the mappings invoke the
   * alias; the environment and timeout are its function's), or an imported function (the rights
   * go to its role, if it was imported with one). An imported function's environment and timeout
   * are not known here: set {@link environment} on it where it is defined, and give its queues an
   * explicit `visibilityTimeout` (synth refuses without it, and warns about the environment until
   * `Annotations.of(fn).acknowledgeWarning('hopper:worker-environment')`).
   *
   * @example
   * const worker = new NodejsFunction(stack, 'Worker', { entry: 'src/worker.ts', timeout: Duration.seconds(30) });
   * jobs.addWorker(worker, { queues: ['default', 'critical'] });
   * @example
   * jobs.addWorker(new lambda.Alias(stack, 'Live', { aliasName: 'live', version: worker.currentVersion }), { queues: ['reports'] });
   * @returns the event source mappings, one per queue, in the order given
   * @throws ConfigurationError for an undeclared queue, a queue that already has a worker, options
   *   out of range, a timeout of `fn` under 3 seconds, or a visibility timeout that cannot hold
   *   (explicit and shorter than `fn`'s timeout, or to follow a timeout unknown at synth)
   */
  addWorker(fn: lambda.IFunction, options: WorkerOptions): readonly lambda.IEventSourceMapping[] {
    if (options.queues.length === 0) {
      throw new ConfigurationError(`addWorker needs at least one queue; declared queues: ${this.queueNames.join(', ')}`);
    }
    validateIntegerRange('batchSize', options.batchSize, 1, 10);
    validateMaxConcurrency('maxConcurrency', options.maxConcurrency);
    validateDurationRange('maxBatchingWindow', options.maxBatchingWindow, Duration.seconds(0), Duration.seconds(300));
    const { configurable, timeoutSeconds } = workerFunction(fn);
    validateWorkerTimeout(fn, timeoutSeconds);
    this.mappings.validateWorker(fn, options, timeoutSeconds);

    if (configurable === undefined) {
      Annotations.of(fn).addWarningV2('hopper:worker-environment', `${fn.node.path} is not a lambda.Function of this app, so the JobSystem cannot set its environment: `
        + `give it the variables of jobs.environment (${Object.keys(this.environment).join(', ')}) where it is defined`);
      this.configuration.grantRead(fn);
    } else {
      this.configuration.configure(configurable, this.environment);
      // The worker warns when it was made without the module Hopper's functions run.
      if (this.hasMiddleware) configurable.addEnvironment(ENV.middleware, MIDDLEWARE_BUNDLE.declared);
      checkEnvironmentAtSynth(configurable);
    }
    const sources = options.queues.flatMap((name) => {
      const made = this.mappings.connect(fn, { ...options, queues: [name] }, timeoutSeconds, (queue) => this.queue(queue), (queue) => this.tierQueues[queue]);
      // The governor moves exactly the tiers' mappings.
      if (this.tierQueues[name] !== undefined) this.governor?.grantMappings(made);
      return made;
    });
    // Statements of 20 queues (not one per queue, as SqsEventSource grants them): IAM's policy sizes
    // hold longer. Lambda checks that the function may read the queue when it creates the mapping, so
    // each mapping waits for the policy that holds its statement (an overflow policy, when the CDK
    // moved it there).
    grantOnEach(fn, CONSUME_ACTIONS, this.layout.arns(options.queues.flatMap((name) => this.queuesOf(name)))).applyBefore(...sources);
    grantSend(fn, [this.retriesQueue.queueArn, ...this.queueGrantArns]);
    if (options.stateTableAccess !== false) {
      // Jobs in batches (successes, ctx.batch) and unique jobs (lock release) write batch and lock
      // items; ctx.batch.add of far-off jobs writes the scheduled set; ctx.once its steps; tracked
      // jobs their states; iterating jobs their cursors; debounced jobs read and delete their keys'
      // items (and ctx.batch.add writes them). Nothing else in the table.
      grantStateItems(fn, this.stateTable, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        [BATCH_KEYS.prefix, UNIQUE_KEYS.prefix, `${SORTED_SETS.scheduled.prefix}#`, ONCE_KEYS.prefix, JOB_STATE_KEYS.prefix, ITERATION_KEYS.prefix, DEBOUNCE_KEYS.prefix]);
      // A job delivered again is marked before it runs, so that a crash is told from a throttle.
      grantStateItems(fn, this.stateTable, ['dynamodb:PutItem'], [START_MARK_KEYS.prefix]);
    }
    // ctx.limiter's conditional writes, and (when on) the stats rollups.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:UpdateItem'], resourceArns: [this.limitsTable.tableArn] });
    // Tenants' cap overrides, read by the workers of queues that cap their tenants.
    if (options.queues.some((name) => this.queueOptions.get(name)?.perTenant !== undefined)) {
      grantStateItems(fn, this.limitsTable, ['dynamodb:Query'], [`${TENANT_CAP_KEYS.prefix}#`]);
    }
    if (this.statsOn) grantStats(fn, this.stateTable, true);
    this.monitoring.addFunction(pathInStack(fn), fn);
    // Pause and resume: the API flips exactly these mappings.
    this.layout.grantMappings(this.apiFunction, fn, sources);
    checkRolePoliciesAtSynth(fn, this.iamAdvice);
    return sources;
  }

  /**
   * Lets `grantee` enqueue jobs with `Client`: send them to any job queue, put scheduled jobs (due
   * in more than 15 minutes) into the state table, create batches, add jobs to them and read their
   * status (`Client.batch`, `Client.getBatch`), and take unique locks. When `grantee` is a
   * `lambda.Function` (or an alias or version of one), also sets {@link clientEnvironment} on its
   * environment, so `new Client()` works in it as is; `grantee` may be in another stack of the app.
   * Any other grantee (a role, a task role) needs {@link clientEnvironment} passed on by other means.
   *
   * Actions: `sqs:SendMessage` and `sqs:GetQueueUrl` on every job queue; `dynamodb:PutItem` on
   * the state table; `dynamodb:GetItem`, `dynamodb:UpdateItem` and `dynamodb:DeleteItem` on batch,
   * unique-lock and debounce items of the state table (`dynamodb:LeadingKeys` condition).
   *
   * @example
   * const signup = new NodejsFunction(stack, 'Signup', { entry: 'src/signup.ts' });
   * jobs.grantEnqueue(signup); // in src/signup.ts: await new Client().enqueue({ jobtype: 'Welcome', args: [userId] })
   */
  grantEnqueue(grantee: iam.IGrantable): iam.Grant {
    const fn = configurableFunction(grantee);
    checkRolePoliciesAtSynth(grantee, this.iamAdvice);
    if (fn === undefined) return grantEnqueueTo(this, grantee, this.queueGrantArns);
    // A Lambda producer reads the queue URLs from the configuration document, so that they do not
    // count against its 4 KB environment.
    const grant = grantEnqueueRights(grantee, this.queueGrantArns, this.stateTable);
    this.configuration.configure(fn, this.clientEnvironment());
    checkEnvironmentAtSynth(fn);
    return grant;
  }

  /**
   * The environment variables `new Client()` reads: `HOPPER_QUEUE_URLS` (JSON, queue name → URL),
   * `HOPPER_STATE_TABLE` and `HOPPER_DEFAULT_RETRY`. {@link grantEnqueue} sets them on a Lambda
   * function; give them to any other producer (a container, an instance) alongside
   * {@link grantEnqueue} on its role, or pass them as `new Client({ env })`.
   *
   * @example
   * const task = new ecs.FargateTaskDefinition(stack, 'Task');
   * task.addContainer('App', { image, environment: { ...jobs.clientEnvironment() } });
   * jobs.grantEnqueue(task.taskRole);
   */
  clientEnvironment(): Readonly<Record<string, string>> {
    return { ...clientEnvironmentOf(this, this.queues, this.stateTable, this.maxRetries), ...this.listedQueuesEnv() };
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

  /** The alarms created (by construct id: `QueueAge-<queue>`, `Dead-<queue>`, `RetriesDepth`, `RetriesDlqDepth`, `RetriesDlqAge`, `Errors-<function>`, `Throttles-<function>`). */
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

  /** `HOPPER_LISTED_QUEUES` when a queue has `listScheduled`. */
  private listedQueuesEnv(): Record<string, string> {
    const listed = [...this.queueOptions].filter(([, options]) => options.listScheduled === true).map(([name]) => name);
    return listed.length === 0 ? {} : { [ENV.listedQueues]: JSON.stringify(listed) };
  }

  /** What to do when a role's policies are over IAM's quotas. */
  private get iamAdvice(): string {
    return this.layout.nested
      ? 'The JobSystem\'s grants name all its queues with one ARN pattern: move statements of your own to a managed policy or another role'
      : `The JobSystem's grants name each of its ${this.queueNames.length} queues: set nestedStacks, whose grants name every queue with one ARN pattern`;
  }

  private queueUrlsJson(): string {
    return queueUrlsJson(this, this.queues);
  }
}
