/**
 * `createWorker`: wraps a team's job handlers into an SQS Lambda handler with partial batch
 * responses. Success costs nothing beyond SQS's own delete; failures cost one SendMessageBatch per
 * ten failed records (to the retries queue).
 */
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { dynamoClientOf, sqsClientOf } from '../aws/clients.js';
import { environmentWithDocument } from '../config/document.js';
import { HopperConfig } from '../config/hopper-config.js';
import { ConfigurationError } from '../errors/base.js';
import { deadlineMarginMs } from '../common/deadline.js';
import { limiterStoreOf } from '../limiters/dynamo/store.js';
import { cachedOverrides, DynamoTenantOverrides } from '../limiters/tenant-overrides.js';
import type { FlowGateScope } from './flow-gate.js';
import { limiterFactory } from '../limiters/limiter.js';
import type { LimiterStore } from '../limiters/store.js';
import { statsRecorderOf, type StatsRecorder } from '../stats/recorder.js';
import { BUSY } from '../stats/busy.js';
import { metricsOf, type Metrics } from '../observability/emf.js';
import { createLogger, jobLogFields, LOG_LEVELS, logLevelFrom, type Logger } from '../observability/logger.js';
import { callHook, checkMiddleware, serverOrder, type AnyMiddleware } from '../middleware/chain.js';
import { observeOutcomes } from './observe.js';
import { runPool } from './pool.js';
import { queueResolver, type QueueResolver } from '../aws/queues.js';
import { processRecord, type RecordOutcome } from './record.js';
import { Reservations } from './reservation.js';
import { sendInBatches, type OutgoingMessage } from '../aws/sqs-batch.js';
import { toHandler } from './jobs.js';
import type { JobHandler, WorkerOptions, WorkerSqs } from './types.js';
import { workerFeatures, type Success, type WorkerFeatures } from './features.js';
import type { QueueConcurrency } from '../config/queue-concurrency.js';
import { invocationCap } from './queue-cap.js';

/** Defaults of {@link WorkerOptions}. */
export const WORKER_DEFAULTS = {
  concurrency: 10,
} as const;

/** An SQS Lambda handler that reports partial batch failures. */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** What a worker reads from its environment, once, on its first invocation. */
interface WorkerRuntime {
  readonly retriesQueueUrl: string;
  readonly queues: QueueResolver;
  readonly sqs: WorkerSqs;
  readonly defaultRetry: number;
  /** Queue name → visibility timeout in seconds (`HOPPER_QUEUE_VISIBILITY`). */
  readonly visibility: Readonly<Record<string, number>>;
  readonly features: WorkerFeatures;
  /** One per instance: limiter state is shared through the table, not the instance. */
  readonly limiterStore: LimiterStore;
  /** Per-tenant caps and their overrides, when a queue declares `perTenant`. */
  readonly flow?: Omit<FlowGateScope, 'limiter'>;
  readonly stats: StatsRecorder;
  /** CloudWatch metrics (EMF lines on the log sink). */
  readonly metrics: Metrics;
  /** Queue name → its cap, for the queues whose `maxConcurrency` is set (`HOPPER_QUEUE_CONCURRENCY`). */
  readonly caps: Readonly<Record<string, QueueConcurrency>>;
}

/**
 * Creates the Lambda handler of a worker.
 *
 * - Records run with bounded concurrency (`concurrency`, lowered to the queue's share when its
 *   `maxConcurrency` is set: `HOPPER_QUEUE_CONCURRENCY`); each failure is isolated to its record.
 *   A queue capped below what its event source mapping can bound (a cap of 1) has each job hold a
 *   lease of the queue's own concurrent limiter while it runs; a job that gets no slot before the
 *   invocation's deadline goes back to its queue unchanged, without using a retry.
 * - Success: acknowledged (SQS deletes it).
 * - Failure: a failure envelope goes to the retries queue, then the record is acknowledged; if the
 *   envelope cannot be sent the record is reported as a batch item failure and SQS redelivers it.
 * - Invalid body, unknown jobtype, `UnrecoverableJobError`: an envelope marked unrecoverable, which
 *   the retry function puts straight into the dead set.
 * - `custom.expires_at` in the past: dropped without running, counted in the invocation's summary.
 * - `RateLimitedError`: the job goes back to its queue after the limiter's wait; no retry is used.
 * - A batch callback job runs once even when the batch function sent it twice: its run is claimed
 *   per SQS message on the batch item (`callbackOf` in lib/batch/callbacks.ts); the other copy is
 *   acknowledged without running.
 * - Long jobs: the message stays reserved while the handler runs (`reserve_for`, a heartbeat,
 *   `ctx.extend`), see lib/worker/reservation.ts.
 * - Near the deadline: records not started, and records still running at the hard stop, are handed
 *   back (see {@link WorkerOptions.deadlineMarginMs}).
 *
 * Reads `HOPPER_RETRIES_QUEUE_URL`, `HOPPER_QUEUE_URLS`, `HOPPER_DEFAULT_RETRY` (the `retry` of
 * jobs that do not say), `HOPPER_QUEUE_VISIBILITY` and `HOPPER_CLOCK_OFFSET_MS` on its first
 * invocation, so importing a worker module never fails for want of configuration.
 *
 * @example
 * export const handler = createWorker({
 *   jobs: {
 *     SendEmail: async ([to], ctx) => { await mailer.send(String(to), { idempotencyKey: ctx.jid }); },
 *   },
 * });
 */
