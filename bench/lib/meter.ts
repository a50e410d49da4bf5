/**
 * Counts AWS requests as SDK middleware (`registerAwsClientMiddleware`, lib/aws/clients.ts), in the shape
 * of {@link Counts}. Used inside function processes (the counting preload) and in the bench process
 * (the producer, and the local runtime's own SQS client, whose receives and deletes stand in for
 * Lambda's event source mappings).
 */
import type { AwsClientMiddleware } from '../../lib/aws/clients.js';
import { field } from './field.js';
import { billedSqsRequests, emptyCounts, type Counts, type DynamoCount, type SqsCount } from './counts.js';

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
/** Operations that take `ReturnConsumedCapacity`. */
const CAPACITY_OPERATIONS = new Set([...READ_OPERATIONS, 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** A meter: its counts and the middleware that fills them. */
export interface Meter {
  readonly counts: Counts;
  readonly middleware: AwsClientMiddleware;
  /** Counts one Lambda invocation of `functionName`. */
  recordInvocation(functionName: string, memoryMb: number, durationMs: number, records: number): void;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function byteLength(value: unknown): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : value instanceof Uint8Array ? value.byteLength : 0;
}

/** Bytes SQS counts for one message: its body and its attributes (names, types and values). */
export function sqsMessageBytes(message: unknown): number {
  const body = byteLength(field(message, 'MessageBody') ?? field(message, 'Body'));
  const attributes = field(message, 'MessageAttributes');
  let attributeBytes = 0;
  if (typeof attributes === 'object' && attributes !== null) {
    for (const [name, attribute] of Object.entries(attributes)) {
      attributeBytes += byteLength(name) + byteLength(field(attribute, 'DataType')) + byteLength(field(attribute, 'StringValue')) + byteLength(field(attribute, 'BinaryValue'));
    }
  }
  return body + attributeBytes;
}

/** Messages and payload bytes of one SQS request/response pair. */
function sqsTraffic(operation: string, input: unknown, output: unknown): { messages: number; bytes: number } {
  switch (operation) {
    case 'SendMessage':
      return { messages: 1, bytes: sqsMessageBytes(input) };
    case 'SendMessageBatch': {
      const entries = list(field(input, 'Entries'));
      return { messages: entries.length, bytes: entries.reduce((sum: number, entry) => sum + sqsMessageBytes(entry), 0) };
    }
    case 'ReceiveMessage': {
      const messages = list(field(output, 'Messages'));
      return { messages: messages.length, bytes: messages.reduce((sum: number, message) => sum + sqsMessageBytes(message), 0) };
    }
    case 'DeleteMessageBatch':
    case 'ChangeMessageVisibilityBatch':
      return { messages: list(field(input, 'Entries')).length, bytes: 0 };
    case 'DeleteMessage':
    case 'ChangeMessageVisibility':
      return { messages: 1, bytes: 0 };
    default:
      return { messages: 0, bytes: 0 };
  }
}

/** Capacity units a DynamoDB response reports (`ConsumedCapacity`, one object or a list). */
export function reportedUnits(output: unknown): number | undefined {
  const consumed = field(output, 'ConsumedCapacity');
  if (consumed === undefined) return undefined;
  const entries = Array.isArray(consumed) ? consumed : [consumed];
  return entries.reduce((sum: number, entry) => sum + Number(field(entry, 'CapacityUnits') ?? 0), 0);
}

/** Units a failed request is taken to cost: 1 per item written (2 in a transaction), ½ per read. */
export function estimatedUnits(operation: string, input: unknown): number {
  if (READ_OPERATIONS.has(operation)) return 0.5;
  if (operation === 'TransactWriteItems') return 2 * list(field(input, 'TransactItems')).length;
  if (operation === 'BatchWriteItem') {
    const requests = field(input, 'RequestItems');
    return typeof requests === 'object' && requests !== null ? Object.values(requests).reduce((sum: number, items) => sum + list(items).length, 0) : 1;
  }
  return 1;
}

function serviceOf(clientName: unknown): 'sqs' | 'dynamodb' | undefined {
  if (clientName === 'SQSClient') return 'sqs';
  if (clientName === 'DynamoDBClient') return 'dynamodb';
  return undefined;
}

/** A fresh meter with empty counts. */
export function createMeter(name = 'hopper-bench-meter'): Meter {
  const counts = emptyCounts();
  const sqsEntry = (operation: string): SqsCount => (counts.sqs[operation] ??= { requests: 0, billed: 0, messages: 0, empty: 0 });
  const dynamoEntry = (operation: string): DynamoCount => (counts.dynamodb[operation] ??= { requests: 0, readUnits: 0, writeUnits: 0, estimatedUnits: 0 });
  const middleware: AwsClientMiddleware = {
    name,
    step: 'initialize',
    middleware: (next, context) => async (args) => {
      const service = serviceOf(context.clientName);
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      const input = field(args, 'input');
      if (service === 'sqs') {
        const result = await next(args);
        const traffic = sqsTraffic(operation, input, field(result, 'output'));
        const entry = sqsEntry(operation);
        entry.requests += 1;
        entry.billed += billedSqsRequests(traffic.bytes);
        entry.messages += traffic.messages;
        if (operation === 'ReceiveMessage' && traffic.messages === 0) entry.empty += 1;
        return result;
      }
      if (service === 'dynamodb' && CAPACITY_OPERATIONS.has(operation)) {
        const entry = dynamoEntry(operation);
        const isRead = READ_OPERATIONS.has(operation);
        entry.requests += 1;
        try {
          const result = await next({ ...(typeof args === 'object' ? args : {}), input: { ...(typeof input === 'object' ? input : {}), ReturnConsumedCapacity: 'TOTAL' } });
          const units = reportedUnits(field(result, 'output')) ?? estimatedUnits(operation, input);
          if (isRead) entry.readUnits += units;
          else entry.writeUnits += units;
          return result;
        } catch (error) {
          const units = estimatedUnits(operation, input);
          entry.estimatedUnits += units;
          if (isRead) entry.readUnits += units;
          else entry.writeUnits += units;
          throw error;
        }
      }
      return next(args);
    },
  };
  return {
    counts,
    middleware,
    recordInvocation(functionName, memoryMb, durationMs, records) {
      const entry = (counts.lambda[functionName] ??= { invocations: 0, billedMs: 0, memoryMb, records: 0 });
      entry.invocations += 1;
      entry.billedMs += Math.max(1, Math.ceil(durationMs));
      entry.records += records;
    },
  };
}
