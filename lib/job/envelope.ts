/**
 * The failure envelope: what a worker sends to the retries queue when a job fails. The retries
 * queue also receives raw job bodies by redrive (a worker that crashed or timed out); the retry
 * function tells the two apart with {@link parseRetriesMessage}. `docs/failure.schema.json`
 * describes the envelope for workers in other languages.
 */
import { InvalidJobError } from '../errors/base.js';
import { FAILURE_CAPS, JOB_LIMITS, cap, describeError, isRecord, normalizeJob, type Job } from './model.js';

/** Largest original body kept in an envelope for a message that was not a valid job. */
export const RAW_BODY_CAP = 64 * 1024;

/** The error part of an envelope, already capped. */
export interface EnvelopeError {
  readonly errtype: string;
  readonly message: string;
  readonly backtrace: readonly string[];
}

/** A failure report for one job. */
export interface FailureEnvelope {
  /** Discriminator: a retries-queue message with this field is an envelope, not a raw job. */
  readonly hopper: 'failure';
  /** The queue the job was received from. */
  readonly queue: string;
  /** The job, when its body was a valid job. */
  readonly job?: Job;
  /** The original body (capped to {@link RAW_BODY_CAP}) when it was not a valid job. */
  readonly raw?: string;
  /**
   * The SQS message id of the original message, so that a body that was not a valid job is filed
   * in the dead set under the id its producer saw (not the id of the envelope's own message).
   */
  readonly message_id?: string;
  readonly error: EnvelopeError;
  readonly failed_at: string;
  /** True when retrying cannot help: the job goes straight to the dead set. */
  readonly unrecoverable?: boolean;
}

/** Builds the envelope for a job that threw `error`. */
export function failureEnvelope(input: {
  queue: string;
  job?: Job;
  raw?: string;
  messageId?: string;
  error: unknown;
  now: Date;
  unrecoverable?: boolean;
}): FailureEnvelope {
  return {
    hopper: 'failure',
    queue: input.queue,
    ...(input.job === undefined ? {} : { job: input.job }),
    ...(input.raw === undefined ? {} : { raw: cap(input.raw, RAW_BODY_CAP) }),
    ...(input.messageId === undefined ? {} : { message_id: input.messageId }),
    error: describeError(input.error),
    failed_at: input.now.toISOString(),
    ...(input.unrecoverable === true ? { unrecoverable: true } : {}),
  };
}

/** What the retry function makes of one message on the retries queue. */
export type RetriesMessage =
  | { readonly kind: 'failure'; readonly envelope: FailureEnvelope }
  | { readonly kind: 'crashed'; readonly job: Job }
  | { readonly kind: 'invalid'; readonly reason: string; readonly raw: string };

/** What {@link parseRetriesMessage} needs besides the body. */
export interface RetriesMessageOptions {
  readonly now: Date;
  /** The SQS message id: the jid of a job body without one. */
  readonly messageId: string;
  /** The retry count of a job body without one (`HOPPER_DEFAULT_RETRY`). @default 25 */
  readonly defaultRetry?: number;
  /**
   * The Hopper queue a redriven job came from (SQS's `DeadLetterQueueSourceArn`), for job bodies
   * that do not name their queue. @default 'default'
   */
  readonly sourceQueue?: string;
}

/**
 * Classifies a retries-queue message: a failure envelope, a job redriven after its worker
 * crashed, or something that is neither (kept with the reason, for the dead set).
 */
export function parseRetriesMessage(body: string, options: RetriesMessageOptions): RetriesMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'invalid', reason: 'body is not JSON', raw: cap(body, RAW_BODY_CAP) };
  }
  if (isRecord(parsed) && parsed.hopper === 'failure') {
    try {
      return { kind: 'failure', envelope: validateEnvelope(parsed, options) };
    } catch (error) {
      return { kind: 'invalid', reason: error instanceof Error ? error.message : 'invalid failure envelope', raw: cap(body, RAW_BODY_CAP) };
    }
  }
  try {
    return { kind: 'crashed', job: normalizeJob(parsed, { now: options.now, defaultJid: options.messageId, defaultRetry: options.defaultRetry, defaultQueue: options.sourceQueue }) };
  } catch (error) {
    return { kind: 'invalid', reason: error instanceof Error ? error.message : 'invalid job', raw: cap(body, RAW_BODY_CAP) };
  }
}

function validateEnvelope(value: Record<string, unknown>, options: RetriesMessageOptions): FailureEnvelope {
  const { queue, error, failed_at: failedAt, raw } = value;
  if (typeof queue !== 'string' || queue.length === 0) throw new InvalidJobError('envelope.queue', 'a queue name');
  if (!isRecord(error)) throw new InvalidJobError('envelope.error', 'an object with errtype and message');
  if (raw !== undefined && typeof raw !== 'string') throw new InvalidJobError('envelope.raw', 'a string');
  const messageId = value.message_id;
  if (messageId !== undefined && (typeof messageId !== 'string' || messageId.length === 0)) throw new InvalidJobError('envelope.message_id', 'a non-empty string');
  const job = value.job === undefined ? undefined : normalizeJob(value.job, { now: options.now, defaultJid: options.messageId, defaultQueue: queue, defaultRetry: options.defaultRetry });
  if (job === undefined && raw === undefined) throw new InvalidJobError('envelope.job', 'the failed job (or raw, the original body)');
  const backtrace = Array.isArray(error.backtrace) ? error.backtrace.filter((line): line is string => typeof line === 'string') : [];
  const described = describeError(Object.assign(new Error(typeof error.message === 'string' ? error.message : ''), {
    name: typeof error.errtype === 'string' ? error.errtype : 'Error',
  }));
  return {
    hopper: 'failure',
    queue,
    ...(job === undefined ? {} : { job }),
    ...(raw === undefined ? {} : { raw: cap(raw, RAW_BODY_CAP) }),
    ...(messageId === undefined ? {} : { message_id: messageId }),
    error: { errtype: described.errtype, message: described.message, backtrace: backtrace.slice(0, FAILURE_CAPS.backtraceLines) },
    failed_at: typeof failedAt === 'string' && !Number.isNaN(Date.parse(failedAt)) ? failedAt : options.now.toISOString(),
    ...(value.unrecoverable === true ? { unrecoverable: true } : {}),
  };
}

/**
 * The id to file a body that was not a valid job under: its own `jid` when it has a well-formed one
 * (a job with one bad field keeps the id its producer knows), else `fallback` (a message id).
 */
export function jidOfRawBody(raw: string, fallback: string): string {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (isRecord(parsed) && typeof parsed.jid === 'string' && parsed.jid.length <= JOB_LIMITS.jidMaxLength && JOB_LIMITS.jidPattern.test(parsed.jid)) {
      return parsed.jid;
    }
  } catch {
    // Not JSON: the fallback is all there is.
  }
  return fallback;
}
