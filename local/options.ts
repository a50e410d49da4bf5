/** Options of `startLocal()` and their defaults. */
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
  /** @default LOCAL_DEFAULTS.functionConcurrency */
  readonly functionConcurrency?: number;
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
}
