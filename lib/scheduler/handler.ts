/**
 * The scheduler function: every minute (an EventBridge Scheduler schedule), moves the jobs of the
 * scheduled and retry sets that are due within the lookahead onto their queues, each with the SQS
 * delay that makes it visible at its due time, so a job starts within about a second of its `at`.
 *
 * The same handler is the sweep helper's: invoked with a {@link HelperEvent} (by a sweep, through
 * Lambda's Invoke), it sweeps the share of a backlog the event names, and nothing else.
 */
import type { Context } from 'aws-lambda';
import { instrument, sqsClientOf } from '../aws/clients.js';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { ConfigurationError } from '../errors/base.js';
import { MAX_SQS_DELAY_SECONDS } from '../retry/policy.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import { createLogger, type LogSink } from '../observability/logger.js';
import type { AnyMiddleware } from '../middleware/chain.js';
import { metricsOf } from '../observability/emf.js';
import { SWEEP_COUNTS, SWEEP_DEFAULTS, SWEPT_SETS, sweep, type HelperRequest, type ShardRange, type SweepDeps, type SweepHelpers, type SweepOptions, type SweepResult } from './sweep.js';
import { SORTED_SETS } from '../storage/keys.js';

export { SWEEP_DEFAULTS, SWEPT_SETS, sweep, type HelperRequest, type ShardRange, type SweepDeps, type SweepHelpers, type SweepOptions, type SweepResult } from './sweep.js';
export { moveDue, moveEntries, type DueMoverDeps, type DueTable, type MoveOptions, type MoveOutcome, type MoverDeps, type MoverTable, type PlacerDeps } from './move.js';
export { SCHEDULER_ERRTYPES, delaySecondsUntil, planMove, type MoveContext, type MovePlan } from './plan.js';

/** Defaults of the scheduler function. */
export const SCHEDULER_DEFAULTS = {
  /** DynamoDB requests in flight per sweep. */
  concurrency: 16,
  /** Most helpers one sweep invokes at once. */
  maxHelpers: 7,
} as const;

/** The event a sweep invokes its helper with. */
export interface HelperEvent {
  readonly hopperSweep: HelperRequest;
}

/** Options of {@link createSchedulerHandler}. */
export interface SchedulerHandlerOptions extends Partial<Pick<SweepOptions, 'lookaheadSeconds' | 'batchSize' | 'lanes' | 'deadlineMarginMs' | 'maxEntries'>> {
  /** @default process.env */
  readonly env?: Env;
  /** @default - an SQS client for `env` */
  readonly sqs?: SqsBatchSender;
  /** @default - the state table named by HOPPER_STATE_TABLE */
  readonly stateTable?: SweepDeps['table'];
  /** The clock. @default - the real clock plus HOPPER_CLOCK_OFFSET_MS */
  readonly now?: () => Date;
  /** DynamoDB requests in flight. @default 16 */
  readonly concurrency?: number;
  /** Where log lines go. @default console.log */
  readonly log?: LogSink;
  /** The team's middleware: its client chain runs on each job moved (via `scheduler`), `onDead` after a burial. */
  readonly middleware?: AnyMiddleware;
  /**
   * Runs a helper on a share of a backlog.
   * @default - Lambda's Invoke of the function `HOPPER_SWEEP_HELPER` names; none when it is unset
   */
  readonly helper?: (request: HelperRequest) => Promise<SweepResult>;
  /** @default 7 */
  readonly maxHelpers?: number;
}

/** The scheduler's Lambda handler; the event (the schedule's input) is not used. */
export type SchedulerHandler = (event?: unknown, context?: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>) => Promise<SweepResult>;

/**
 * Creates the scheduler function's handler. Reads `HOPPER_QUEUE_URLS`, `HOPPER_STATE_TABLE`,
 * `HOPPER_DEAD_TTL_DAYS` and `HOPPER_CLOCK_OFFSET_MS` at once, so a misconfigured function fails
 * at start. The function must run one invocation at a time (the construct reserves a concurrency
 * of 1 for it): a sweep sends and deletes without claiming, so two at once could send an entry twice.
 *
 * @example
 * export const handler = createSchedulerHandler();
 */
