/**
 * Sends many SQS messages with as few requests as possible (SendMessageBatch: up to 10 entries and
 * 1 MiB per request, one queue per request) and says which ones did not make it, so that callers
 * can hand exactly those records back to SQS.
 */
import type { SendMessageBatchCommand, SendMessageBatchCommandOutput } from '@aws-sdk/client-sqs';
import { byteLength, serializeJob, type Job } from '../job/model.js';
import { messageGroupOf } from '../job/message-group.js';

/** The one SQS command Hopper's worker and retry function send; an `SQSClient` satisfies it. */
export interface SqsBatchSender {
  send(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput>;
}

/** SQS limits that shape batches. */
export const SQS_BATCH_LIMITS = {
  maxEntries: 10,
  /** Sum of the bodies of one SendMessageBatch, and the largest single message. */
  maxBytes: 1_048_576,
} as const;

/** One message to send. */
export interface OutgoingMessage {
  /** The caller's key for this message (the SQS record it answers for), echoed in failures. */
  readonly key: string;
  readonly queueUrl: string;
  readonly body: string;
  /** @default - the queue's default delay */
  readonly delaySeconds?: number;
  /** The SQS message group (a job's tenant, {@link messageGroupOf}). @default - none */
  readonly groupId?: string;
}

/**
 * The message that carries `job` (or a message about it, such as its failure envelope, as `body`)
 * to `queueUrl`: every job message Hopper sends is made here, so that each carries its tenant as
 * its message group (SQS fair queues).
 *
 * @example
 * jobMessage(record.messageId, queueUrl, job, { delaySeconds: 30 })
 */
export function jobMessage(key: string, queueUrl: string, job: Job, options: { readonly body?: string; readonly delaySeconds?: number } = {}): OutgoingMessage {
  const groupId = messageGroupOf(job);
  return {
    key,
    queueUrl,
    body: options.body ?? serializeJob(job),
    ...(options.delaySeconds === undefined ? {} : { delaySeconds: options.delaySeconds }),
    ...(groupId === undefined ? {} : { groupId }),
  };
}

/** A message that was not sent, and why. */
export interface SendFailure {
  readonly key: string;
  readonly reason: string;
}

/**
 * Sends `messages`, grouped by queue and packed into batches, all batches in parallel. Entries
 * that fail for a reason on SQS's side (not the sender's) are tried once more; the SDK already
 * retries whole requests that fail.
 *
 * @returns the messages that were not sent (empty when all were).
 */
export async function sendInBatches(sqs: SqsBatchSender, messages: readonly OutgoingMessage[]): Promise<SendFailure[]> {
  const failures: SendFailure[] = [];
  const byQueue = new Map<string, Sized[]>();
  for (const message of messages) {
    const size = byteLength(message.body);
    if (size > SQS_BATCH_LIMITS.maxBytes) {
      failures.push({ key: message.key, reason: `message is ${size} bytes, over the SQS limit of ${SQS_BATCH_LIMITS.maxBytes}` });
      continue;
    }
    const group = byQueue.get(message.queueUrl) ?? [];
    group.push({ message, size });
    byQueue.set(message.queueUrl, group);
  }
  const batches = [...byQueue.values()].flatMap((group) => packBatches(group));
  const results = await Promise.all(batches.map((batch) => sendWithOneRetry(sqs, batch)));
  return failures.concat(results.flat());
}

interface Sized {
  readonly message: OutgoingMessage;
  readonly size: number;
}

/** Splits one queue's messages into batches of at most 10 entries and 1 MiB, in order. */
function packBatches(group: readonly Sized[]): Sized[][] {
  const batches: Sized[][] = [];
  let current: Sized[] = [];
  let bytes = 0;
  for (const entry of group) {
    if (current.length === SQS_BATCH_LIMITS.maxEntries || bytes + entry.size > SQS_BATCH_LIMITS.maxBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.size;
  }
  if (current.length > 0) batches.push(current);
  return batches.filter((batch) => batch.length > 0);
}

async function sendWithOneRetry(sqs: SqsBatchSender, batch: readonly Sized[]): Promise<SendFailure[]> {
  const first = await sendBatch(sqs, batch);
  const retryable = first.filter((failure) => failure.retryable).map((failure) => failure.entry);
  if (retryable.length === 0) return first.map(toSendFailure);
  const second = await sendBatch(sqs, retryable);
  return first.filter((failure) => !failure.retryable).concat(second).map(toSendFailure);
}

interface EntryFailure {
  readonly entry: Sized;
  readonly reason: string;
  readonly retryable: boolean;
}

function toSendFailure(failure: EntryFailure): SendFailure {
  return { key: failure.entry.message.key, reason: failure.reason };
}

async function sendBatch(sqs: SqsBatchSender, batch: readonly Sized[]): Promise<EntryFailure[]> {
  const first = batch[0];
  if (first === undefined) return [];
  let output: SendMessageBatchCommandOutput;
  try {
    // Loaded on the first send: a worker whose jobs all succeed never loads the SQS SDK.
    const { SendMessageBatchCommand: Command } = await import('@aws-sdk/client-sqs');
    output = await sqs.send(new Command({
      QueueUrl: first.message.queueUrl,
      // Entry ids only need to be unique within the request; positions are.
      Entries: batch.map(({ message }, index) => ({
        Id: String(index),
        MessageBody: message.body,
        ...(message.delaySeconds === undefined ? {} : { DelaySeconds: message.delaySeconds }),
        ...(message.groupId === undefined ? {} : { MessageGroupId: message.groupId }),
      })),
    }));
  } catch (error) {
    // The SDK has already retried what it could; report every entry and let SQS redeliver.
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return batch.map((entry) => ({ entry, reason, retryable: false }));
  }
  const succeeded = new Set((output.Successful ?? []).map((entry) => entry.Id));
  const failed = new Map((output.Failed ?? []).map((entry) => [entry.Id, entry]));
  const failures: EntryFailure[] = [];
  batch.forEach((entry, index) => {
    const id = String(index);
    if (succeeded.has(id)) return;
    const failure = failed.get(id);
    failures.push({
      entry,
      reason: failure === undefined ? 'SQS did not report this entry' : `${failure.Code ?? 'Error'}: ${failure.Message ?? 'no message'}`,
      retryable: failure !== undefined && failure.SenderFault !== true,
    });
  });
  return failures;
}
