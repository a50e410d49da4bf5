/**
 * The retry function's logic: consumes the retries queue (failure envelopes from workers, and jobs
 * redriven from job queues after their worker crashed or timed out) and moves each job to its next
 * place: back to its queue with a delay, into the retry set when the delay exceeds what SQS can
 * hold, or into the dead set.
 *
 * Every move writes the new place first and only then acknowledges the message (by leaving it out
 * of `batchItemFailures`), so a crash leaves the job in the old place or the new one, never neither.
 * Keys and jitter are derived from the failure itself, so a redelivered envelope writes the same
 * item again instead of a second one.
 */
import { jobQueueUrl } from '../aws/queues.js';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sqsClientOf } from '../aws/clients.js';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import type { StateTable } from '../storage/state-table.js';
import { statsRecorderOf, type StatsRecorder } from '../stats/recorder.js';
import { createLogger, jobLogFields, type LogSink, type Logger } from '../observability/logger.js';
import { INVALID_JOBTYPE, METRICS, metricsOf, type MetricsBatch } from '../observability/emf.js';
import { cohortOf } from '../stats/cohort.js';
import type { StateCommands } from '../aws/dynamo.js';
import { jobOf, markDead, markFirstFailures, type PlannedMove } from './bookkeeping.js';
import { stateAccess, type StateAccess } from '../storage/access.js';
import { RETRY_ERRTYPES, crashedJobOf, planRetry, type PlanContext, type RetryAction } from './plan.js';
import { START_MARKS } from '../storage/start-marks.js';
import type { NewSetEntry } from '../storage/set-items.js';
import { jobMessage, sendInBatches, type OutgoingMessage, type SqsBatchSender } from '../aws/sqs-batch.js';
import { describeStreamFailure, parseStreamFailure } from '../aws/stream-failure.js';
import { callHook, deadJobOf, hasClientChain, runClientChain, type AnyMiddleware, type EnqueueVia } from '../middleware/chain.js';
import { describeError } from '../job/model.js';
import { REDRIVE_MARK } from '../admin/redrive-mark.js';
export { RETRY_DEFAULTS, RETRY_ERRTYPES, planRetry, type PlanContext, type RetryAction } from './plan.js';

/** Options of {@link createRetryHandler}. */
export interface RetryHandlerOptions {
  /** @default process.env */
  readonly env?: Env;
  /** @default - an SQS client for `env` */
  readonly sqs?: SqsBatchSender;
  /** @default - the state table named by HOPPER_STATE_TABLE, loaded on first use */
  readonly stateTable?: Pick<StateTable, 'putSetEntry'>;
  /** DynamoDB client for batch marks and unique locks. @default - a client for `env`, loaded when first needed */
  readonly dynamo?: StateCommands;
  /** The clock. @default - the real clock plus HOPPER_CLOCK_OFFSET_MS */
  readonly now?: () => Date;
  /** Where log lines go. @default console.log */
  readonly log?: LogSink;
  /** Where failure counts go. @default - rollups in the state table when HOPPER_STATS is `on` */
  readonly stats?: StatsRecorder;
  /**
   * The team's middleware (lib/middleware): its client chain runs on each job sent back to its
   * queue (via `retry`, or `redrive` for a record the admin redrive moved), `onRetry` and `onDead`
   * after each move.
   */
  readonly middleware?: AnyMiddleware;
}

/**
 * Creates the retry function's SQS handler. Reads `HOPPER_QUEUE_URLS`, `HOPPER_STATE_TABLE`,
 * `HOPPER_DEAD_TTL_DAYS` (default 180), `HOPPER_DEFAULT_RETRY` (default 25) and
 * `HOPPER_QUEUE_MAX_RECEIVES` (optional) at once, so a misconfigured function fails at start. The
 * DynamoDB SDK is loaded only when a batch has something for the retry or dead set.
 *
 * A record whose move fails (an SQS or DynamoDB error) is reported in `batchItemFailures`, so SQS
 * delivers it again; the others are acknowledged.
 */
