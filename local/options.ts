/** Options of `startLocal()` and their defaults. */
import type { PartitionLimit } from './dynamodb/partition-limit.js';
import type { LogFormat } from '../lib/observability/console-format.js';
import type { LogSink } from './log.js';

/** Defaults of {@link StartLocalOptions}. */
export const LOCAL_DEFAULTS = {
  /** Instances of one function when it reserves no concurrency. */
  functionConcurrency: 10,
  /** SQS batches in flight per mapping without ScalingConfig.MaximumConcurrency. */
  sqsConcurrency: 5,
  /** Warm instances idle this long are stopped. */
  idleTimeoutMs: 5 * 60_000,
  /** Lambda's initialization limit. */
  initTimeoutMs: 10_000,
  /**
   * How long an updated event source mapping stays `Enabling`/`Disabling`/`Updating` (Lambda takes
   * seconds, and refuses another update meanwhile).
   */
  mappingUpdateMs: 1_000,
} as const;

/** Names the Python interpreter that runs `python3.*` functions when {@link StartLocalOptions.python} does not. */
export const PYTHON_ENV = 'HOPPER_PYTHON';

/** How to start the local runtime. */
export interface StartLocalOptions {
  /**
   * Directory of the CDK app (its `cdk.json`); also where `node_modules` is.
   * @default process.cwd()
   */
  readonly projectDir?: string;
  /**
   * An already-synthesized cloud assembly to run; synthesis is skipped.
   * @default - synthesize the app
   */
  readonly assemblyDir?: string;
  /**
   * The app command (`--app` of the CDK CLI).
   * @default - the `app` of cdk.json
   */
  readonly app?: string;
  /**
   * The stack to run (artifact id or stack name); only its assets are bundled.
   * @default - the app's only stack
   */
  readonly stack?: string;
  /**
   * Extra CDK context (`--context key=value`).
   * @default - none
   */
  readonly context?: Readonly<Record<string, string>>;
  /** @default - a free port */
  readonly sqsPort?: number;
  /** @default - a free port */
  readonly dynamodbPort?: number;
  /**
   * Throttle writes to a partition key past this many write units a second, as DynamoDB throttles
   * a hot partition (1,000 on AWS). For scale models: scale it down with the load this machine
   * makes. The endpoint is then a front before DynamoDB Local (local/dynamodb/front.ts).
   * @default - no limit
   */
  readonly partitionLimit?: PartitionLimit;
  /**
   * Serve standard queues' messages that carry a `MessageGroupId` (a job's tenant) as Amazon SQS
   * fair queues do; false serves them in order (to compare, as the fairness bench does).
   * @default true
   */
  readonly fairQueues?: boolean;
  /**
   * Port of the local Lambda API (event source mappings, Invoke; other AWS services answer "not emulated").
   * @default - a free port
   */
  readonly lambdaPort?: number;
  /**
   * First port for function URLs; URLs take consecutive ports in logical-id order.
   * @default - a free port each
   */
  readonly functionUrlPort?: number;
  /**
   * Shifts "now" for schedules and for functions (HOPPER_CLOCK_OFFSET_MS).
   * @default 0
   */
  readonly clockOffsetMs?: number;
  /**
   * Where runtime messages and function output go.
   * @default - `[source] line` on stderr
   */
  readonly logs?: LogSink;
  /**
   * How function output is shown: `readable`, one line per job event (`SendEmail 4f6c2a… done
   * 12 ms`; functions then log at DEBUG, where the worker has a line per success), or `json`, the
   * lines as printed. Applies to the default sink; a sink of your own can use `formatFunctionLine`.
   * @default 'json'
   */
  readonly logFormat?: LogFormat;
  /**
   * Show the functions' CloudWatch EMF metric lines (compacted in the readable format).
   * @default false
   */
  readonly showMetrics?: boolean;
  /**
   * Most instances of one function without reserved concurrency that run at once (a local bound on
   * processes: invocations beyond it wait; they are not throttled).
   * @default LOCAL_DEFAULTS.functionConcurrency
   */
  readonly functionConcurrency?: number;
  /**
   * The account's concurrent executions, as Lambda counts them: functions with
   * `ReservedConcurrentExecutions` get their reservation, the others share the rest, and an
   * invocation beyond either is throttled (a 429, an SQS batch that returns to its queue, an
   * asynchronous event tried again later). Reservations must leave 100 (or all of a lower limit)
   * unreserved, as on AWS.
   * @default 1000 (Lambda's default quota)
   */
  readonly accountConcurrency?: number;
  /** @default LOCAL_DEFAULTS.sqsConcurrency */
  readonly sqsConcurrency?: number;
  /** @default LOCAL_DEFAULTS.idleTimeoutMs */
  readonly idleTimeoutMs?: number;
  /**
   * How long an event source mapping updated through the Lambda API stays mid-change; another
   * update meanwhile is refused with `ResourceInUseException`, as in AWS.
   * @default LOCAL_DEFAULTS.mappingUpdateMs
   */
  readonly mappingUpdateMs?: number;
  /**
   * Delays before the retries of a failed asynchronous invocation (schedule targets).
   * @default Lambda's: one minute, then two
   */
  readonly asyncRetryDelaysMs?: readonly number[];
  /**
   * Absolute paths of modules every function process imports (`node --import`) before its handler:
   * instrumentation such as AWS client middleware (`registerAwsClientMiddleware`) for request
   * counting or fault injection.
   * @default - none
   */
  readonly functionPreload?: readonly string[];
  /**
   * Applies the AWS client middleware registered in this process (`registerAwsClientMiddleware`)
   * to the runtime's own SQS client, whose receives and deletes play the event source mappings'
   * (billed SQS requests on AWS); the cost benchmark counts them this way.
   * @default false
   */
  readonly instrumentRuntimeSqs?: boolean;
  /**
   * Extra environment variables every function process gets, over the runtime's base environment
   * and under the function's own variables: configuration for preload modules (fault injection
   * rates, where to record what they did).
   * @default - none
   */
  readonly functionEnv?: Readonly<Record<string, string>>;
  /**
   * The Python interpreter that runs the stack's `python3.*` functions (it needs boto3 to reach
   * AWS services, as Lambda's Python runtime has it).
   * @default - the HOPPER_PYTHON environment variable, else `python3` on PATH
   */
  readonly python?: string;
}
