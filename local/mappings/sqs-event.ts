/**
 * Builds Lambda's SQS event from received messages, record for record as Lambda does
 * (`messageId`, `receiptHandle`, `body`, system `attributes`, `messageAttributes` with base64
 * binary values, `md5OfBody`, `eventSource`, `eventSourceARN`, `awsRegion`).
 */
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttribute, SQSRecord } from 'aws-lambda';
import { LOCAL_IDENTITY } from '../emulators.js';

function base64(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('base64');
}

function messageAttribute(value: MessageAttributeValue): SQSMessageAttribute {
  const binary = base64(value.BinaryValue);
  return {
    ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
    ...(binary === undefined ? {} : { binaryValue: binary }),
    stringListValues: value.StringListValues ?? [],
    binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
    dataType: value.DataType ?? 'String',
  };
}

/** One record of the SQS event for a received message. */
export function sqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: Record<string, SQSMessageAttribute> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) messageAttributes[name] = messageAttribute(value);
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? LOCAL_IDENTITY.accountId,
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.MessageGroupId === undefined ? {} : { MessageGroupId: attributes.MessageGroupId }),
      ...(attributes.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: attributes.MessageDeduplicationId }),
      ...(attributes.SequenceNumber === undefined ? {} : { SequenceNumber: attributes.SequenceNumber }),
      ...(attributes.AWSTraceHeader === undefined ? {} : { AWSTraceHeader: attributes.AWSTraceHeader }),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes === undefined ? {} : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_IDENTITY.region,
  };
}

/** The record as filter patterns see it: a JSON body is matched as parsed JSON. */
export function filterView(record: SQSRecord): unknown {
  try {
    return { ...record, body: JSON.parse(record.body) };
  } catch {
    return record;
  }
}

/**
 * The message ids a ReportBatchItemFailures response marks as failed, or `'all'` when the
 * response is malformed (Lambda then treats the whole batch as failed).
 */
export function failedItems(response: unknown, batchIds: ReadonlySet<string>): ReadonlySet<string> | 'all' {
  if (response === null || response === undefined) return new Set();
  if (typeof response !== 'object' || Array.isArray(response)) return 'all';
  const failures: unknown = Reflect.get(response, 'batchItemFailures');
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const ids = new Set<string>();
  for (const failure of failures) {
    const id: unknown = typeof failure === 'object' && failure !== null ? Reflect.get(failure, 'itemIdentifier') : undefined;
    if (typeof id !== 'string' || !batchIds.has(id)) return 'all';
    ids.add(id);
  }
  return ids;
}
