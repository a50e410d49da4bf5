/**
 * The producer side: put jobs on their queues. A plain job costs one SQS request per batch of up
 * to ten (and never a DynamoDB write); jobs due more than 15 minutes ahead go to the scheduled set.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ENV, queueUrlsFromEnv, type Env } from './env';
import { HopperError, InvalidJobError, PayloadTooLargeError } from './errors';
import { byteLength, normalizeJob, serializeJob, type Job, type JobInput } from './job';
import { sqsClientFromEnv } from './aws';

/** SQS limits the client packs batches against. */
export const SQS_LIMITS = {
  /** Largest message body SQS accepts (1 MiB). */
  maxMessageBytes: 1_048_576,
  /** Largest total payload of one SendMessageBatch (1 MiB). */
  maxBatchBytes: 1_048_576,
  maxBatchEntries: 10,
  /** Longest DelaySeconds SQS accepts. */
  maxDelaySeconds: 900,
} as const;

/** How many times entries that SQS reported as failed (throttling, internal errors) are resent. */
const RESEND_ATTEMPTS = 3;

/**
 * Some jobs of an `enqueueMany` were not accepted by SQS after retries. Those in `enqueued` are on
 * their queues; those in `failed` are not (safe to enqueue again with the same jids).
 */
export class EnqueueError extends HopperError {
  readonly enqueued: readonly string[];
  readonly failed: readonly { readonly jid: string; readonly code: string; readonly message: string }[];