export function createWorker(options: WorkerOptions): SqsBatchHandler {
  const concurrency = options.concurrency ?? WORKER_DEFAULTS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigurationError(`concurrency must be an integer of at least 1, but ${concurrency} was provided`);
  }
  const fixedMargin = options.deadlineMarginMs;
  if (fixedMargin !== undefined && (!Number.isFinite(fixedMargin) || fixedMargin < 0)) {
    throw new ConfigurationError(`deadlineMarginMs must be a non-negative number, but ${fixedMargin} was provided`);
  }
  // Jobs with a schema of their arguments check them before they run.
  const middleware = options.middleware === undefined ? undefined : checkMiddleware(options.middleware);
  // Only a team's server middleware needs the chain; Hopper's steps alone run without it.
  const serverChain = (middleware?.server?.length ?? 0) > 0 ? serverOrder(middleware) : undefined;
  const jobs: Readonly<Record<string, JobHandler>> = Object.fromEntries(Object.entries(options.jobs).map(([jobtype, job]) => [jobtype, toHandler(jobtype, job)]));
  // The clock comes from the environment (HOPPER_CLOCK_OFFSET_MS), which is read on first use.
  // Read in epoch ms (most reads want a number, and a Date per read adds up per job); a Date is made
  // from it where one is wanted.
  const givenNow = options.now;
  let clockMs: () => number = givenNow === undefined ? Date.now : () => givenNow().getTime();
  const nowMs = (): number => clockMs();
  const now = (): Date => new Date(clockMs());
  const level = logLevelFrom(HopperConfig.of(options.env).logLevel, LOG_LEVELS.info);
  const baseLogger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now, level });
  let runtime: WorkerRuntime | undefined;
  const loadRuntime = async (): Promise<WorkerRuntime> => {
    if (runtime !== undefined) return runtime;
    const dynamo = options.clients?.dynamo;
    // The variables that grow with the stack may be in the configuration document: read once.
    const config = HopperConfig.of(await environmentWithDocument(options.env ?? process.env, dynamo === undefined ? {} : { dynamo }));
    if (runtime !== undefined) return runtime;
    const queueUrls = config.queueUrls();
    const sqs = options.clients?.sqs ?? sqsClientOf(config);
    const { defaultRetry } = config;
    runtime = {
      retriesQueueUrl: config.retriesQueueUrl,
      queues: queueResolver(queueUrls, config.queueTiers),
      sqs,
      defaultRetry,
      visibility: config.queueVisibility,
      features: workerFeatures({ config, sqs, queueUrls, queueTiers: config.queueTiers, defaultRetry, now, ...(dynamo === undefined ? {} : { dynamo }), ...(middleware === undefined ? {} : { middleware }) }),
      // Neither loads the DynamoDB SDK until a limiter runs or a rollup is written.
      limiterStore: options.limiterStore ?? limiterStoreOf(config),
      stats: options.stats ?? statsRecorderOf(config),
      metrics: metricsOf(config, options.log),
      caps: config.queueConcurrency,
      ...flowOf(config, options, nowMs),
    };
    if (options.now === undefined) clockMs = config.clockMs;
    if (config.middleware !== undefined && middleware === undefined) {
      baseLogger.warn('the JobSystem declares middleware, but this worker was made without it: its jobs skip the server chain, and what it sends the client chain; pass createWorker({ jobs, middleware })');
    }
    return runtime;
  };

  return async (event, context) => {
    const { retriesQueueUrl, queues, sqs, defaultRetry, visibility, features, limiterStore, stats, metrics, caps, flow } = await loadRuntime();
    const receivedAtMs = nowMs();
    const logger = baseLogger.child({ request_id: context.awsRequestId });
    const records = event.Records;
    const abort = new AbortController();
    const reservations = new Reservations(nowMs);
    // A host that cannot tell (a test harness, a local runtime) gets no deadline rather than an
    // immediate one.
    const remainingTimeMs = (): number => {
      const ms = context.getRemainingTimeInMillis();
      return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
    };
    const startRemainingMs = remainingTimeMs();
    // Scaled to the time this invocation has, so a 3 s function keeps 600 ms, not all of it.
    const margin = fixedMargin ?? deadlineMarginMs(startRemainingMs);
    // A limiter may wait only as long as the invocation can still finish its job in time.
    const limiter = limiterFactory({ store: limiterStore, maxWaitMs: () => remainingTimeMs() - margin });
    const waits = new Map<string, { ms: number; atMs: number }>();
    // A tier's wait is kept apart too: the governor reads each tier's (lib/governor).
    const tierWaits = new Map<string, Map<string, { ms: number; atMs: number }>>();
    const observeWait = (queue: string, waitedMs: number, tier?: string): void => {
      const lag = { ms: waitedMs, atMs: nowMs() };
      waits.set(queue, lag);
      if (tier !== undefined) tierWaits.set(queue, (tierWaits.get(queue) ?? new Map<string, { ms: number; atMs: number }>()).set(tier, lag));
    };
    // An event source mapping feeds one queue: its cap applies to the whole invocation.
    const firstRecord = records[0];
    const cap = invocationCap(firstRecord === undefined ? undefined : queues.nameOf(firstRecord.eventSourceARN), caps, concurrency, limiter);
    const scope = {
      jobs, queues, retriesQueueUrl, defaultRetry, nowMs, logger, remainingTimeMs, signal: abort.signal, reservations, sqs, visibility, receivedAtMs, features, limiter, observeWait,
      iteration: { store: () => features.iterations(), now: nowMs, marginMs: margin },
      busy: stats.busy,
      ...(serverChain === undefined ? {} : { serverChain }),
      ...(middleware === undefined ? {} : { middleware }),
      ...(cap.lease === undefined ? {} : { queueLease: cap.lease }),
      ...(flow === undefined ? {} : { flow }),
    };

    // Jobs that run long are reported for the Busy page while they run (lib/stats/busy.ts).
    const busyCheck = setInterval(() => void stats.reportBusy(nowMs(), logger), BUSY.checkEveryMs);
    busyCheck.unref();
    const pool = await runPool(records, {
      concurrency: cap.concurrency,
      canStart: () => remainingTimeMs() >= margin,
      hardStopMs: startRemainingMs - margin / 2,
      onHardStop: () => {
        abort.abort(new Error('the invocation is about to time out'));
        // An abandoned job stops renewing its reservation: SQS delivers it again later.
        reservations.stopAll();
      },
    }, (record) => processRecord(record, scope)).finally(() => clearInterval(busyCheck));

    const outgoing: OutgoingMessage[] = [];
    const successes: Success[] = [];
    const counts = { succeeded: 0, failed: 0, expired: 0, superseded: 0, rate_limited: 0, duplicate: 0, deferred: 0, continued: 0 };
    for (const [index, outcome] of pool.results) {
      counts[outcome.kind] += 1;
      if (hasMessage(outcome)) outgoing.push(outcome.message);
      const messageId = records[index]?.messageId;
      // An expired or superseded job will never run: its batch counts it as done, as the producer allowed.
      if ((outcome.kind === 'succeeded' || outcome.kind === 'expired' || outcome.kind === 'superseded') && messageId !== undefined) successes.push({ key: messageId, job: outcome.job });
    }
    // Batch successes are recorded before the records are acknowledged: if that fails, the record
    // goes back to SQS and the job runs again rather than its batch never completing.
    const [unsent, unsettled] = await Promise.all([
      outgoing.length === 0 ? [] : sendInBatches(sqs, outgoing),
      successes.length === 0 ? new Set<string>() : features.afterSuccess(successes, logger),
    ]);

    const handedBack = new Set(pool.handedBack.map((index) => records[index]?.messageId));
    for (const [index, outcome] of pool.results) if (outcome.kind === 'deferred') handedBack.add(records[index]?.messageId);
    for (const failure of unsent) handedBack.add(failure.key);
    for (const key of unsettled) handedBack.add(key);
    const batchItemFailures: SQSBatchItemFailure[] = records
      .filter((record) => handedBack.has(record.messageId))
      .map((record) => ({ itemIdentifier: record.messageId }));

    logSummary(logger, { received: records.length, ...counts, handed_back: pool.handedBack.length, unsent: unsent.length, unsettled: unsettled.size, hard_stop: pool.stopped }, unsent);
    const sent = retriedAsSent(pool.results, unsent);
    observeOutcomes(records, sent, { metrics: metrics.batch(), stats, queues }, { waits, tierWaits }, nowMs());
    if (middleware?.hooks !== undefined) await callWorkerHooks(middleware, sent, handedBack, records, logger);
    // Clears this instance's busy report, if one was written (nothing runs any more).
    await Promise.all([stats.flush(nowMs(), logger), stats.reportBusy(nowMs(), logger)]);
    return { batchItemFailures };
  };
}