export function createRetryHandler(options: RetryHandlerOptions = {}): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const config = HopperConfig.of(options.env);
  const queueUrls = config.queueUrls();
  const { queueTiers } = config;
  const { deadTtlDays, defaultRetry, queueMaxReceives: maxReceives } = config;
  if (options.stateTable === undefined) void config.stateTable;
  const sqs = options.sqs ?? sqsClientOf(config);
  const now = options.now ?? config.clock;
  const logger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now });
  const state = stateAccess(config, options.dynamo, now);
  const stats = options.stats ?? statsRecorderOf(config);
  const metrics = metricsOf(config, options.log);
  const { middleware } = options;
  let table: Promise<Pick<StateTable, 'putSetEntry'>> | undefined = options.stateTable === undefined ? undefined : Promise.resolve(options.stateTable);
  const stateTable = (): Promise<Pick<StateTable, 'putSetEntry'>> => {
    table ??= import('../storage/state-table.js').then((storage) => storage.stateTableOf(config));
    // Forget a failed load so that the next batch tries again.
    table.catch(() => { table = undefined; });
    return table;
  };

  return async (event) => {
    const context = { now: now(), queueUrls, queueTiers, deadTtlDays, defaultRetry, maxReceives };
    const failed = new Set<string>();
    const toSend: OutgoingMessage[] = [];
    const toStore: { record: SQSRecord; set: 'retry' | 'dead'; entry: NewSetEntry }[] = [];
    const planned: (PlannedMove & { record: SQSRecord })[] = [];
    const { uncharged, unknown } = await unchargedRedrives(state, event.Records, context, logger);
    for (const key of unknown) failed.add(key);
    for (const record of event.Records) {
      if (failed.has(record.messageId)) continue;
      const streamFailure = parseStreamFailure(record.body);
      if (streamFailure !== undefined) {
        // Not a job: the batch function's OnFailure record, redriven from the retries DLQ they
        // share. Handed back, so that SQS returns it to the DLQ (after the retries queue's
        // maxReceiveCount), where it stays for the operator instead of entering the dead set.
        logger.error('batch-stream failure record on the retries queue: not a job; handed back to the retries DLQ', {
          message_id: record.messageId,
          stream_records: describeStreamFailure(streamFailure),
          function_arn: streamFailure.functionArn,
        });
        failed.add(record.messageId);
        continue;
      }
      const back = uncharged.get(record.messageId);
      if (back !== undefined) {
        logger.info('redriven job never reached a handler (throttled or not started); sent back without charging a retry', jobLogFields(back.job));
        planned.push({ record, key: record.messageId, action: back });
        continue;
      }
      try {
        planned.push({ record, key: record.messageId, action: planRetry(record, context) });
      } catch (error) {
        logger.error('could not plan the retry; record handed back', { message_id: record.messageId, error });
        failed.add(record.messageId);
      }
    }
    // A first failure is marked in its batch before the retry is sent, so a failed mark never
    // leaves a retry already on its way (the record comes back and is moved then).
    for (const key of await markFirstFailures(state, planned, logger)) failed.add(key);
    for (const [index, move] of planned.entries()) {
      const { record } = move;
      if (failed.has(record.messageId)) continue;
      let { action } = move;
      if (action.kind === 'enqueue' && hasClientChain(middleware)) {
        try {
          action = { ...action, job: await runClientChain(middleware, action.job, viaOf(record), logger.child(jobLogFields(action.job))) };
          planned[index] = { ...move, action };
        } catch (error) {
          logger.error('client middleware refused the retry; record handed back', { message_id: record.messageId, error: describeError(error).message });
          failed.add(record.messageId);
          continue;
        }
      }
      logAction(logger, record, action);
      if (action.kind === 'enqueue') {
        toSend.push(jobMessage(record.messageId, action.queueUrl, action.job, { delaySeconds: action.delaySeconds }));
      } else {
        toStore.push({ record, set: action.kind === 'dead' ? 'dead' : 'retry', entry: action.entry });
      }
    }

    const [unsent, unstored] = await Promise.all([
      toSend.length === 0 ? [] : sendInBatches(sqs, toSend),
      storeAll(stateTable, toStore),
    ]);
    for (const failure of [...unsent, ...unstored]) {
      logger.error('could not move the job; record handed back', { message_id: failure.key, reason: failure.reason });
      failed.add(failure.key);
    }
    const buried = planned.filter((move) => move.action.kind === 'dead' && !failed.has(move.key));
    for (const key of await markDead(state, buried, logger)) failed.add(key);
    const batchItemFailures: SQSBatchItemFailure[] = event.Records
      .filter((record) => failed.has(record.messageId))
      .map((record) => ({ itemIdentifier: record.messageId }));
    // Every record moved is one failure; handed-back ones are counted when they are moved, and
    // a job sent back uncharged is no failure.
    const moved = planned.filter((move) => !failed.has(move.key) && !uncharged.has(move.key));
    const atMs = context.now.getTime();
    stats.record({ writer: { kind: 'retry' }, processed: moved.length, failed: moved.length, atMs });
    observeMoves(moved, metrics.batch(), stats, atMs);
    stats.countJobs(event.Records.length);
    if (middleware?.hooks !== undefined) await callRetryHooks(middleware, moved, uncharged, logger);
    await stats.flush(now().getTime(), logger);
    return { batchItemFailures };
  };
}

/** The path a record's job is enqueued by: `redrive` when the admin redrive marked it. */
function viaOf(record: SQSRecord): EnqueueVia {
  return record.messageAttributes[REDRIVE_MARK.attribute]?.stringValue === REDRIVE_MARK.value ? 'redrive' : 'retry';
}

