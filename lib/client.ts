/**
 * The producer side: put jobs on their queues. A plain job costs one SQS request per batch of up
 * to ten (and never a DynamoDB write); jobs due more than 15 minutes ahead go to the scheduled set.
 */
import { intFromEnv, queueUrlsFromEnv, ENV, type Env } from './env';
import { HopperError, InvalidJobError, PayloadTooLargeError } from './errors';
import { JOB_DEFAULTS, byteLength, normalizeJob, serializeJob, type Job, type JobInput } from './job';
import { MAX_SQS_DELAY_SECONDS } from './retry-policy';
import { SQS_BATCH_LIMITS, sendInBatches, type OutgoingMessage, type SqsBatchSender } from './sqs-batch';
import { sqsClientFromEnv } from './aws';

/**
 * Some jobs of an `enqueueMany` were not accepted by SQS after retries. Those in `enqueued` are on
 * their queues; those in `failed` are not (safe to enqueue again with the same jids).
 */
export class EnqueueError extends HopperError {
  readonly enqueued: readonly string[];
  readonly failed: readonly { readonly jid: string; readonly reason: string }[];

  constructor(enqueued: readonly string[], failed: EnqueueError['failed']) {
    const first = failed[0];
    super(`${failed.length} job(s) could not be enqueued${first === undefined ? '' : `; first: ${first.jid}: ${first.reason}`}`);
    this.enqueued = enqueued;
    this.failed = failed;
  }
}

/** Where scheduled jobs (due more than 15 minutes ahead) are kept. */
export interface ScheduledSetWriter {
  /** Stores `job` in the scheduled set, due at `dueMs`. */
  putScheduled(job: Job, dueMs: number): Promise<void>;
}

export interface ClientOptions {
  /** Queue name → queue URL. @default - read from HOPPER_QUEUE_URLS */
  readonly queueUrls?: Readonly<Record<string, string>>;
  /** Anything that sends SendMessageBatch (an `SQSClient`). @default - a client for the environment (AWS_ENDPOINT_URL_SQS honoured) */
  readonly sqs?: SqsBatchSender;
  /** Writer for jobs due beyond SQS's 15-minute delay. @default - the state table from HOPPER_STATE_TABLE, loaded on first use */
  readonly scheduledSet?: ScheduledSetWriter;
  /** @default process.env */
  readonly env?: Env;
  /** The clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** When to run a job: `at` a time, or `in` a duration (seconds, or a string like '90s', '15m', '3h', '2d'). */
export type ScheduleWhen = { readonly at: Date | string } | { readonly in: number | string };

/** Options of one enqueue (or of every job of an `enqueueMany`). */
export interface EnqueueOptions {
  /**
   * Drop the job instead of running it when a worker gets it more than this long after it was due
   * (its `at`, or the time of the enqueue): seconds, or a string like '90s', '5m', '2h'. Sets
   * `custom.expires_at`; a job that already has one must not also use this option.
   * @default - the job never expires
   */
  readonly expiresIn?: number | string;
}

/**
 * Enqueues jobs.
 *
 * @example
 * const client = new Client();
 * const jid = await client.enqueue({ jobtype: 'SendEmail', args: ['a@example.com'] });
 */
export class Client {
  private readonly queueUrls: Readonly<Record<string, string>>;
  private readonly sqs: SqsBatchSender;
  private readonly env: Env;
  private readonly now: () => Date;
  /** The JobSystem's default retry count (HOPPER_DEFAULT_RETRY), for jobs that do not say. */
  private readonly defaultRetry: number;
  private scheduledSet: ScheduledSetWriter | undefined;

  constructor(options: ClientOptions = {}) {
    this.env = options.env ?? process.env;
    this.queueUrls = options.queueUrls ?? queueUrlsFromEnv(this.env);
    this.sqs = options.sqs ?? sqsClientFromEnv(this.env);
    this.scheduledSet = options.scheduledSet;
    this.now = options.now ?? (() => new Date());
    this.defaultRetry = intFromEnv(this.env, ENV.defaultRetry, JOB_DEFAULTS.retry);
  }

  /**
   * Enqueues one job and returns its jid.
   *
   * @example
   * await client.enqueue({ jobtype: 'RefreshQuote', args: ['EURUSD'] }, { expiresIn: '30s' });
   */
  async enqueue(input: JobInput, options: EnqueueOptions = {}): Promise<string> {
    const [jid] = await this.send([input], false, options);
    if (jid === undefined) throw new HopperError('enqueue returned no jid');
    return jid;
  }

  /**
   * Runs `input` later: `{ in: '3h' }` or `{ at: date }`.
   *
   * @example
   * await client.schedule({ jobtype: 'Remind', args: [42] }, { in: '3h' });
   */
  async schedule(input: JobInput, when: ScheduleWhen, options: EnqueueOptions = {}): Promise<string> {
    const at = 'at' in when ? toDate(when.at, 'at') : new Date(this.now().getTime() + parseDuration(when.in) * 1000);
    return this.enqueue({ ...input, at }, options);
  }

