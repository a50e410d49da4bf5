/**
 * A small harness for the core integration tests: real emulators, the queues and table the
 * construct declares, and a pump that receives from SQS and calls a handler the way an SQS event
 * source mapping does (delete what succeeded, leave batch item failures on the queue).
 */
import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '../../../lib/config/env.js';
import { STATE_TABLE } from '../../../lib/storage/keys.js';
import { LOCAL_IDENTITY, localAwsEnv, startEmulators, type Emulators } from '../../../local/emulators.js';
import { sqsRecord } from '../../../local/mappings/sqs-event.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface Harness {
  readonly emulators: Emulators;
  /** The environment a function deployed by the construct would see (emulator endpoints included). */
  readonly env: Record<string, string>;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly retriesQueueUrl: string;
  readonly stateTable: string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Queue names to declare. @default ['default', 'critical'] */
  readonly queues?: readonly string[];
  /** Visibility timeout of the job queues, seconds. @default 30 */
  readonly visibilityTimeout?: number;
  /** Deliveries before a job queue redrives to the retries queue. @default 3 */
  readonly maxReceiveCount?: number;
}

const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };

/** Starts the emulators and declares a uniquely named job system in them. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const emulators = await startEmulators();
  const { endpoints } = emulators;
  const sqs = new SQSClient({ endpoint: endpoints.sqs, region: LOCAL_IDENTITY.region, credentials, useQueueUrlAsEndpoint: false });
  const dynamo = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: LOCAL_IDENTITY.region, credentials });
  const prefix = `t${randomUUID().slice(0, 8)}`;

  const retries = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-retries`, Attributes: { VisibilityTimeout: '30' } }));
  const retriesQueueUrl = required(retries.QueueUrl, 'retries queue URL');
  const retriesArn = await queueArn(sqs, retriesQueueUrl);

  const queueUrls: Record<string, string> = {};
  for (const name of options.queues ?? ['default', 'critical']) {
    const created = await sqs.send(new CreateQueueCommand({
      QueueName: `${prefix}-${name}`,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeout ?? 30),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: retriesArn, maxReceiveCount: options.maxReceiveCount ?? 3 }),
      },
    }));
    queueUrls[name] = required(created.QueueUrl, `queue URL of ${name}`);
  }

  const stateTable = `${prefix}-state`;
  await dynamo.send(new CreateTableCommand({
    TableName: stateTable,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: STATE_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: STATE_TABLE.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: STATE_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: STATE_TABLE.sortKey, KeyType: 'RANGE' },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  }));
  await dynamo.send(new UpdateTimeToLiveCommand({ TableName: stateTable, TimeToLiveSpecification: { AttributeName: STATE_TABLE.ttlAttribute, Enabled: true } }));

  const env = {
    ...localAwsEnv(endpoints),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    [ENV.stateTable]: stateTable,
    [ENV.retriesQueueUrl]: retriesQueueUrl,
    [ENV.queueUrls]: JSON.stringify(queueUrls),
  };
  return {
    emulators,
    env,
    sqs,
    dynamo,
    queueUrls,
    retriesQueueUrl,
    stateTable,
    async stop() {
      sqs.destroy();
      dynamo.destroy();
      await emulators.stop();
    },
  };
}

/** The ARN of a queue. */
export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return required(attributes.Attributes?.QueueArn, `ARN of ${queueUrl}`);
}

/** Visible, in-flight and delayed message counts of a queue. */
export async function queueCounts(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const attributes = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  }));
  const count = (name: QueueAttributeName) => Number(attributes.Attributes?.[name] ?? '0');
  return {
    visible: count('ApproximateNumberOfMessages'),
    inFlight: count('ApproximateNumberOfMessagesNotVisible'),
    delayed: count('ApproximateNumberOfMessagesDelayed'),
  };
}

export interface PumpResult {
  /** Messages handed to the handler. */
  readonly received: readonly Message[];
  /** Message ids the handler reported as batch item failures (left on the queue). */
  readonly failed: readonly string[];
}

/**
 * Receives one batch (up to `batchSize`) from `queueUrl`, calls `handler` with an SQS event built
 * as Lambda builds it, and deletes every record not reported as a batch item failure.
 * A handler that throws leaves the whole batch on the queue, as Lambda does.
 */
