/**
 * The state of a JobSystem and the Hopper functions that keep it: the state table and the limits
 * table, the retry function (consumes the retries queue) and the batch function (reads the state
 * table's stream). Built by the JobSystem, in its own scope, so the construct ids (`StateTable`,
 * `LimitsTable`, `RetryFunction`, `BatchFunction`) and the logical ids derived from them stay as
 * they are.
 */
import type { MiddlewareBundle } from './middleware-bundle.js';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BATCH_STREAM_FILTERS } from '../lib/batch/stream-filter.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { LIMITS_TABLE } from '../lib/limiters/keys.js';
import { BATCH_KEYS, FLOW_KEYS, RECENT_BATCHES, SORTED_SETS, START_MARK_KEYS, STATE_TABLE, UNIQUE_KEYS } from '../lib/storage/keys.js';
import { HopperFunction } from './hopper-function.js';
import { hopperEntry, pinnedToHopperPackage } from './hopper-package.js';
import { grantSend, grantStateItems, grantStats } from './job-system-grants.js';
import { JOB_SYSTEM_DEFAULTS } from './job-system-props.js';
import type { JobQueues } from './job-system-queues.js';

/** The tables of a JobSystem. */
export interface JobTables {
  /** Scheduled set, retry set, dead set, batches, unique locks, cron ticks, stats (lib/storage/keys.ts). */
  readonly stateTable: dynamodb.Table;
  /** Rate-limiter and quota state (lib/limiters/keys.ts). */
  readonly limitsTable: dynamodb.Table;
}

/**
 * Creates the state table (`StateTable`, with a NEW_AND_OLD_IMAGES stream for the batch function)
 * and the limits table (`LimitsTable`) in `scope`.
 *
 * @param removalPolicy applies to both tables
 *   @default - the state table is retained, the limits table (state that expires by itself) destroyed
 */