export function createSchedulerHandler(options: SchedulerHandlerOptions = {}): SchedulerHandler {
  const lookahead = options.lookaheadSeconds ?? SWEEP_DEFAULTS.lookaheadSeconds;
  if (!Number.isInteger(lookahead) || lookahead < 60 || lookahead > MAX_SQS_DELAY_SECONDS) {
    // Less than a minute misses jobs between sweeps; more than SQS's longest delay cannot be sent.
    throw new ConfigurationError(`lookaheadSeconds must be an integer from 60 to ${MAX_SQS_DELAY_SECONDS}, but ${lookahead} was provided`);
  }
  const config = HopperConfig.of(options.env);
  const queueUrls = config.queueUrls();
  const { deadTtlDays } = config;
  if (options.stateTable === undefined) void config.stateTable;
  const clock = options.now ?? config.clock;
  const sqs = options.sqs ?? sqsClientOf(config);
  const logger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now: clock });
  const metrics = metricsOf(config, options.log);
  let table: Promise<SweepDeps['table']> | undefined = options.stateTable === undefined ? undefined : Promise.resolve(options.stateTable);
  const stateTable = (): Promise<SweepDeps['table']> => {
    table ??= import('../storage/state-table.js').then((storage) => storage.stateTableOf(config));
    table.catch(() => { table = undefined; });
    return table;
  };

  const helperName = config.sweepHelper;
  const helper = options.helper ?? (helperName === undefined ? undefined : invokeHelper(config, helperName));
  const helpers: SweepHelpers | undefined = helper === undefined ? undefined : { max: options.maxHelpers ?? SCHEDULER_DEFAULTS.maxHelpers, invoke: helper };

  return async (event, context) => {
    const requestId = context?.awsRequestId;
    const share = helperRequestOf(event);
    const remainingTimeMs = context === undefined ? undefined : () => {
      const ms = context.getRemainingTimeInMillis();
      return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
    };
    const counted = metrics.batch();
    const deps: SweepDeps = { table: await stateTable(), sqs, queueUrls, queueTiers: config.queueTiers, deadTtlDays, clock, logger, concurrency: options.concurrency ?? SCHEDULER_DEFAULTS.concurrency, metrics: counted,
      ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
    };
    const untilDeadline = share === undefined ? undefined : () => share.deadlineMs - clock().getTime();
    const left = remainingTimeMs === undefined ? untilDeadline : untilDeadline === undefined ? remainingTimeMs : () => Math.min(remainingTimeMs(), untilDeadline());
    const result = await sweep(deps, {
      ...(left === undefined ? {} : { remainingTimeMs: left }),
      ...(share === undefined ? (helpers === undefined ? {} : { helpers }) : { shards: share.shards, untilMs: share.untilMs }),
      lookaheadSeconds: lookahead,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.lanes === undefined ? {} : { lanes: options.lanes }),
      ...(options.deadlineMarginMs === undefined ? {} : { deadlineMarginMs: options.deadlineMarginMs }),
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    });
    counted.flush(clock().getTime());
    const level = result.failed > 0 || result.lingering > 0 || result.unread > 0 ? 'warn' : 'info';
    logger[level](share === undefined ? 'sweep done' : 'sweep helper done', { ...(requestId === undefined ? {} : { request_id: requestId }), ...result, lookahead_s: lookahead, ...(share === undefined ? {} : { shards: share.shards.length }) });
    return result;
  };
}

/**
 * The share of a backlog `event` asks this invocation to sweep, or undefined for a schedule's tick.
 * A malformed share is refused whole, naming the field: sweeping a guess could send jobs twice.
 */
export function helperRequestOf(event: unknown): HelperRequest | undefined {
  if (typeof event !== 'object' || event === null || !('hopperSweep' in event)) return undefined;
  const request: unknown = event.hopperSweep;
  const fail = (what: string): never => { throw new ConfigurationError(`a sweep helper's event needs ${what}`); };
  if (typeof request !== 'object' || request === null) return fail('hopperSweep to be an object');
  const { shards, untilMs, deadlineMs } = request as Record<string, unknown>;
  if (typeof untilMs !== 'number' || !Number.isInteger(untilMs)) return fail('hopperSweep.untilMs to be an integer (epoch ms)');
  if (typeof deadlineMs !== 'number' || !Number.isInteger(deadlineMs)) return fail('hopperSweep.deadlineMs to be an integer (epoch ms)');
  if (!Array.isArray(shards) || shards.length === 0) return fail('hopperSweep.shards to be a non-empty array');
  const ranges = shards.map((range: unknown, index): ShardRange => {
    const { set, shard, after } = (typeof range === 'object' && range !== null ? range : {}) as Record<string, unknown>;
    if (typeof set !== 'string' || !(SWEPT_SETS as readonly string[]).includes(set)) return fail(`hopperSweep.shards[${index}].set to be one of ${SWEPT_SETS.join(', ')}`);
    const swept = set as (typeof SWEPT_SETS)[number];
    if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= SORTED_SETS[swept].shards) return fail(`hopperSweep.shards[${index}].shard to be an integer from 0 to ${SORTED_SETS[swept].shards - 1}`);
    if (after !== undefined && typeof after !== 'string') return fail(`hopperSweep.shards[${index}].after to be a string when given`);
    return { set: swept, shard, ...(after === undefined ? {} : { after }) };
  });
  return { shards: ranges, untilMs, deadlineMs };
}

/** Runs a helper through Lambda's Invoke (synchronous, one attempt: a retry could sweep a share twice at once). */
function invokeHelper(config: HopperConfig, functionName: string): (request: HelperRequest) => Promise<SweepResult> {
  let client: Promise<{ send: (request: HelperRequest) => Promise<SweepResult> }> | undefined;
  const load = () => {
    client ??= import('@aws-sdk/client-lambda').then(({ InvokeCommand, LambdaClient }) => {
      const lambda = instrument(new LambdaClient({ ...config.clientConfig('lambda'), maxAttempts: 1 }));
      return {
        send: async (request: HelperRequest) => {
          const event: HelperEvent = { hopperSweep: request };
          const output = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(event)) }));
          const text = output.Payload === undefined ? '' : new TextDecoder().decode(output.Payload);
          if (output.FunctionError !== undefined) throw new Error(`the sweep helper ${functionName} failed (${output.FunctionError}): ${text.slice(0, 500)}`);
          return sweepResultOf(text, functionName);
        },
      };
    });
    client.catch(() => { client = undefined; });
    return client;
  };
  return async (request) => (await load()).send(request);
}

function sweepResultOf(text: string, functionName: string): SweepResult {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error(`the sweep helper ${functionName} answered ${text.slice(0, 200)}, not a sweep's counts`);
  const fields = value as Record<string, unknown>;
  const counts = Object.fromEntries(SWEEP_COUNTS.map((key) => {
    const count = fields[key];
    if (typeof count !== 'number') throw new Error(`the sweep helper ${functionName} answered without a number in ${key}: ${text.slice(0, 200)}`);
    return [key, count];
  })) as Record<(typeof SWEEP_COUNTS)[number], number>;
  return { ...counts, stopped: fields.stopped === true };
}
