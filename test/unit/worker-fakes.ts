/**
 * Record, event and context factories and a fake SQS for the worker and retry-function tests.
 */
import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type BatchResultErrorEntry,
  type ChangeMessageVisibilityCommandOutput,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { WorkerSqs } from '../../lib/worker/types.js';

export const ACCOUNT = '123456789012';
export const QUEUE_URLS = {
  default: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/App-JobsQueueDefault-A1B2`,
  critical: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/App-JobsQueueCritical-C3D4`,
} as const;
export const RETRIES_URL = `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/App-JobsRetries-E5F6`;

/** The environment the JobSystem construct gives a worker or the retry function. */
export const TEST_ENV = {
  HOPPER_RETRIES_QUEUE_URL: RETRIES_URL,
  HOPPER_QUEUE_URLS: JSON.stringify(QUEUE_URLS),
  HOPPER_STATE_TABLE: 'App-JobsStateTable-G7H8',
} as const;

/** The ARN of a queue given its URL. */
export function arnOf(url: string): string {
  const name = url.split('/').at(-1) ?? '';
  return `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
}

let sequence = 0;

/** An SQS record as Lambda delivers it. */
export function sqsRecord(fields: { body: string | object; messageId?: string; queueUrl?: string; attributes?: Partial<SQSRecord['attributes']> }): SQSRecord {
  sequence += 1;
  return {
    messageId: fields.messageId ?? `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    receiptHandle: `handle-${sequence}`,
    body: typeof fields.body === 'string' ? fields.body : JSON.stringify(fields.body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1795348800000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1795348800100',
      ...fields.attributes,
    },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: arnOf(fields.queueUrl ?? QUEUE_URLS.default),
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A Lambda context whose remaining time is `remainingMs()` (default: always 60 s). */
export function lambdaContext(remainingMs: () => number = () => 60_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:worker`,
    memoryLimitInMB: '1024',
    awsRequestId: 'request-1',
    logGroupName: '/aws/lambda/worker',
    logStreamName: 'stream',
    getRemainingTimeInMillis: remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** What one SendMessageBatch carried. */
export interface SentBatch {
  readonly queueUrl: string;
  readonly entries: readonly SendMessageBatchRequestEntry[];
}

/** What one ChangeMessageVisibility asked for, and when (by `clock`). */
export interface VisibilityChange {
  readonly queueUrl: string;
  readonly receiptHandle: string;
  readonly seconds: number;
  readonly atMs: number;
}

/** A fake SQS that records SendMessageBatch and ChangeMessageVisibility requests and can be told to fail. */
export class FakeSqs implements WorkerSqs {
  readonly batches: SentBatch[] = [];
  readonly visibilityChanges: VisibilityChange[] = [];
  /** Throw this from every ChangeMessageVisibility. */
  failVisibility: Error | undefined;
  /** The time recorded with each visibility change. */
  clock: () => number = () => Date.now();
  /** Throw this from every request to this queue URL. */
  readonly failQueues = new Map<string, Error>();
  /** Report the entry as failed when this returns an error entry (without Id). */
  failEntry: ((entry: SendMessageBatchRequestEntry, attempt: number) => Omit<BatchResultErrorEntry, 'Id'> | undefined) | undefined;
  private readonly attempts = new Map<string, number>();

  send(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput>;
  send(command: ChangeMessageVisibilityCommand): Promise<ChangeMessageVisibilityCommandOutput>;
  async send(command: SendMessageBatchCommand | ChangeMessageVisibilityCommand): Promise<SendMessageBatchCommandOutput | ChangeMessageVisibilityCommandOutput> {
    if (command instanceof ChangeMessageVisibilityCommand) return this.changeVisibility(command);
    return this.sendBatch(command);
  }

  private changeVisibility(command: ChangeMessageVisibilityCommand): ChangeMessageVisibilityCommandOutput {
    if (this.failVisibility !== undefined) throw this.failVisibility;
    const { QueueUrl: queueUrl = '', ReceiptHandle: receiptHandle = '', VisibilityTimeout: seconds = -1 } = command.input;
    this.visibilityChanges.push({ queueUrl, receiptHandle, seconds, atMs: this.clock() });
    return { $metadata: {} };
  }

  private async sendBatch(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput> {
    const queueUrl = command.input.QueueUrl ?? '';
    const entries = command.input.Entries ?? [];
    const error = this.failQueues.get(queueUrl);
    if (error !== undefined) throw error;
    this.batches.push({ queueUrl, entries });
    const output: SendMessageBatchCommandOutput = { $metadata: {}, Successful: [], Failed: [] };
    for (const entry of entries) {
      const body = entry.MessageBody ?? '';
      const attempt = (this.attempts.get(body) ?? 0) + 1;
      this.attempts.set(body, attempt);
      const failure = this.failEntry?.(entry, attempt);
      if (failure === undefined) output.Successful?.push({ Id: entry.Id, MessageId: `sent-${entry.Id}`, MD5OfMessageBody: 'x' });
      else output.Failed?.push({ Id: entry.Id, ...failure });
    }
    return output;
  }

  /** Every message sent to `queueUrl`, parsed, with its delay. */
  sentTo(queueUrl: string): { body: unknown; delaySeconds: number | undefined }[] {
    return this.batches
      .filter((batch) => batch.queueUrl === queueUrl)
      .flatMap((batch) => batch.entries.map((entry) => ({ body: JSON.parse(entry.MessageBody ?? 'null'), delaySeconds: entry.DelaySeconds })));
  }
}

/** A log sink that keeps the parsed lines. */
export function memoryLog(): { lines: Record<string, unknown>[]; sink: (line: string) => void } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    sink: (line) => {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) lines.push({ ...parsed });
    },
  };
}
