/**
 * Redrive: moves messages from a dead-letter queue back to the queue it serves, for the retries
 * queue's DLQ (messages the retry function failed on five times or more, during an outage of DynamoDB or
 * SQS). SQS's own StartMessageMoveTask does the same in AWS; this works wherever SQS's basic calls
 * do (emulators included) and reports per message.
 *
 * Each message is received (hidden for {@link REDRIVE_DEFAULTS.visibilitySeconds}), sent to the
 * target with its body and message attributes, and deleted from the DLQ only once the send
 * succeeded. A crash between the send and the delete leaves the message in the DLQ, to be moved
 * again: a duplicate at worst (the retry function is idempotent per failure), never a loss.
 *
 * The DLQ also receives the batch function's stream failure records (lib/aws/stream-failure.ts):
 * they hold no job, so they are not moved but left in the DLQ for the operator, and reported.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type DeleteMessageBatchCommandOutput,
  type Message,
  type ReceiveMessageCommandOutput,
  type SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs';
import { REDRIVE_MARK } from './redrive-mark.js';
import { messageGroupOfBody } from '../job/message-group.js';
import { describeStreamFailure, parseStreamFailure } from '../aws/stream-failure.js';

/** The SQS calls a redrive makes; an `SQSClient` satisfies it. */
export interface RedriveSqs {
  send(command: ReceiveMessageCommand): Promise<ReceiveMessageCommandOutput>;
  send(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput>;
  send(command: DeleteMessageBatchCommand): Promise<DeleteMessageBatchCommandOutput>;
}

/** Defaults and bounds of a redrive call. */
export const REDRIVE_DEFAULTS = {
  /** Messages one call moves at most. */
  limit: 100,
  maxLimit: 1000,
  /** How long a received message stays hidden in the DLQ while it is moved. */
  visibilitySeconds: 60,
} as const;

/** What to move. */
export interface RedriveOptions {
  /** The dead-letter queue's URL. */
  readonly from: string;
  /** The queue the messages go back to. */
  readonly to: string;
  /** @default REDRIVE_DEFAULTS.limit */
  readonly limit?: number;
}

/** What one redrive call did. */
export interface RedriveResult {
  /** Messages sent to the target and deleted from the DLQ. */
  readonly moved: number;
  /** Messages sent but not deleted (they are moved again by a later call: possibly twice). */
  readonly lingering: number;
  /** Messages not sent: they stay in the DLQ and come back after the visibility timeout. */
  readonly failed: readonly { readonly messageId: string; readonly reason: string }[];
  /** Stream failure records left in the DLQ on purpose (visible again after the visibility timeout). */
  readonly kept: readonly { readonly messageId: string; readonly reason: string }[];
  /** True when the last receive found the DLQ empty. */
  readonly empty: boolean;
}

/** Moves up to `limit` messages; see the module comment. */
export async function redrive(sqs: RedriveSqs, options: RedriveOptions): Promise<RedriveResult> {
  const limit = options.limit ?? REDRIVE_DEFAULTS.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > REDRIVE_DEFAULTS.maxLimit) {
    throw new RangeError(`limit must be an integer from 1 to ${REDRIVE_DEFAULTS.maxLimit}, but ${limit} was provided`);
  }
  let moved = 0;
  let lingering = 0;
  const failed: { messageId: string; reason: string }[] = [];
  const kept: { messageId: string; reason: string }[] = [];
  let empty = false;
  const handled = () => moved + lingering + failed.length + kept.length;
  while (handled() < limit) {
    const want = Math.min(10, limit - handled());
    const received = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: options.from,
      MaxNumberOfMessages: want,
      VisibilityTimeout: REDRIVE_DEFAULTS.visibilitySeconds,
      WaitTimeSeconds: 0,
      MessageAttributeNames: ['All'],
    }));
    const all = (received.Messages ?? []).filter((message): message is Message & { MessageId: string; ReceiptHandle: string } => message.MessageId !== undefined && message.ReceiptHandle !== undefined);
    if (all.length === 0) {
      empty = true;
      break;
    }
    const messages = all.filter((message) => {
      const streamFailure = parseStreamFailure(message.Body ?? '');
      if (streamFailure === undefined) return true;
      kept.push({ messageId: message.MessageId, reason: `a batch-stream failure record (${describeStreamFailure(streamFailure)}), not a job: left in the DLQ` });
      return false;
    });
    if (messages.length === 0) continue;
    const sent = await sendBack(sqs, options.to, messages);
    for (const message of messages) {
      const reason = sent.get(message.MessageId);
      if (reason !== undefined) failed.push({ messageId: message.MessageId, reason });
    }
    const toDelete = messages.filter((message) => !sent.has(message.MessageId));
    const deleted = toDelete.length === 0 ? 0 : await deleteFrom(sqs, options.from, toDelete);
    moved += deleted;
    lingering += toDelete.length - deleted;
  }
  return { moved, lingering, failed, kept, empty };
}

/** Sends `messages` to `queueUrl`; returns message id → reason for those not sent. */
async function sendBack(sqs: RedriveSqs, queueUrl: string, messages: readonly (Message & { MessageId: string })[]): Promise<Map<string, string>> {
  const unsent = new Map<string, string>();
  try {
    const output = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message, index) => {
        const groupId = messageGroupOfBody(message.Body ?? '');
        return {
          Id: String(index),
          MessageBody: message.Body ?? '',
          MessageAttributes: markedRedriven(message.MessageAttributes),
          ...(groupId === undefined ? {} : { MessageGroupId: groupId }),
        };
      }),
    }));
    for (const failure of output.Failed ?? []) {
      const message = messages[Number(failure.Id)];
      if (message !== undefined) unsent.set(message.MessageId, `${failure.Code ?? 'Failed'}: ${failure.Message ?? ''}`);
    }
  } catch (error) {
    for (const message of messages) unsent.set(message.MessageId, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
  return unsent;
}

/**
 * The attributes of a message moved back, with the redrive mark: the retry function's enqueue then
 * says `redrive` to the team's middleware. A message with SQS's 10 attributes already goes unmarked.
 */
function markedRedriven(attributes: Message['MessageAttributes']): Message['MessageAttributes'] {
  const given = attributes ?? {};
  if (Object.keys(given).length >= SQS_MAX_ATTRIBUTES && !Object.hasOwn(given, REDRIVE_MARK.attribute)) return given;
  return { ...given, [REDRIVE_MARK.attribute]: { DataType: 'String', StringValue: REDRIVE_MARK.value } };
}

/** Message attributes SQS allows per message. */
const SQS_MAX_ATTRIBUTES = 10;

/** Deletes `messages` from `queueUrl`; returns how many were deleted. */
async function deleteFrom(sqs: RedriveSqs, queueUrl: string, messages: readonly (Message & { ReceiptHandle: string })[]): Promise<number> {
  try {
    const output = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
    }));
    return output.Successful?.length ?? 0;
  } catch {
    return 0;
  }
}