/**
 * The per-tenant caps of the queues declaring `perTenant`, with their overrides read through a
 * per-instance cache (an override takes effect within 30 seconds); nothing when no queue does.
 */
function flowOf(config: HopperConfig, options: WorkerOptions, nowMs: () => number): { flow?: Omit<FlowGateScope, 'limiter'> } {
  const tenantCaps = config.tenantCaps;
  if (Object.keys(tenantCaps).length === 0) return {};
  const dynamo = options.clients?.dynamo;
  const store = options.tenantOverrides ?? new DynamoTenantOverrides({ tableName: config.limitsTable, client: dynamo ?? (() => dynamoClientOf(config)) });
  return { flow: { tenantCaps, overrides: cachedOverrides(store, { nowMs }) } };
}

/**
 * The hooks of the moves this invocation made: `onExpired` for each job dropped unrun, `onRetry`
 * for each retry the worker sent itself. A record handed back made no move: no hook.
 */
async function callWorkerHooks(
  middleware: AnyMiddleware, results: ReadonlyMap<number, RecordOutcome>, handedBack: ReadonlySet<string | undefined>, records: readonly SQSRecord[], logger: Logger,
): Promise<void> {
  await Promise.all([...results].map(async ([index, outcome]) => {
    if (handedBack.has(records[index]?.messageId)) return;
    if (outcome.kind === 'expired') await callHook(middleware, 'onExpired', outcome.job, logger.child(jobLogFields(outcome.job)));
    if (outcome.kind === 'failed' && outcome.retried !== undefined) await callHook(middleware, 'onRetry', outcome.retried, logger.child(jobLogFields(outcome.retried)));
  }));
}

