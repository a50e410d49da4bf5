/**
 * The scheduler function: every minute (an EventBridge Scheduler schedule), moves the jobs of the
 * scheduled and retry sets that are due within the lookahead onto their queues, each with the SQS
 * delay that makes it visible at its due time, so a job starts within about a second of its `at`.
 */
import type { Context } from 'aws-lambda';
import { sqsClientOf } from '../aws/clients.js';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { ConfigurationError } from '../errors/base.js';
import { MAX_SQS_DELAY_SECONDS } from '../retry/policy.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import { createLogger, type LogSink } from '../observability/logger.js';
import type { AnyMiddleware } from '../middleware/chain.js';
import { metricsOf } from '../observability/emf.js';
import { SWEEP_DEFAULTS, sweep, type SweepDeps, type SweepOptions, type SweepResult } from './sweep.js';

export { SWEEP_DEFAULTS, SWEPT_SETS, sweep, type SweepDeps, type SweepOptions, type SweepResult } from './sweep.js';
export { moveDue, moveEntries, type DueMoverDeps, type DueTable, type MoveOptions, type MoveOutcome, type MoverDeps, type MoverTable, type PlacerDeps } from './move.js';
export { SCHEDULER_ERRTYPES, delaySecondsUntil, planMove, type MoveContext, type MovePlan } from './plan.js';

/** Defaults of the scheduler function. */
export const SCHEDULER_DEFAULTS = {
  /** DynamoDB requests in flight per sweep. */
  concurrency: 16,
} as const;

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

  return async (_event, context) => {
    const requestId = context?.awsRequestId;
    const remainingTimeMs = context === undefined ? undefined : () => {
      const ms = context.getRemainingTimeInMillis();
      return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
    };
    const counted = metrics.batch();
    const deps: SweepDeps = { table: await stateTable(), sqs, queueUrls, deadTtlDays, clock, logger, concurrency: options.concurrency ?? SCHEDULER_DEFAULTS.concurrency, metrics: counted,
      ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
    };
    const result = await sweep(deps, {
      ...(remainingTimeMs === undefined ? {} : { remainingTimeMs }),
      lookaheadSeconds: lookahead,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.lanes === undefined ? {} : { lanes: options.lanes }),
      ...(options.deadlineMarginMs === undefined ? {} : { deadlineMarginMs: options.deadlineMarginMs }),
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    });
    counted.flush(clock().getTime());
    const level = result.failed > 0 || result.lingering > 0 || result.unread > 0 ? 'warn' : 'info';
    logger[level]('sweep done', { ...(requestId === undefined ? {} : { request_id: requestId }), ...result, lookahead_s: lookahead });
    return result;
  };
}