export async function pumpOnce(
  harness: Harness,
  queueUrl: string,
  handler: SqsHandler,
  options: { batchSize?: number; waitSeconds?: number; remainingTimeMs?: () => number } = {},
): Promise<PumpResult> {
  const output = await harness.sqs.send(new ReceiveMessageCommand({
    QueueUrl: queueUrl,
    MaxNumberOfMessages: options.batchSize ?? 10,
    WaitTimeSeconds: options.waitSeconds ?? 1,
    MessageSystemAttributeNames: ['All'],
    MessageAttributeNames: ['All'],
  }));
  const messages = output.Messages ?? [];
  if (messages.length === 0) return { received: [], failed: [] };
  const arn = await queueArn(harness.sqs, queueUrl);
  const event: SQSEvent = { Records: messages.map((message) => sqsRecord(message, arn)) };
  let failed: string[];
  try {
    const response = await handler(event, fakeContext(options.remainingTimeMs ?? (() => 60_000)));
    failed = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
  } catch {
    return { received: messages, failed: messages.map((message) => message.MessageId ?? '') };
  }
  const done = messages.filter((message) => !failed.includes(message.MessageId ?? ''));
  if (done.length > 0) {
    await harness.sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: done.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
    }));
  }
  return { received: messages, failed };
}

/** Pumps until a receive comes back empty (or `maxRounds`), returning everything handled. */
export async function pumpUntilEmpty(harness: Harness, queueUrl: string, handler: SqsHandler, maxRounds = 50): Promise<PumpResult> {
  const received: Message[] = [];
  const failed: string[] = [];
  for (let round = 0; round < maxRounds; round += 1) {
    const result = await pumpOnce(harness, queueUrl, handler);
    if (result.received.length === 0) break;
    received.push(...result.received);
    failed.push(...result.failed);
  }
  return { received, failed };
}

/** A Lambda context whose remaining time the test controls. */
export function fakeContext(remainingTimeMs: () => number = () => 60_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test-function',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_IDENTITY.region}:${LOCAL_IDENTITY.accountId}:function:test-function`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/test-function',
    logStreamName: 'test',
    getRemainingTimeInMillis: remainingTimeMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}

/**
 * Pumps until `done()` says so or `timeoutMs` passes (long polls of `waitSeconds`), returning
 * everything handled. For jobs that become visible later (SQS delays).
 */
export async function pumpUntil(
  harness: Harness,
  queueUrl: string,
  handler: SqsHandler,
  options: { done: () => boolean; timeoutMs: number; waitSeconds?: number },
): Promise<PumpResult> {
  const received: Message[] = [];
  const failed: string[] = [];
  const deadline = Date.now() + options.timeoutMs;
  while (!options.done() && Date.now() < deadline) {
    const result = await pumpOnce(harness, queueUrl, handler, { waitSeconds: options.waitSeconds ?? 1 });
    received.push(...result.received);
    failed.push(...result.failed);
  }
  return { received, failed };
}

/** A message as the emulator holds it, whatever its state. */
export interface HeldMessage {
  readonly state: 'ready' | 'delayed' | 'inflight';
  readonly messageId: string;
  readonly body: string;
  readonly sentTimestamp: number;
  /** When a delayed message becomes visible (epoch ms). */
  readonly delayUntil?: number;
}

/** Every message of a queue (ready, delayed or in flight) without receiving any. */
export function heldMessages(harness: Harness, queueUrl: string): HeldMessage[] {
  const name = queueUrl.split('/').at(-1) ?? '';
  const state = harness.emulators.sqs.inspectQueue(name);
  if (state === undefined) throw new Error(`no queue ${name}`);
  const held = (kind: HeldMessage['state']) => (message: { messageId: string; body: string; sentTimestamp: number; delayUntil?: number }): HeldMessage => ({
    state: kind, messageId: message.messageId, body: message.body, sentTimestamp: message.sentTimestamp,
    ...(message.delayUntil === undefined ? {} : { delayUntil: message.delayUntil }),
  });
  return [
    ...state.messages.ready.map(held('ready')),
    ...state.messages.delayed.map(held('delayed')),
    ...state.messages.inflight.map((entry) => held('inflight')(entry.message)),
  ];
}