/**
 * `results`, with a retry the worker could not send counted as a plain failure: its record goes back
 * to SQS, and the retry is counted when it is sent.
 */
function retriedAsSent(results: ReadonlyMap<number, RecordOutcome>, unsent: readonly { key: string }[]): ReadonlyMap<number, RecordOutcome> {
  if (unsent.length === 0) return results;
  const keys = new Set(unsent.map((failure) => failure.key));
  return new Map([...results].map(([index, outcome]): [number, RecordOutcome] => {
    if (outcome.kind !== 'failed' || outcome.retried === undefined || !keys.has(outcome.message.key)) return [index, outcome];
    const { retried: _unsent, ...failed } = outcome;
    return [index, failed];
  }));
}

function hasMessage(outcome: RecordOutcome): outcome is Extract<RecordOutcome, { message: OutgoingMessage }> {
  return outcome.kind === 'failed' || outcome.kind === 'rate_limited' || outcome.kind === 'continued';
}

function logSummary(logger: Logger, counts: Record<string, number | boolean>, unsent: readonly { key: string; reason: string }[]): void {
  for (const failure of unsent) {
    logger.error('could not send; record handed back to SQS', { message_id: failure.key, reason: failure.reason });
  }
  // A batch whose every job succeeded is in the EMF line already (Processed); a summary line for it
  // would only add CloudWatch Logs ingestion to every invocation (about 300 bytes per ten jobs).
  if (counts.succeeded === counts.received && counts.hard_stop === false) logger.debug('batch done', counts);
  else logger.info('batch done', counts);
}
