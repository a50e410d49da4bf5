import { describe, expect, it } from 'vitest';
import { SQS_BILLED_CHUNK_BYTES } from '../../bench/lib/counts.js';
import { createMeter, estimatedUnits, reportedUnits, sqsMessageBytes } from '../../bench/lib/meter.js';

/** Runs one request through the meter's middleware, answered by `answer`. */
async function through(meter: ReturnType<typeof createMeter>, clientName: string, commandName: string, input: object, answer: (args: unknown) => unknown): Promise<unknown> {
  const handler = meter.middleware.middleware(async (args) => answer(args), { clientName, commandName });
  return handler({ input });
}

describe('sqsMessageBytes', () => {
  it('counts the body and every attribute name, type and value', () => {
    expect(sqsMessageBytes({ MessageBody: 'héllo' })).toBe(6);
    expect(sqsMessageBytes({ Body: 'abc', MessageAttributes: { trace: { DataType: 'String', StringValue: 'xyz' } } })).toBe(3 + 5 + 6 + 3);
  });
});

describe('the meter', () => {
  it('bills a SendMessageBatch by 64 KB chunks of its bodies', async () => {
    const meter = createMeter();
    const big = 'x'.repeat(SQS_BILLED_CHUNK_BYTES);
    await through(meter, 'SQSClient', 'SendMessageBatchCommand', { Entries: [{ Id: '1', MessageBody: big }, { Id: '2', MessageBody: 'y' }] }, () => ({ output: {} }));
    await through(meter, 'SQSClient', 'SendMessageBatchCommand', { Entries: [{ Id: '1', MessageBody: 'small' }] }, () => ({ output: {} }));

    expect(meter.counts.sqs.SendMessageBatch).toEqual({ requests: 2, billed: 3, messages: 3, empty: 0 });
  });

  it('counts received messages and empty receives apart', async () => {
    const meter = createMeter();
    await through(meter, 'SQSClient', 'ReceiveMessageCommand', {}, () => ({ output: { Messages: [{ Body: 'a' }, { Body: 'b' }] } }));
    await through(meter, 'SQSClient', 'ReceiveMessageCommand', {}, () => ({ output: {} }));

    expect(meter.counts.sqs.ReceiveMessage).toEqual({ requests: 2, billed: 2, messages: 2, empty: 1 });
  });

  it('asks DynamoDB for consumed capacity and counts reads and writes from it', async () => {
    const meter = createMeter();
    const seen: unknown[] = [];
    await through(meter, 'DynamoDBClient', 'UpdateItemCommand', { TableName: 't' }, (args) => {
      seen.push(args);
      return { output: { ConsumedCapacity: { TableName: 't', CapacityUnits: 2 } } };
    });
    await through(meter, 'DynamoDBClient', 'QueryCommand', { TableName: 't' }, () => ({ output: { ConsumedCapacity: { CapacityUnits: 0.5 } } }));

    expect(seen).toEqual([{ input: { TableName: 't', ReturnConsumedCapacity: 'TOTAL' } }]);
    expect(meter.counts.dynamodb).toEqual({
      UpdateItem: { requests: 1, readUnits: 0, writeUnits: 2, estimatedUnits: 0 },
      Query: { requests: 1, readUnits: 0.5, writeUnits: 0, estimatedUnits: 0 },
    });
  });

  it('estimates the units of a failed write and rethrows its error', async () => {
    const meter = createMeter();
    const refused = Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
    await expect(through(meter, 'DynamoDBClient', 'TransactWriteItemsCommand', { TransactItems: [{}, {}, {}] }, () => {
      throw refused;
    })).rejects.toBe(refused);

    expect(meter.counts.dynamodb.TransactWriteItems).toEqual({ requests: 1, readUnits: 0, writeUnits: 6, estimatedUnits: 6 });
  });

  it('adds invocations with each duration rounded up to a millisecond', () => {
    const meter = createMeter();
    meter.recordInvocation('worker', 256, 3.2, 10);
    meter.recordInvocation('worker', 256, 0.1, 4);

    expect(meter.counts.lambda.worker).toEqual({ invocations: 2, billedMs: 5, memoryMb: 256, records: 14 });
  });
});

describe('consumed capacity helpers', () => {
  it('sums a transaction\'s list and reads a single entry', () => {
    expect(reportedUnits({ ConsumedCapacity: [{ CapacityUnits: 4 }, { CapacityUnits: 2 }] })).toBe(6);
    expect(reportedUnits({ ConsumedCapacity: { CapacityUnits: 1 } })).toBe(1);
    expect(reportedUnits({})).toBeUndefined();
  });

  it('estimates one unit per written item, two in a transaction, half for a read', () => {
    expect(estimatedUnits('PutItem', {})).toBe(1);
    expect(estimatedUnits('BatchWriteItem', { RequestItems: { a: [{}, {}], b: [{}] } })).toBe(3);
    expect(estimatedUnits('GetItem', {})).toBe(0.5);
  });
});
