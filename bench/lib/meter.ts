/**
 * Counts AWS requests as SDK middleware (`registerAwsClientMiddleware`, lib/aws/clients.ts), in the shape
 * of {@link Counts}. Used inside function processes (the counting preload) and in the bench process
 * (the producer, and the local runtime's own SQS client, whose receives and deletes stand in for
 * Lambda's event source mappings).
 */
import type { AwsClientMiddleware } from '../../lib/aws/clients.js';
import { field } from '../../lib/common/field.js';
import { billedSqsRequests, emptyCounts, type Counts, type DynamoCount, type SqsCount } from './counts.js';
import { billedReadUnits, billedWriteUnits, sizesFromRequest, writeTargets, type WriteSizes } from '../../local/dynamodb/billing.js';

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

/** A meter: its counts and the middleware that fills them. */
export interface Meter {
  readonly counts: Counts;
  readonly middleware: AwsClientMiddleware;
  /**
   * Counts one Lambda invocation of `functionName`, with the DynamoDB waits since the previous one
   * (an instance runs one invocation at a time).
   */
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

/** DynamoDB errors AWS still bills: a write whose condition failed, a cancelled transaction. */
const BILLED_FAILURES = new Set(['ConditionalCheckFailedException', 'TransactionCanceledException']);

/** Reads an item's size in bytes (0 when there is none), outside any meter. */
export type ItemSizer = (table: string, key: Readonly<Record<string, unknown>>) => Promise<number>;

function serviceOf(clientName: unknown): 'sqs' | 'dynamodb' | undefined {
  if (clientName === 'SQSClient') return 'sqs';
  if (clientName === 'DynamoDBClient') return 'dynamodb';
  return undefined;
}

/**
 * A fresh meter with empty counts. DynamoDB requests are counted as AWS bills them
 * (local/dynamodb/billing.ts): reads from the items they return; writes from the sizes `itemSizes` reads
 * before and after each (a put's item as sent, anything else under 1 KB, without it: counted as
 * `estimatedUnits` too).
 */
export function createMeter(name = 'hopper-bench-meter', options: { readonly itemSizes?: ItemSizer } = {}): Meter {
  const counts = emptyCounts();
  const sqsEntry = (operation: string): SqsCount => (counts.sqs[operation] ??= { requests: 0, billed: 0, messages: 0, empty: 0 });
  const dynamoEntry = (operation: string): DynamoCount => (counts.dynamodb[operation] ??= { requests: 0, readUnits: 0, writeUnits: 0, estimatedUnits: 0 });
  const sizer = options.itemSizes;
  // DynamoDB requests in flight, and the waits (periods with one or more in flight) since the last
  // invocation was recorded: requests sent side by side are one wait.
  let inFlight = 0;
  let waitingSince = 0;
  const waits = { ms: 0, count: 0 };
  const waitingOnDynamo = async <T>(call: () => Promise<T>): Promise<T> => {
    if (inFlight === 0) waitingSince = performance.now();
    inFlight += 1;
    try {
      return await call();
    } finally {
      inFlight -= 1;
      if (inFlight === 0) {
        waits.ms += performance.now() - waitingSince;
        waits.count += 1;
      }
    }
  };
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
      if (service !== 'dynamodb') return next(args);
      return waitingOnDynamo(async () => {
        if (READ_OPERATIONS.has(operation)) {
          const entry = dynamoEntry(operation);
          entry.requests += 1;
          const result = await next(args);
          entry.readUnits += billedReadUnits(operation, input, field(result, 'output'));
          return result;
        }
        const targets = writeTargets(operation, input);
        if (targets.length === 0) return next(args);
        const entry = dynamoEntry(operation);
        entry.requests += 1;
        const sizesOf = (which: 'before' | 'after') => sizer === undefined ? undefined
          : Promise.all(targets.map((target) => (which === 'after' && (target.action === 'delete' || target.action === 'check') ? 0 : sizer(target.table, target.key))));
        const before = await sizesOf('before');
        const count = (sizes: WriteSizes) => {
          const units = billedWriteUnits(operation, targets, sizes);
          entry.writeUnits += units;
          if (before === undefined) entry.estimatedUnits += units;
        };
        let result: unknown;
        try {
          result = await next(args);
        } catch (error) {
          if (error instanceof Error && BILLED_FAILURES.has(error.name)) count(before === undefined ? sizesFromRequest(targets, false) : { before, after: undefined });
          throw error;
        }
        const after = await sizesOf('after');
        count(before === undefined || after === undefined ? sizesFromRequest(targets, true) : { before, after });
        return result;
      });
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
      if (waits.count > 0) {
        entry.dynamoWaitMs = (entry.dynamoWaitMs ?? 0) + Math.min(waits.ms, durationMs);
        entry.dynamoWaits = (entry.dynamoWaits ?? 0) + waits.count;
      }
      waits.ms = 0;
      waits.count = 0;
    },
  };
}