  constructor(enqueued: readonly string[], failed: EnqueueError['failed']) {
    const first = failed[0];
    super(`${failed.length} job(s) could not be enqueued${first === undefined ? '' : `; first: ${first.jid}: ${first.code} ${first.message}`}`);
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
  /** @default - a client for the environment (AWS_ENDPOINT_URL_SQS honoured) */
  readonly sqs?: SQSClient;
  /** Writer for jobs due beyond SQS's 15-minute delay. @default - the state table from HOPPER_STATE_TABLE, loaded on first use */
  readonly scheduledSet?: ScheduledSetWriter;
  /** @default process.env */
  readonly env?: Env;
  /** The clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** When to run a job: `at` a time, or `in` a duration (seconds, or a string like '90s', '15m', '3h', '2d'). */
export type ScheduleWhen = { readonly at: Date | string } | { readonly in: number | string };

/**
 * Enqueues jobs.
 *
 * @example
 * const client = new Client();
 * const jid = await client.enqueue({ jobtype: 'SendEmail', args: ['a@example.com'] });
 */
export class Client {
  private readonly queueUrls: Readonly<Record<string, string>>;
  private readonly sqs: SQSClient;
  private readonly env: Env;
  private readonly now: () => Date;
  private scheduledSet: ScheduledSetWriter | undefined;

  constructor(options: ClientOptions = {}) {
    this.env = options.env ?? process.env;
    this.queueUrls = options.queueUrls ?? queueUrlsFromEnv(this.env);
    this.sqs = options.sqs ?? sqsClientFromEnv(this.env);
    this.scheduledSet = options.scheduledSet;
    this.now = options.now ?? (() => new Date());
  }

  /** Enqueues one job and returns its jid. */
  async enqueue(input: JobInput): Promise<string> {
    const [jid] = await this.send([input], false);
    if (jid === undefined) throw new HopperError('enqueue returned no jid');
    return jid;
  }

  /**
   * Runs `input` later: `{ in: '3h' }` or `{ at: date }`.
   *
   * @example
   * await client.schedule({ jobtype: 'Remind', args: [42] }, { in: '3h' });
   */
  async schedule(input: JobInput, when: ScheduleWhen): Promise<string> {
    const at = 'at' in when ? toDate(when.at, 'at') : new Date(this.now().getTime() + parseDuration(when.in) * 1000);
    return this.enqueue({ ...input, at });
  }

  /**
   * Enqueues many jobs with as few requests as SQS allows (10 per batch, 1 MiB per batch) and
   * returns their jids in input order. Every job is validated before anything is sent.
   *
   * @throws InvalidJobError or PayloadTooLargeError before sending anything;
   *         EnqueueError when SQS refused some entries after retries.
   */
  async enqueueMany(inputs: readonly JobInput[]): Promise<string[]> {
    return this.send(inputs, true);
  }

  private async send(inputs: readonly JobInput[], many: boolean): Promise<string[]> {
    const now = this.now();
    const prepared = inputs.map((input, index) => this.prepare(input, many ? `jobs[${index}].` : '', now));

    const later = prepared.filter((entry) => entry.delaySeconds > SQS_LIMITS.maxDelaySeconds);
    const soon = prepared.filter((entry) => entry.delaySeconds <= SQS_LIMITS.maxDelaySeconds);

    const failed: { jid: string; code: string; message: string }[] = [];
    const byQueue = new Map<string, Prepared[]>();
    for (const entry of soon) {
      const list = byQueue.get(entry.queueUrl) ?? [];
      list.push(entry);
      byQueue.set(entry.queueUrl, list);
    }
    const batches = [...byQueue.entries()].flatMap(([queueUrl, entries]) => packBatches(entries).map((batch) => ({ queueUrl, batch })));
    await Promise.all(batches.map(async ({ queueUrl, batch }) => failed.push(...(await this.sendBatch(queueUrl, batch)))));

    if (later.length > 0) {
      const writer = await this.scheduledSetWriter();
      await Promise.all(later.map(async (entry) => {
        try {
          await writer.putScheduled(entry.job, entry.dueMs);
        } catch (error) {
          failed.push({ jid: entry.job.jid, code: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) });
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
  private prepare(input: JobInput, path: string, now: Date): Prepared {
    let job: Job;
    try {
      job = normalizeJob({ ...input, enqueued_at: now.toISOString() }, { now });
    } catch (error) {
      if (error instanceof InvalidJobError && path !== '') throw new InvalidJobError(`${path}${error.field}`, error.expected, error.received);
      throw error;
    }
    const queueUrl = this.queueUrls[job.queue];
    if (queueUrl === undefined) {
      throw new InvalidJobError(`${path}queue`, `one of the declared queues (${Object.keys(this.queueUrls).join(', ')})`, JSON.stringify(job.queue));
    }
    const body = serializeJob(job);
    const size = byteLength(body);
    if (size > SQS_LIMITS.maxMessageBytes) throw new PayloadTooLargeError(`job ${job.jid}`, size, SQS_LIMITS.maxMessageBytes);
    const dueMs = job.at === undefined ? now.getTime() : Date.parse(job.at);
    const delaySeconds = Math.max(0, Math.ceil((dueMs - now.getTime()) / 1000));
    return { job, body, size, queueUrl, delaySeconds, dueMs };
  }

  /** Sends one batch, resending entries SQS reports as failed; returns those that still failed. */
  private async sendBatch(queueUrl: string, batch: readonly Prepared[]): Promise<{ jid: string; code: string; message: string }[]> {
    let pending = batch;
    let lastFailures: { jid: string; code: string; message: string }[] = [];
    for (let attempt = 0; attempt < RESEND_ATTEMPTS && pending.length > 0; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      const output = await this.sqs.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: pending.map((entry, i) => ({
          Id: String(i),
          MessageBody: entry.body,
          ...(entry.delaySeconds > 0 ? { DelaySeconds: entry.delaySeconds } : {}),
        })),
      }));
      const failedIds = new Map((output.Failed ?? []).map((failure) => [failure.Id, failure]));
      lastFailures = pending.flatMap((entry, i) => {
        const failure = failedIds.get(String(i));
        return failure === undefined ? [] : [{ jid: entry.job.jid, code: failure.Code ?? 'Unknown', message: failure.Message ?? '' }];
      });
      // Sender faults (a malformed entry) will not succeed on resend; only retry the others.
      const retryable = new Set((output.Failed ?? []).filter((failure) => failure.SenderFault !== true).map((failure) => failure.Id));
      pending = pending.filter((_, i) => retryable.has(String(i)));
      if (pending.length === 0) break;
    }
    return lastFailures;
  }

  private async scheduledSetWriter(): Promise<ScheduledSetWriter> {
    if (this.scheduledSet !== undefined) return this.scheduledSet;
    if (this.env[ENV.stateTable] === undefined) {
      throw new HopperError(`jobs due more than ${SQS_LIMITS.maxDelaySeconds} s ahead go to the scheduled set, which needs ${ENV.stateTable}`);
    }
    const { stateTableFromEnv } = await import('./storage/state-table');
    this.scheduledSet = await stateTableFromEnv(this.env);
    return this.scheduledSet;
  }
}

interface Prepared {
  readonly job: Job;
  readonly body: string;
  readonly size: number;
  readonly queueUrl: string;
  readonly delaySeconds: number;
  readonly dueMs: number;
}

/** Splits entries into batches of at most 10 entries and 1 MiB, in order. */
export function packBatches<T extends { readonly size: number }>(entries: readonly T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === SQS_LIMITS.maxBatchEntries || (current.length > 0 && bytes + entry.size > SQS_LIMITS.maxBatchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Parses a duration: a number of seconds, or a string such as '90s', '15m', '3h', '2d'.
 *
 * @throws InvalidJobError naming `in` when the text is not a duration.
 */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidJobError('in', 'a non-negative number of seconds', String(value));
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match?.[1]) throw new InvalidJobError('in', "a duration such as 90, '90s', '15m', '3h' or '2d'", JSON.stringify(value));
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