  /**
   * Enqueues many jobs with as few requests as SQS allows (10 per batch, 1 MiB per batch; entries
   * SQS fails on its side are sent once more) and
   * returns their jids in input order. Every job is validated before anything is sent.
   *
   * @throws InvalidJobError or PayloadTooLargeError before sending anything;
   *         EnqueueError when SQS refused some entries after retries.
   */
  async enqueueMany(inputs: readonly JobInput[], options: EnqueueOptions = {}): Promise<string[]> {
    return this.send(inputs, true, options);
  }

  private async send(inputs: readonly JobInput[], many: boolean, options: EnqueueOptions): Promise<string[]> {
    const now = this.now();
    const expiresInSeconds = options.expiresIn === undefined ? undefined : parseDuration(options.expiresIn, 'expiresIn');
    const prepared = inputs.map((input, index) => this.prepare(input, many ? `jobs[${index}].` : '', now, expiresInSeconds));

    const later = prepared.filter((entry) => entry.delaySeconds > MAX_SQS_DELAY_SECONDS);
    const soon: OutgoingMessage[] = prepared
      .filter((entry) => entry.delaySeconds <= MAX_SQS_DELAY_SECONDS)
      .map((entry) => ({ key: entry.job.jid, queueUrl: entry.queueUrl, body: entry.body, ...(entry.delaySeconds > 0 ? { delaySeconds: entry.delaySeconds } : {}) }));

    const failed: { jid: string; reason: string }[] = [];
    if (soon.length > 0) failed.push(...(await sendInBatches(this.sqs, soon)).map((failure) => ({ jid: failure.key, reason: failure.reason })));

    if (later.length > 0) {
      const writer = await this.scheduledSetWriter();
      await Promise.all(later.map(async (entry) => {
        try {
          await writer.putScheduled(entry.job, entry.dueMs);
        } catch (error) {
          failed.push({ jid: entry.job.jid, reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        }
      }));
    }

    const jids = prepared.map((entry) => entry.job.jid);
    if (failed.length > 0) {
      const failedJids = new Set(failed.map((entry) => entry.jid));
      throw new EnqueueError(jids.filter((jid) => !failedJids.has(jid)), failed);
    }
    return jids;
  }

  /** Validates one input; `path` prefixes field names in errors (`jobs[3].`). */
  private prepare(input: JobInput, path: string, now: Date, expiresInSeconds: number | undefined): Prepared {
    let job: Job;
    try {
      job = normalizeJob({ ...input, enqueued_at: now.toISOString() }, { now, defaultRetry: this.defaultRetry });
    } catch (error) {
      if (error instanceof InvalidJobError && path !== '') throw new InvalidJobError(`${path}${error.field}`, error.expected, error.received);
      throw error;
    }
    if (expiresInSeconds !== undefined) {
      if (job.custom?.expires_at !== undefined) {
        throw new InvalidJobError(`${path}custom.expires_at`, 'absent when the expiresIn option is given', JSON.stringify(job.custom.expires_at));
      }
      // Counted from when the job is due: a job scheduled for tomorrow expires tomorrow, not today.
      const dueMs = job.at === undefined ? now.getTime() : Date.parse(job.at);
      job = { ...job, custom: { ...job.custom, expires_at: new Date(dueMs + expiresInSeconds * 1000).toISOString() } };
    }
    const queueUrl = this.queueUrls[job.queue];
    if (queueUrl === undefined) {
      throw new InvalidJobError(`${path}queue`, `one of the declared queues (${Object.keys(this.queueUrls).join(', ')})`, JSON.stringify(job.queue));
    }
    const body = serializeJob(job);
    const size = byteLength(body);
    if (size > SQS_BATCH_LIMITS.maxBytes) throw new PayloadTooLargeError(`job ${job.jid}`, size, SQS_BATCH_LIMITS.maxBytes);
    const dueMs = job.at === undefined ? now.getTime() : Date.parse(job.at);
    const delaySeconds = Math.max(0, Math.ceil((dueMs - now.getTime()) / 1000));
    return { job, body, queueUrl, delaySeconds, dueMs };
  }

  private async scheduledSetWriter(): Promise<ScheduledSetWriter> {
    if (this.scheduledSet !== undefined) return this.scheduledSet;
    if (this.env[ENV.stateTable] === undefined) {
      throw new HopperError(`jobs due more than ${MAX_SQS_DELAY_SECONDS} s ahead go to the scheduled set, which needs ${ENV.stateTable}`);
    }
    const { stateTableFromEnv } = await import('./storage/state-table');
    this.scheduledSet = await stateTableFromEnv(this.env);
    return this.scheduledSet;
  }
}

interface Prepared {
  readonly job: Job;
  readonly body: string;
  readonly queueUrl: string;
  readonly delaySeconds: number;
  readonly dueMs: number;
}

/**
 * Parses a duration: a number of seconds, or a string such as '90s', '15m', '3h', '2d'.
 *
 * @param field the option being parsed, named in errors. @default 'in'
 * @throws InvalidJobError naming `field` when the text is not a duration.
 */
export function parseDuration(value: number | string, field = 'in'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidJobError(field, 'a non-negative number of seconds', String(value));
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match?.[1]) throw new InvalidJobError(field, "a duration such as 90, '90s', '15m', '3h' or '2d'", JSON.stringify(value));
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  const seconds = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[unit] ?? 1;
  return amount * seconds;
}

function toDate(value: Date | string, field: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidJobError(field, 'a Date or an ISO-8601 date-time string', JSON.stringify(value));
  return date;
}