/** `onRetry` for each job moved to its next attempt (not those sent back uncharged), `onDead` for each buried. */
async function callRetryHooks(middleware: AnyMiddleware, moved: readonly PlannedMove[], uncharged: ReadonlyMap<string, unknown>, logger: Logger): Promise<void> {
  await Promise.all(moved.map(async ({ key, action }) => {
    const job = jobOf(action);
    const lines = job === undefined ? logger : logger.child(jobLogFields(job));
    if (action.kind !== 'dead') {
      if (job !== undefined && !uncharged.has(key)) await callHook(middleware, 'onRetry', job, lines);
      return;
    }
    await callHook(middleware, 'onDead', deadJobOf(action.entry), lines);
  }));
}

/** Sending a job back to its queue as it is, now. */
type SendBack = Extract<RetryAction, { kind: 'enqueue' }>;

/**
 * The redriven jobs of `records` that no run of began (no start mark, lib/storage/start-marks.ts),
 * by record: sent back to their queue as they are, up to START_MARKS.maxUnchargedRedrives times per
 * attempt. `unknown`: records whose marks could not be read, handed back to ask again.
 */
async function unchargedRedrives(
  state: StateAccess,
  records: readonly SQSRecord[],
  context: PlanContext,
  logger: Logger,
): Promise<{ uncharged: Map<string, SendBack>; unknown: Set<string> }> {
  const uncharged = new Map<string, SendBack>();
  const unknown = new Set<string>();
  const crashed = records.flatMap((record) => {
    const job = crashedJobOf(record, context);
    const queueUrl = job === undefined ? undefined : jobQueueUrl(job, context.queueUrls, context.queueTiers, { lenient: true });
    return job === undefined || queueUrl === undefined ? [] : [{ key: record.messageId, job, queueUrl }];
  });
  await Promise.all(crashed.map(async ({ key, job, queueUrl }) => {
    try {
      const marks = await state.startMarks();
      if (await marks.began(job)) return;
      const count = await marks.countUncharged(job);
      if (count <= START_MARKS.maxUnchargedRedrives) uncharged.set(key, { kind: 'enqueue', job, queueUrl, delaySeconds: 0 });
      else logger.warn('redriven job never reached a handler, too often; charged as a crash', { ...jobLogFields(job), uncharged_redrives: count - 1 });
    } catch (error) {
      logger.error('could not read the start mark of a redriven job; record handed back', { ...jobLogFields(job), error });
      unknown.add(key);
    }
  }));
  return { uncharged, unknown };
}

async function storeAll(
  stateTable: () => Promise<Pick<StateTable, 'putSetEntry'>>,
  items: readonly { record: SQSRecord; set: 'retry' | 'dead'; entry: NewSetEntry }[],
): Promise<{ key: string; reason: string }[]> {
  if (items.length === 0) return [];
  let table: Pick<StateTable, 'putSetEntry'>;
  try {
    table = await stateTable();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return items.map(({ record }) => ({ key: record.messageId, reason }));
  }
  const results = await Promise.allSettled(items.map(({ set, entry }) => table.putSetEntry(set, entry)));
  return results.flatMap((result, index) => {
    const record = items[index]?.record;
    if (result.status === 'fulfilled' || record === undefined) return [];
    const error: unknown = result.reason;
    return [{ key: record.messageId, reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }];
  });
}

/**
 * Metrics (`Retried`, `Dead`, `Crashed`, per queue and jobtype) and cohort events (a failed
 * attempt, a death) of the moves made. A dead body that is not a job counts under its queue, if
 * known, as jobtype `Invalid`, and in no cohort.
 */
function observeMoves(moves: readonly PlannedMove[], metrics: MetricsBatch, stats: StatsRecorder, atMs: number): void {
  for (const { action } of moves) {
    const job = jobOf(action);
    const queue = job?.queue ?? (action.kind === 'dead' && !('job' in action.entry) ? action.entry.queue : undefined) ?? 'unknown';
    const jobtype = job?.jobtype ?? INVALID_JOBTYPE;
    metrics.count(queue, jobtype, action.kind === 'dead' ? METRICS.dead : METRICS.retried);
    if (job?.failure?.errtype === RETRY_ERRTYPES.crashed) metrics.count(queue, jobtype, METRICS.crashed);
    const cohort = job === undefined ? undefined : cohortOf(job);
    if (cohort === undefined) continue;
    stats.recordCohort(cohort, { kind: 'failed' }, atMs);
    if (action.kind === 'dead') stats.recordCohort(cohort, { kind: 'dead' }, atMs);
  }
  metrics.flush(atMs);
}

function logAction(logger: Logger, record: SQSRecord, action: RetryAction): void {
  const job = jobOf(action);
  const fields = job === undefined
    ? { message_id: record.messageId }
    : { ...jobLogFields(job), retry_count: job.failure?.retry_count, errtype: job.failure?.errtype, error: job.failure?.message, backtrace: job.failure?.backtrace };
  if (action.kind === 'enqueue') logger.info('retry enqueued', { ...fields, delay_s: action.delaySeconds });
  else if (action.kind === 'retry-set') logger.info('retry kept in the retry set', { ...fields, at: new Date(action.entry.epochMs).toISOString() });
  else logger.warn('job moved to the dead set', { ...fields, reason: action.entry.reason?.message });
}