export function createJobTables(scope: Construct, removalPolicy: RemovalPolicy | undefined): JobTables {
  const stateTable = new dynamodb.Table(scope, 'StateTable', {
    ...hopperTableProps(STATE_TABLE),
    stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    removalPolicy: removalPolicy ?? RemovalPolicy.RETAIN,
  });
  // Recent batches, newest first per day (lib/storage/keys.ts): sparse, and written only when a batch
  // is created, since its keys and projected attributes never change after.
  stateTable.addGlobalSecondaryIndex({
    indexName: RECENT_BATCHES.indexName,
    partitionKey: { name: RECENT_BATCHES.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: RECENT_BATCHES.sortKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.INCLUDE,
    nonKeyAttributes: [...RECENT_BATCHES.projected],
  });
  const limitsTable = new dynamodb.Table(scope, 'LimitsTable', {
    ...hopperTableProps(LIMITS_TABLE),
    // Limiter state expires by itself; nothing in it outlives the stack.
    removalPolicy: removalPolicy ?? RemovalPolicy.DESTROY,
  });
  return { stateTable, limitsTable };
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

/** What the retry and batch functions are built from. */
export interface StateFunctionsProps {
  readonly queues: JobQueues;
  readonly stateTable: dynamodb.ITable;
  /** Hopper's environment variables (lib/config/env.ts), given to both functions. */
  readonly environment: Readonly<Record<string, string>>;
  /** Whether the retry function adds to the stats rollups. */
  readonly statsOn: boolean;
  /** @default JOB_SYSTEM_DEFAULTS.retryMaxConcurrency */
  readonly retryMaxConcurrency?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The team's middleware, loaded by Hopper's functions (the JobSystem's `middleware` prop). */
  readonly middleware?: MiddlewareBundle;
}

/**
 * Creates the retry function (`RetryFunction`): it consumes the retries queue, re-enqueues after a
 * short backoff, and puts longer backoffs into the retry set and exhausted jobs into the dead set.
 */
export function createRetryFunction(scope: Construct, props: StateFunctionsProps): lambda.Function {
  const { queues, stateTable } = props;
  const fn = new HopperFunction(scope, 'RetryFunction', {
    entry: hopperEntry('retry'),
    description: 'Hopper retry function: backs off failed jobs, re-enqueues them, or moves them to the dead set',
    timeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.retryTimeoutSeconds),
    ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
    ...(props.middleware === undefined ? {} : { middleware: props.middleware }),
    // Pin the bundle to Hopper's own lock file when there is one, whatever the working directory.
    ...pinnedToHopperPackage(),
  }).function;
  for (const [name, value] of Object.entries(props.environment)) fn.addEnvironment(name, value);
  fn.addEventSource(new SqsEventSource(queues.retriesQueue, {
    batchSize: JOB_SYSTEM_DEFAULTS.batchSize,
    reportBatchItemFailures: true,
    maxConcurrency: props.retryMaxConcurrency ?? JOB_SYSTEM_DEFAULTS.retryMaxConcurrency,
  }));
  // Re-enqueue after a short backoff (DelaySeconds ≤ 900).
  grantSend(fn, [...queues.arns]);
  // Longer backoffs go to the retry set, exhausted jobs to the dead set.
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:PutItem'], resourceArns: [stateTable.tableArn] });
  // Failures and deaths of batch jobs are marked in their batch; dead jobs release unique locks.
  grantStateItems(fn, stateTable, ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [BATCH_KEYS.prefix, UNIQUE_KEYS.prefix]);
  // A redriven job is charged a retry only when a run of it began (its start mark); the uncharged
  // redrives of an attempt are counted.
  grantStateItems(fn, stateTable, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [START_MARK_KEYS.prefix]);
  if (props.statsOn) grantStats(fn, stateTable);
  return fn;
}

/**
 * Creates the batch function (`BatchFunction`). It reads the state table's stream, batch items
 * only (filter criteria, so other writes never invoke it), from the oldest record kept; a failing
 * record is retried from itself (partial batch responses, bisection), and after the retries the
 * batch's metadata goes to the retries DLQ as evidence. It reads and claims batch items, adds child
 * callbacks to parents, and sends callback jobs to the job queues.
 */
export function createBatchFunction(scope: Construct, props: StateFunctionsProps): lambda.Function {
  const { queues, stateTable } = props;
  const fn = new HopperFunction(scope, 'BatchFunction', {
    entry: hopperEntry('batch'),
    description: 'Hopper batch function: enqueues batch callbacks (complete, success, death) exactly once',
    timeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.batchTimeoutSeconds),
    ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
    ...(props.middleware === undefined ? {} : { middleware: props.middleware }),
    ...pinnedToHopperPackage(),
  }).function;
  for (const [name, value] of Object.entries(props.environment)) fn.addEnvironment(name, value);
  const streamArn = stateTable.tableStreamArn;
  if (streamArn === undefined) throw new ConfigurationError('the state table has no stream; the batch function needs one');
  fn.addEventSourceMapping('StateStream', {
    eventSourceArn: streamArn,
    startingPosition: lambda.StartingPosition.TRIM_HORIZON,
    batchSize: JOB_SYSTEM_DEFAULTS.batchStreamBatchSize,
    bisectBatchOnError: true,
    reportBatchItemFailures: true,
    retryAttempts: JOB_SYSTEM_DEFAULTS.batchStreamRetryAttempts,
    filters: BATCH_STREAM_FILTERS.map((pattern) => lambda.FilterCriteria.filter(pattern)),
    onFailure: new SqsDlq(queues.retriesDeadLetterQueue),
  });
  // Lambda's event source mapping checks these four on the stream when it is created.
  iam.Grant.addToPrincipal({
    grantee: fn,
    actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
    resourceArns: [streamArn],
  });
  grantStateItems(fn, stateTable, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [BATCH_KEYS.prefix]);
  // Flows: settles steps in flow items, marks their callbacks sent (lib/flow/stream.ts).
  grantStateItems(fn, stateTable, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [FLOW_KEYS.prefix]);
  // A callback job the team's middleware refuses goes to the dead set.
  if (props.middleware !== undefined) grantStateItems(fn, stateTable, ['dynamodb:PutItem'], [`${SORTED_SETS.dead.prefix}#`]);
  grantSend(fn, [...queues.arns]);
  return fn;
}
