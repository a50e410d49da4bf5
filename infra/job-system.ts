/**
 * The JobSystem construct: everything Hopper needs in one `new JobSystem(stack, 'Jobs', props)`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../lib/env';
import { ConfigurationError } from '../lib/errors';
import { JOB_LIMITS } from '../lib/job';
import { STATE_TABLE } from '../lib/keys';
import { LIMITS_TABLE } from '../lib/limiters/keys';
import { STATS_ON } from '../lib/stats/recorder';
import { HopperFunction } from './hopper-function';
import { apiEnvironment, backlogLimitsJson, quotasJson, tenantsJson } from './job-system-api';
import {
  deadSetDays, JOB_SYSTEM_DEFAULTS, type JobSystemProps, type QueueOptions, validateQueueOptions, validateVisibility,
  type WorkerOptions,
} from './job-system-props';
import { resolvedSeconds, validateDurationRange, validateIntegerRange } from './validation';

export { JOB_SYSTEM_DEFAULTS, type JobSystemProps, type QueueOptions, type RetryOptions, type WorkerOptions } from './job-system-props';

const RETRY_ENTRY = fileURLToPath(new URL('../functions/retry.ts', import.meta.url));
const API_ENTRY = fileURLToPath(new URL('../functions/api.ts', import.meta.url));
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCK_FILE = join(PACKAGE_ROOT, 'package-lock.json');

/**
 * Hopper's background-job system: one SQS queue per declared queue, the retries queue (redrive
 * target of every queue) with its own DLQ, the state table, the limits table, the retry function,
 * and the api function behind a Function URL with IAM auth.
 *
 * Construct ids (renaming one replaces the resource): `Queue-<name>`, `Retries`, `RetriesDlq`,
 * `StateTable`, `LimitsTable`, `RetryFunction`, `ApiFunction`; outputs `QueueUrls`,
 * `StateTableName`, `RetriesQueueUrl`, `RetriesDlqUrl`, `LimitsTableName`, `ApiUrl`, whose logical
 * ids are the JobSystem's id followed by the output id (`JobsQueueUrls` for
 * `new JobSystem(stack, 'Jobs')`).
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
  /** The state table: scheduled set, retry set, dead set (key layout in lib/keys.ts). */
  readonly stateTable: dynamodb.Table;
  /** The function that consumes the retries queue. */
  readonly retryFunction: lambda.Function;
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
  private readonly statsOn: boolean;

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
    this.statsOn = props.stats ?? true;
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
      partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATE_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: STATE_TABLE.ttlAttribute,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.limitsTable = new dynamodb.Table(this, 'LimitsTable', {
      partitionKey: { name: LIMITS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LIMITS_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: LIMITS_TABLE.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Limiter state expires by itself; nothing in it outlives the stack.
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });

    const retry = new HopperFunction(this, 'RetryFunction', {
      entry: RETRY_ENTRY,
      description: 'Hopper retry function: backs off failed jobs, re-enqueues them, or moves them to the dead set',
      timeout: retryTimeout,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...hopperBundleRoot(),
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
    if (this.statsOn) this.grantStats(this.retryFunction);

    const api = new HopperFunction(this, 'ApiFunction', {
      entry: API_ENTRY,
      description: 'Hopper API: enqueue with quota and backlog backpressure; queues, retries, scheduled, dead, stats, limits',
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...hopperBundleRoot(),
    });
    this.apiFunction = api.function;
    this.applyEnvironment(this.apiFunction);
    const backlogLimits = backlogLimitsJson(queueOptions);
    const apiVariables = apiEnvironment({
      ...(quotas === undefined ? {} : { quotas }),
      ...(tenants === undefined ? {} : { tenants }),
      ...(props.apiMaxBodyBytes === undefined ? {} : { maxBodyBytes: props.apiMaxBodyBytes }),
      ...(backlogLimits === undefined ? {} : { backlogLimits }),
      // Workers are added after the API exists, so the mapping UUIDs are filled in at synth.
      queueMappings: Lazy.string({ produce: () => Stack.of(this).toJsonString(Object.fromEntries(this.mappingIds)) }),
    });
    for (const [name, value] of Object.entries(apiVariables)) this.apiFunction.addEnvironment(name, value);
    // Never NONE: every call must be signed by a principal granted lambda:InvokeFunctionUrl.
    this.apiUrl = this.apiFunction.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    this.grantApiFunction(this.apiFunction);

    this.addOutputs();
  }

  /**
   * The environment variables Hopper's library reads (names in lib/env.ts): the state table, the
   * retries queue URL, the queue URLs (JSON), the default retry count and the dead-set TTL. Workers
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
      [ENV.defaultRetry]: String(this.maxRetries),
      [ENV.deadTtlDays]: String(this.deadSetRetentionDays),
      [ENV.limitsTable]: this.limitsTable.tableName,
      ...(this.statsOn ? { [ENV.stats]: STATS_ON } : {}),
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
   * `ReportBatchItemFailures`, the batch size and maximum concurrency), Hopper's environment
   * variables, consume rights on those queues, and `sqs:SendMessage` on the retries queue and on
   * every job queue (failure envelopes, `ctx` enqueues, rate-limit reschedules). The queues'
   * default visibility timeout follows `fn`'s timeout.
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
    validateIntegerRange('maxConcurrency', options.maxConcurrency, 2, 1000);
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
      const maxBatchingWindow = options.maxBatchingWindow ?? queueOptions.maxBatchingWindow;
      const source = new SqsEventSource(this.queue(name), {
        batchSize: options.batchSize ?? queueOptions.batchSize ?? JOB_SYSTEM_DEFAULTS.batchSize,
        reportBatchItemFailures: true,
        ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
        ...(maxBatchingWindow === undefined ? {} : { maxBatchingWindow }),
      });
      fn.addEventSource(source);
      this.mappingIds.set(name, source.eventSourceMappingId);
      return source;
    });
    this.grantSend(fn, [this.retriesQueue.queueArn, ...this.jobQueueArns()]);
    // ctx.limiter's conditional writes, and (when on) the stats rollups.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:UpdateItem'], resourceArns: [this.limitsTable.tableArn] });
    if (this.statsOn) this.grantStats(fn);
    // Pause and resume: the API flips exactly these mappings.
    iam.Grant.addToPrincipal({
      grantee: this.apiFunction,
      actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
      resourceArns: sources.map((source) => source.eventSourceMappingArn),
    });
    return sources;
  }

  /**
   * Lets `grantee` enqueue jobs: send them to any job queue, and put scheduled jobs (due in more
   * than 15 minutes) into the state table.
   *
   * Actions: `sqs:SendMessage` and `sqs:GetQueueUrl` on every job queue; `dynamodb:PutItem` on
   * the state table.
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
    }));
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

  private jobQueueArns(): string[] {
    return Object.values(this.queues).map((queue) => queue.queueArn);
  }

  private grantSend(grantee: iam.IGrantable, queueArns: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: queueArns });
  }

  /** One `UpdateItem ADD` per flush of processed/failed counts into the state table (lib/stats). */
  private grantStats(fn: lambda.IFunction): void {
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:UpdateItem'], resourceArns: [this.stateTable.tableArn] });
  }

  /**
   * The api function's rights: read queue sizes and enqueue; list, move and delete set entries,
   * fold stats; spend and read quotas. Mapping rights are added per worker (addWorker).
   */
  private grantApiFunction(fn: lambda.IFunction): void {
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'], resourceArns: this.jobQueueArns() });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'], resourceArns: [this.stateTable.tableArn] });
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

/** Pins a bundle to Hopper's own lock file when there is one, whatever the working directory. */
function hopperBundleRoot(): { projectRoot?: string; depsLockFilePath?: string } {
  return existsSync(LOCK_FILE) ? { projectRoot: PACKAGE_ROOT, depsLockFilePath: LOCK_FILE } : {};
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
