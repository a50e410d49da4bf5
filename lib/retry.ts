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
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sqsClientFromEnv } from './aws';
import { queueResolver } from './worker/queues';
import { jidOfRawBody, parseRetriesMessage, type EnvelopeError } from './envelope';
import { ENV, clockFromEnv, intFromEnv, queueUrlsFromEnv, requireEnv, type Env } from './env';
import { JOB_DEFAULTS, serializeJob, type Job, type JobFailure } from './job';
import { randomFromText } from './random';
import { MAX_SQS_DELAY_SECONDS, nextAttempt, type NextAttempt } from './retry-policy';
import type { NewSetEntry } from './storage/set-items';
import type { StateTable } from './storage/state-table';
import { statsRecorderFromEnv, type StatsRecorder } from './stats/recorder';
import { createLogger, jobLogFields, type LogSink, type Logger } from './worker/logger';
import { INVALID_JOBTYPE, METRICS, metricsFromEnv, type MetricsBatch } from './metrics/emf';
import { cohortOf } from './stats/cohort';
import type { StateCommands } from './dynamo-sdk';
import { jobOf, markDead, markFirstFailures, type PlannedMove } from './retry-bookkeeping';
import { stateAccess } from './state-access';
import { sendInBatches, type OutgoingMessage, type SqsBatchSender } from './sqs-batch';

/** Defaults of the retry function. */
export const RETRY_DEFAULTS = {
  /** Days a dead job is kept (`HOPPER_DEAD_TTL_DAYS`). */
  deadTtlDays: 180,
} as const;

/** The errtypes the retry function gives to failures it observes itself. */
export const RETRY_ERRTYPES = {
  /** A job came back by redrive: its worker never reported success or failure. */
  crashed: 'WorkerCrashed',
  /** A retries-queue message that is neither an envelope nor a job. */
  invalid: 'InvalidMessage',
  /** A job names a queue this JobSystem does not declare. */
  unknownQueue: 'UnknownQueue',
} as const;

/** What to do with one retries-queue message. */
export type RetryAction =
  | { readonly kind: 'enqueue'; readonly job: Job; readonly queueUrl: string; readonly delaySeconds: number }
  | { readonly kind: 'retry-set'; readonly entry: NewSetEntry & { readonly job: Job } }
  | { readonly kind: 'dead'; readonly entry: NewSetEntry };

/** What {@link planRetry} needs besides the record. */
export interface PlanContext {
  readonly now: Date;
  /** Queue name → URL (`HOPPER_QUEUE_URLS`). */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly deadTtlDays: number;
  /** `retry` of a job without one (`HOPPER_DEFAULT_RETRY`). @default 25 */
  readonly defaultRetry?: number;
}

/**
 * Decides where the job of one retries-queue record goes. Pure: no I/O, and the same record gives
 * the same action (crashed jobs aside, whose failure time is the time they are noticed).
 */
export function planRetry(record: SQSRecord, context: PlanContext): RetryAction {
  const source = record.attributes.DeadLetterQueueSourceArn;
  const sourceQueue = source === undefined ? undefined : queueResolver(context.queueUrls).nameOf(source);
  const message = parseRetriesMessage(record.body, {
    now: context.now,
    messageId: record.messageId,
    defaultRetry: context.defaultRetry,
    ...(sourceQueue === undefined ? {} : { sourceQueue }),
  });
  if (message.kind === 'invalid') {
    const sent = Number(record.attributes.SentTimestamp);
    return deadRaw(record, context, {
      raw: message.raw,
      epochMs: Number.isFinite(sent) && sent > 0 ? sent : context.now.getTime(),
      reason: { errtype: RETRY_ERRTYPES.invalid, message: message.reason },
    });
  }
  if (message.kind === 'crashed') {
    const receives = Number(record.attributes.ApproximateReceiveCount);
    const text = Number.isInteger(receives) && receives > 0
      ? `no result after ${receives} deliveries (the worker crashed or timed out)`
      : 'no result (the worker crashed or timed out)';
    return planFailure(message.job, { errtype: RETRY_ERRTYPES.crashed, message: text, backtrace: [] }, context.now.getTime(), false, context);
  }
  const { envelope } = message;
  const failedAtMs = Date.parse(envelope.failed_at);
  if (envelope.job === undefined) {
    const raw = envelope.raw ?? '';
    const jid = jidOfRawBody(raw, envelope.message_id ?? record.messageId);
    return deadRaw(record, context, { raw, jid, queue: envelope.queue, epochMs: failedAtMs, reason: envelope.error });
  }
  return planFailure(envelope.job, envelope.error, failedAtMs, envelope.unrecoverable === true, context);
}

