import { describe, expect, it } from 'vitest';
import { SQS_BILLED_CHUNK_BYTES } from '../../bench/lib/counts.js';
import { createMeter, sqsMessageBytes } from '../../bench/lib/meter.js';

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

  it('counts reads from the items they return, and never asks DynamoDB for its own figure', async () => {
    const meter = createMeter();
    const seen: unknown[] = [];
    const item = { pk: { S: 'batch#b1' }, sk: { S: 'batch' }, data: { S: 'x'.repeat(5_000) } };
    await through(meter, 'DynamoDBClient', 'GetItemCommand', { TableName: 't', ConsistentRead: true }, (args) => {
      seen.push(args);
      return { output: { Item: item, ConsumedCapacity: { CapacityUnits: 99 } } };
    });
    await through(meter, 'DynamoDBClient', 'QueryCommand', { TableName: 't' }, () => ({ output: { Items: [item, item] } }));

    expect(seen).toEqual([{ input: { TableName: 't', ConsistentRead: true } }]);
    // 5,023 bytes: 2 units consistent; 10,046 bytes read eventually consistent: 3 units, halved.
    expect(meter.counts.dynamodb).toEqual({
      GetItem: { requests: 1, readUnits: 2, writeUnits: 0, estimatedUnits: 0 },
      Query: { requests: 1, readUnits: 1.5, writeUnits: 0, estimatedUnits: 0 },
    });
  });

  it('bills a transaction 2 units per KB of each item, from the larger of its sizes before and after', async () => {
    const sized: string[] = [];
    const sizes = new Map([['before:batch#b1', 700], ['after:batch#b1', 1_500], ['before:batch#b1/job#j1', 0], ['after:batch#b1/job#j1', 300], ['before:unique#u', 200]]);
    let phase = 'before';
    const meter = createMeter('test', {
      itemSizes: async (table, key) => {
        const name = `${String((key.pk as { S: string }).S)}${(key.sk as { S?: string } | undefined)?.S === 'batch' ? '' : `/${String((key.sk as { S?: string } | undefined)?.S)}`}`;
        sized.push(`${table}:${phase}:${name}`);
        return sizes.get(`${phase}:${name}`) ?? 0;
      },
    });
    const transaction = {
      TransactItems: [
        { Update: { TableName: 'state', Key: { pk: { S: 'batch#b1' }, sk: { S: 'batch' } }, UpdateExpression: 'ADD pending :one' } },
        { Put: { TableName: 'state', Item: { pk: { S: 'batch#b1' }, sk: { S: 'job#j1' }, jid: { S: 'j1' } } } },
        { ConditionCheck: { TableName: 'state', Key: { pk: { S: 'unique#u' }, sk: { S: 'lock' } }, ConditionExpression: 'attribute_exists(pk)' } },
      ],
    };
    await through(meter, 'DynamoDBClient', 'TransactWriteItemsCommand', transaction, () => {
      phase = 'after';
      return { output: { ConsumedCapacity: [{ CapacityUnits: 2 }] } };
    });

    // Update: max(700, 1,500) → 2 KB → 4; Put: 300 → 1 KB → 2; ConditionCheck: 200 before → 2.
    expect(meter.counts.dynamodb.TransactWriteItems).toEqual({ requests: 1, readUnits: 0, writeUnits: 8, estimatedUnits: 0 });
    expect(sized).toEqual(['state:before:batch#b1', 'state:before:batch#b1/job#j1', 'state:before:unique#u/lock', 'state:after:batch#b1', 'state:after:batch#b1/job#j1']);
  });

  it('bills a write whose condition failed, and a cancelled transaction, for the items as they were; not a refused request', async () => {
    const meter = createMeter('test', { itemSizes: async () => 1_100 });
    const failed = (name: string) => () => { throw Object.assign(new Error(name), { name }); };
    await expect(through(meter, 'DynamoDBClient', 'PutItemCommand', { TableName: 't', Item: { pk: { S: 'a' }, sk: { S: 'b' } } }, failed('ConditionalCheckFailedException'))).rejects.toThrow('ConditionalCheckFailedException');
    await expect(through(meter, 'DynamoDBClient', 'TransactWriteItemsCommand', { TransactItems: [{ Delete: { TableName: 't', Key: {} } }, { Update: { TableName: 't', Key: {} } }] }, failed('TransactionCanceledException'))).rejects.toThrow();
    await expect(through(meter, 'DynamoDBClient', 'UpdateItemCommand', { TableName: 't', Key: {} }, failed('ValidationException'))).rejects.toThrow();

    expect(meter.counts.dynamodb).toEqual({
      PutItem: { requests: 1, readUnits: 0, writeUnits: 2, estimatedUnits: 0 },
      TransactWriteItems: { requests: 1, readUnits: 0, writeUnits: 8, estimatedUnits: 0 },
      UpdateItem: { requests: 1, readUnits: 0, writeUnits: 0, estimatedUnits: 0 },
    });
  });

  it('estimates a write from the request alone when it cannot read the items, and says so', async () => {
    const meter = createMeter();
    await through(meter, 'DynamoDBClient', 'PutItemCommand', { TableName: 't', Item: { pk: { S: 'a' }, sk: { S: 'b' }, body: { S: 'x'.repeat(2_000) } } }, () => ({ output: {} }));
    await through(meter, 'DynamoDBClient', 'TransactWriteItemsCommand', { TransactItems: [{ Update: { TableName: 't', Key: {} } }, { Update: { TableName: 't', Key: {} } }] }, () => ({ output: {} }));

    expect(meter.counts.dynamodb.PutItem).toEqual({ requests: 1, readUnits: 0, writeUnits: 2, estimatedUnits: 2 });
    expect(meter.counts.dynamodb.TransactWriteItems).toEqual({ requests: 1, readUnits: 0, writeUnits: 4, estimatedUnits: 4 });
  });

  it('adds invocations with each duration rounded up to a millisecond', () => {
    const meter = createMeter();
    meter.recordInvocation('worker', 256, 3.2, 10);
    meter.recordInvocation('worker', 256, 0.1, 4);

    expect(meter.counts.lambda.worker).toEqual({ invocations: 2, billedMs: 5, memoryMb: 256, records: 14 });
  });

  it('counts the DynamoDB waits of an invocation, requests sent side by side as one wait', async () => {
    const meter = createMeter();
    const slow = (ms: number) => () => new Promise((resolve) => setTimeout(() => resolve({ output: {} }), ms));
    const get = (ms: number) => through(meter, 'DynamoDBClient', 'GetItemCommand', { TableName: 't' }, slow(ms));
    await Promise.all([get(30), get(30), get(30)]);
    await get(20);
    await through(meter, 'SQSClient', 'SendMessageBatchCommand', { Entries: [] }, slow(20));
    meter.recordInvocation('worker', 256, 500, 10);
    meter.recordInvocation('worker', 256, 5, 10);

    const worker = meter.counts.lambda.worker;
    expect(worker?.dynamoWaits).toBe(2);
    expect(worker?.dynamoWaitMs).toBeGreaterThanOrEqual(48);
    expect(worker?.dynamoWaitMs).toBeLessThan(500);
  });
});
