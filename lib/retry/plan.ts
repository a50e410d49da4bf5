/**
 * Where the job of one retries-queue message goes next, decided without I/O: back to its queue with
 * a delay, into the retry set when the delay exceeds what SQS can hold, or into the dead set. Keys
 * and jitter are derived from the failure itself, so a redelivered envelope gets the same answer.
 */
import type { SQSRecord } from 'aws-lambda';
import { jobQueueUrl, queueResolver } from '../aws/queues.js';
import type { QueueTiers } from '../config/queue-tiers.js';
import { DEAD_TTL_DAYS } from '../config/env.js';
import { randomFromText } from '../common/random.js';
import { jidOfRawBody, parseRetriesMessage, type EnvelopeError } from '../job/envelope.js';
import type { Job, JobFailure } from '../job/model.js';
import type { NewSetEntry } from '../storage/set-items.js';
import { MAX_SQS_DELAY_SECONDS, nextAttempt, type NextAttempt } from './policy.js';

/** Defaults of the retry function. */
export const RETRY_DEFAULTS = {
  /** Days a dead job is kept (`HOPPER_DEAD_TTL_DAYS`). */
  deadTtlDays: DEAD_TTL_DAYS,
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
  /** The queues' priority tiers (`HOPPER_QUEUE_TIERS`): a job goes back to its tier's queue. @default - no queue has tiers */
  readonly queueTiers?: QueueTiers;
  readonly deadTtlDays: number;
  /** `retry` of a job without one (`HOPPER_DEFAULT_RETRY`). @default 25 */
  readonly defaultRetry?: number;
  /** Queue name → its `maxReceiveCount` (`HOPPER_QUEUE_MAX_RECEIVES`). @default - not known */
  readonly maxReceives?: Readonly<Record<string, number>>;
}

/**
 * Decides where the job of one retries-queue record goes. Pure: no I/O, and the same record gives
 * the same action (crashed jobs aside, whose failure time is the time they are noticed).
 */
export function planRetry(record: SQSRecord, context: PlanContext): RetryAction {
  const message = parseRecord(record, context);
  if (message.kind === 'invalid') {
    const sent = Number(record.attributes.SentTimestamp);
    return deadRaw(record, context, {
      raw: message.raw,
      epochMs: Number.isFinite(sent) && sent > 0 ? sent : context.now.getTime(),
      reason: { errtype: RETRY_ERRTYPES.invalid, message: message.reason },
    });
  }
  if (message.kind === 'crashed') {
    const text = `no result after ${deliveries(message.job.queue, context)} (the worker crashed or timed out)`;
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

/**
 * The job of a record SQS redrove from a job queue (its worker never reported a result), or
 * undefined for a failure envelope or a body that is not a job.
 */
export function crashedJobOf(record: SQSRecord, context: PlanContext): Job | undefined {
  try {
    const message = parseRecord(record, context);
    return message.kind === 'crashed' ? message.job : undefined;
  } catch {
    return undefined;
  }
}

function parseRecord(record: SQSRecord, context: PlanContext): ReturnType<typeof parseRetriesMessage> {
  const source = record.attributes.DeadLetterQueueSourceArn;
  const sourceQueue = source === undefined ? undefined : queueResolver(context.queueUrls, context.queueTiers).nameOf(source);
  return parseRetriesMessage(record.body, {
    now: context.now,
    messageId: record.messageId,
    defaultRetry: context.defaultRetry,
    ...(sourceQueue === undefined ? {} : { sourceQueue }),
  });
}

/**
 * How many times the worker got a redriven job: exactly its queue's `maxReceiveCount`, since SQS
 * redrives a message on the receive that would exceed it. The record's own
 * `ApproximateReceiveCount` cannot say: it counts receives across queues (the retries queue's
 * too, and locally the receive that triggered the redrive).
 */
function deliveries(queue: string, context: PlanContext): string {
  const count = context.maxReceives !== undefined && Object.hasOwn(context.maxReceives, queue) ? context.maxReceives[queue] : undefined;
  if (count === undefined || !Number.isInteger(count) || count < 1) return "its queue's maxReceiveCount deliveries";
  return count === 1 ? '1 delivery' : `${count} deliveries`;
}

/**
 * Where a job that failed at `failedAtMs` with `error` goes next. Seeded by the job and its retry
 * count, so the worker (a retry due within SQS's delay, lib/worker/record.ts) and the retry function
 * decide the same for the same failure.
 */
export function planFailure(job: Job, error: EnvelopeError, failedAtMs: number, unrecoverable: boolean, context: PlanContext): RetryAction {
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

  const queueUrl = jobQueueUrl(job, context.queueUrls, context.queueTiers, { lenient: true });
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