function planFailure(job: Job, error: EnvelopeError, failedAtMs: number, unrecoverable: boolean, context: PlanContext): RetryAction {
  const retryCount = (job.failure?.retry_count ?? -1) + 1;
  const failedAt = new Date(failedAtMs);
  const firstEnqueuedAt = job.failure?.first_enqueued_at ?? job.enqueued_at;
  // Seeded by the failure, so a redelivered envelope gets the same delay and the same set key.
  const decision: NextAttempt = unrecoverable
    ? { action: 'dead', retryCount }
    : nextAttempt(job, { random: randomFromText(`${job.jid}#${retryCount}`), now: failedAt });
  const failure: JobFailure = {
    retry_count: decision.retryCount,
    failed_at: failedAt.toISOString(),
    ...(decision.action === 'retry' ? { next_at: decision.nextAt.toISOString() } : {}),
    message: error.message,
    errtype: error.errtype,
    ...(error.backtrace.length === 0 ? {} : { backtrace: error.backtrace }),
    // The cohort of the job (lib/stats/cohort.ts) stays that of its first attempt.
    ...(firstEnqueuedAt === undefined ? {} : { first_enqueued_at: firstEnqueuedAt }),
  };
  const failed: Job = { ...job, failure };
  const reason = { errtype: error.errtype, message: error.message };
  if (decision.action === 'dead') return { kind: 'dead', entry: { job: failed, epochMs: failedAtMs, reason, ttl: deadTtl(failedAtMs, context) } };

  const queueUrl = Object.hasOwn(context.queueUrls, job.queue) ? context.queueUrls[job.queue] : undefined;
  if (queueUrl === undefined) {
    const declared = Object.keys(context.queueUrls).join(', ');
    const message = `queue ${JSON.stringify(job.queue)} is not declared in this JobSystem (declared: ${declared || 'none'})`;
    return { kind: 'dead', entry: { job: failed, epochMs: failedAtMs, reason: { errtype: RETRY_ERRTYPES.unknownQueue, message }, ttl: deadTtl(failedAtMs, context) } };
  }
  const dueMs = decision.nextAt.getTime();
  // The delay runs from the failure; time spent getting here is already served. Rounded up so
  // that a job never runs before its due time.
  const delaySeconds = Math.max(0, Math.ceil((dueMs - context.now.getTime()) / 1000));
  if (delaySeconds <= MAX_SQS_DELAY_SECONDS) {
    return { kind: 'enqueue', job: { ...failed, enqueued_at: context.now.toISOString() }, queueUrl, delaySeconds };
  }
  return { kind: 'retry-set', entry: { job: failed, epochMs: dueMs, reason } };
}

function deadRaw(record: SQSRecord, context: PlanContext, input: { raw: string; jid?: string; queue?: string; epochMs: number; reason: { errtype: string; message: string } }): RetryAction {
  return {
    kind: 'dead',
    entry: {
      raw: input.raw,
      jid: input.jid ?? jidOfRawBody(input.raw, record.messageId),
      ...(input.queue === undefined ? {} : { queue: input.queue }),
      epochMs: input.epochMs,
      reason: { errtype: input.reason.errtype, message: input.reason.message },
      ttl: deadTtl(input.epochMs, context),
    },
  };
}

function deadTtl(epochMs: number, context: PlanContext): number {
  return Math.floor(epochMs / 1000) + context.deadTtlDays * 86_400;
}

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
}

/**
 * Creates the retry function's SQS handler. Reads `HOPPER_QUEUE_URLS`, `HOPPER_STATE_TABLE`,
 * `HOPPER_DEAD_TTL_DAYS` (default 180) and `HOPPER_DEFAULT_RETRY` (default 25) at once, so a misconfigured function fails at start. The
 * DynamoDB SDK is loaded only when a batch has something for the retry or dead set.
 *
 * A record whose move fails (an SQS or DynamoDB error) is reported in `batchItemFailures`, so SQS
 * delivers it again; the others are acknowledged.
 */
export function createRetryHandler(options: RetryHandlerOptions = {}): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const env = options.env ?? process.env;
  const queueUrls = queueUrlsFromEnv(env);
  const deadTtlDays = intFromEnv(env, ENV.deadTtlDays, RETRY_DEFAULTS.deadTtlDays);
  const defaultRetry = intFromEnv(env, ENV.defaultRetry, JOB_DEFAULTS.retry);
  if (options.stateTable === undefined) requireEnv(env, ENV.stateTable);
  const sqs = options.sqs ?? sqsClientFromEnv(env);
  const now = options.now ?? clockFromEnv(env);
  const logger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now });
  const state = stateAccess(env, options.dynamo, now);
  const stats = options.stats ?? statsRecorderFromEnv(env);
  const metrics = metricsFromEnv(env, options.log);
  let table: Promise<Pick<StateTable, 'putSetEntry'>> | undefined = options.stateTable === undefined ? undefined : Promise.resolve(options.stateTable);
  const stateTable = (): Promise<Pick<StateTable, 'putSetEntry'>> => {
    table ??= import('./storage/state-table').then((storage) => storage.stateTableFromEnv(env));
    // Forget a failed load so that the next batch tries again.
    table.catch(() => { table = undefined; });
    return table;
  };

  return async (event) => {
    const context = { now: now(), queueUrls, deadTtlDays, defaultRetry };
    const failed = new Set<string>();
    const toSend: OutgoingMessage[] = [];
    const toStore: { record: SQSRecord; set: 'retry' | 'dead'; entry: NewSetEntry }[] = [];
    const planned: (PlannedMove & { record: SQSRecord })[] = [];
    for (const record of event.Records) {
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
    for (const { record, action } of planned) {
      if (failed.has(record.messageId)) continue;
      logAction(logger, record, action);
      if (action.kind === 'enqueue') {
        toSend.push({ key: record.messageId, queueUrl: action.queueUrl, body: serializeJob(action.job), delaySeconds: action.delaySeconds });
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
    // Every record moved is one failure; handed-back ones are counted when they are moved.
    const moved = planned.filter((move) => !failed.has(move.key));
    const atMs = context.now.getTime();
    stats.record({ writer: { kind: 'retry' }, processed: moved.length, failed: moved.length, atMs });
    observeMoves(moved, metrics.batch(), stats, atMs);
    stats.countJobs(event.Records.length);
    await stats.flush(now().getTime(), logger);
    return { batchItemFailures };
  };
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
