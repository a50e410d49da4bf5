/**
 * Drains an SQS queue through a handler with several concurrent "invocations", the way an event
 * source mapping with some concurrency does, and injects the duplicates SQS and Lambda produce:
 * - *the same message handled twice*: after an invocation, its records are handed to the handler
 *   again (a second delivery of messages already processed);
 * - *a crash after the job ran, before the ack*: the invocation runs but its messages are not
 *   deleted, so they come back after the visibility timeout.
 * Injection is decided per message on its first receive only, so a message is never crashed so
 * often that SQS redrives it.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { Random } from '../../../lib/common/random.js';
import { sqsRecord } from '../../../local/mappings/sqs-event.js';
import { fakeContext, queueArn, queueCounts, type Harness, type SqsHandler } from './harness.js';

export interface Injection {
  /** Share of messages handled a second time. */
  readonly duplicate: number;
  /** Share of messages whose invocation "crashes" after running (not deleted). */
  readonly crash: number;
  readonly random: Random;
}

/** What a drain did. */
export interface DrainStats {
  invocations: number;
  records: number;
  duplicated: number;
  crashed: number;
}

/** Adds `b` into `a`. */
export function addStats(a: DrainStats, b: DrainStats): void {
  a.invocations += b.invocations;
  a.records += b.records;
  a.duplicated += b.duplicated;
  a.crashed += b.crashed;
}

export function emptyStats(): DrainStats {
  return { invocations: 0, records: 0, duplicated: 0, crashed: 0 };
}

/**
 * Receives from `queueUrl` with `lanes` concurrent loops until the queue is empty (nothing visible,
 * in flight or delayed), handing each batch to `handler`.
 */
export async function drainQueue(harness: Harness, queueUrl: string, handler: SqsHandler, options: { lanes: number; injection?: Injection; onMessages?: (messages: readonly Message[]) => void }): Promise<DrainStats> {
  const arn = await queueArn(harness.sqs, queueUrl);
  const stats = emptyStats();
  const lane = async (): Promise<void> => {
    for (;;) {
      const output = await harness.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
      const messages = output.Messages ?? [];
      if (messages.length === 0) {
        const counts = await queueCounts(harness.sqs, queueUrl);
        if (counts.visible + counts.inFlight + counts.delayed === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      options.onMessages?.(messages);
      const firstReceive = (message: Message) => (message.Attributes?.ApproximateReceiveCount ?? '1') === '1';
      const injection = options.injection;
      const crash = injection !== undefined && messages.some(firstReceive) && injection.random() < injection.crash * messages.length;
      const duplicates = injection === undefined ? [] : messages.filter((message) => firstReceive(message) && injection.random() < injection.duplicate);
      const event: SQSEvent = { Records: messages.map((message) => sqsRecord(message, arn)) };
      stats.invocations += 1;
      stats.records += messages.length;
      let failed: Set<string>;
      try {
        const response = await handler(event, fakeContext());
        failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
      } catch {
        failed = new Set(messages.map((message) => message.MessageId ?? ''));
      }
      if (duplicates.length > 0) {
        stats.duplicated += duplicates.length;
        stats.invocations += 1;
        await handler({ Records: duplicates.map((message) => sqsRecord(message, arn)) }, fakeContext()).catch(() => undefined);
      }
      if (crash) {
        // The invocation "died" after its work: nothing is deleted, SQS delivers it all again.
        stats.crashed += messages.length;
        continue;
      }
      const done = messages.filter((message) => !failed.has(message.MessageId ?? ''));
      if (done.length > 0) {
        await harness.sqs.send(new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }));
      }
    }
  };
  await Promise.all(Array.from({ length: options.lanes }, lane));
  return stats;
}
