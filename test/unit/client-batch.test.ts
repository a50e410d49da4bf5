import { DeleteItemCommand, PutItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { Client, EnqueueError, NotUniqueError } from '../../lib/client/client.js';
import { registrationsOf } from '../../lib/batch/plan.js';
import { FakeSqs, QUEUE_URLS } from './worker-fakes.js';
import { ScriptedDynamo, cancelled, conditionFailed } from './state-fake.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function setup() {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const order: string[] = [];
  dynamo.onSend = (command) => { order.push(command.constructor.name); };
  const sender = { send: (command: SendMessageBatchCommand) => { order.push('SendMessageBatch'); return sqs.send(command); } };
  const client = new Client({ queueUrls: QUEUE_URLS, sqs: sender, dynamo, env: { HOPPER_STATE_TABLE: 'state' }, now: () => NOW });
  return { sqs, dynamo, order, client };
}

describe('Client.batch', () => {
  it('creates the batch item with its callbacks, once', async () => {
    const { dynamo, client } = setup();

    const batch = await client.batch({ bid: 'import-42', description: 'import 42', onSuccess: { jobtype: 'ImportDone', args: [42] } });

    expect(batch.bid).toBe('import-42');
    const [put] = dynamo.sentOf(PutItemCommand);
    expect(put?.input).toMatchObject({
      TableName: 'state',
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { pk: { S: 'batch#import-42' }, sk: { S: 'batch' }, description: { S: 'import 42' }, callbacks: { S: '{"success":{"jobtype":"ImportDone","args":[42]}}' }, total: { N: '0' } },
    });
  });

  it('refuses a callback for an undeclared queue before writing anything', async () => {
    const { dynamo, client } = setup();

    await expect(client.batch({ onDeath: { jobtype: 'Alert', queue: 'nope' } })).rejects.toMatchObject({ name: 'InvalidJobError', field: 'onDeath.queue' });
    expect(dynamo.sent).toEqual([]);
  });

  it('refuses a bid that cannot make callback jids', async () => {
    const { client } = setup();

    await expect(client.batch({ bid: 'x'.repeat(101) })).rejects.toMatchObject({ name: 'InvalidJobError', field: 'bid' });
  });
});

describe('sealing a batch', () => {
  it('creates a batch unsealed: one open fill, its producer\'s, so nothing can fire', async () => {
    const { dynamo, client } = setup();

    await client.batch({ bid: 'b1' });

    expect(dynamo.sentOf(PutItemCommand)[0]?.input.Item).toMatchObject({ open: { N: '1' }, sealed: { BOOL: false } });
    expect(dynamo.sentOf(UpdateItemCommand)).toEqual([]);
  });

  it('seals once, closing the producer\'s fill; sealing again changes nothing', async () => {
    const { dynamo, client } = setup();
    const batch = await client.batch({ bid: 'b1' });
    dynamo.script.push({ output: {} }, { output: {} }, conditionFailed({ bid: { S: 'b1' }, sealed: { BOOL: true } }));

    await batch.seal();
    await batch.seal();

    const [seal] = dynamo.sentOf(UpdateItemCommand);
    expect(seal?.input).toMatchObject({
      Key: { pk: { S: 'batch#b1' }, sk: { S: 'batch' } },
      UpdateExpression: 'SET #sealed = :true ADD #open :minus',
      ConditionExpression: 'attribute_exists(pk) AND #sealed = :false',
      ExpressionAttributeValues: { ':true': { BOOL: true }, ':false': { BOOL: false }, ':minus': { N: '-1' } },
    });
    expect(dynamo.sentOf(UpdateItemCommand)).toHaveLength(2);
  });

  it('says a batch that no longer exists cannot be sealed', async () => {
    const { dynamo, client } = setup();
    const batch = await client.batch({ bid: 'b1' });
    dynamo.script.push(conditionFailed());

    await expect(batch.seal()).rejects.toMatchObject({ name: 'BatchNotFoundError', bid: 'b1' });
  });

  it('seals after the fill has added every job, in as many adds as it takes', async () => {
    const { order, client } = setup();

    await client.batch({ bid: 'b1' }, async (batch) => {
      await batch.add([{ jobtype: 'Row', jid: 'r0' }]);
      await batch.add([{ jobtype: 'Row', jid: 'r1' }]);
    });

    expect(order).toEqual(['PutItemCommand', 'TransactWriteItemsCommand', 'SendMessageBatch', 'TransactWriteItemsCommand', 'SendMessageBatch', 'UpdateItemCommand']);
  });

  it('leaves the batch unsealed when the fill throws, so that nothing fires for half a batch', async () => {
    const { order, client } = setup();

    await expect(client.batch({ bid: 'b1' }, async (batch) => {
      await batch.add([{ jobtype: 'Row', jid: 'r0' }]);
      throw new Error('the export failed');
    })).rejects.toThrow('the export failed');

    expect(order).toEqual(['PutItemCommand', 'TransactWriteItemsCommand', 'SendMessageBatch']);
  });
});

describe('Batch.add', () => {
  it('registers every job before sending any, with one add item, and marks them with the bid', async () => {
    const { sqs, dynamo, order, client } = setup();
    const batch = await client.batch({ bid: 'b1' });
    order.length = 0;

    const jids = await batch.add(Array.from({ length: 12 }, (_, i) => ({ jobtype: 'Row', args: [i], jid: `r${i}` })));

    expect(jids).toHaveLength(12);
    expect(order).toEqual(['TransactWriteItemsCommand', 'SendMessageBatch', 'SendMessageBatch']);
    const [transaction] = dynamo.transactions();
    expect(transaction?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_total': { N: '12' }, ':c_pending': { N: '12' } });
    expect(transaction?.slice(1).map((item) => item.Put?.Item?.sk?.S)).toEqual([`add#${registrationsOf(jids)[0]?.digest}`]);
    expect(sqs.sentTo(QUEUE_URLS.default).map(({ body }) => body)).toEqual(jids.map((jid, i) => expect.objectContaining({ jid, args: [i], custom: { bid: 'b1' } })));
  });

  it('takes jobs that could not be sent out of the batch again, and reports them', async () => {
    const { sqs, dynamo, client } = setup();
    const batch = await client.batch({ bid: 'b1' });
    sqs.failEntry = (entry) => (entry.MessageBody?.includes('"r1"') === true ? { Code: 'InternalError', Message: 'try later', SenderFault: true } : undefined);

    const error = await batch.add([{ jobtype: 'Row', jid: 'r0' }, { jobtype: 'Row', jid: 'r1' }]).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(EnqueueError);
    expect(error).toMatchObject({ enqueued: ['r0'], failed: [{ jid: 'r1', reason: 'InternalError: try later' }] });
    const [, undo] = dynamo.transactions();
    expect(undo?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_total': { N: '-1' }, ':c_pending': { N: '-1' } });
    expect(undo?.[1]?.Update).toMatchObject({ Key: { pk: { S: 'batch#b1' }, sk: { S: `add#${registrationsOf(['r0', 'r1'])[0]?.digest}` } }, ExpressionAttributeValues: { ':jids': { SS: ['r1'] } } });
  });

  it('sends nothing when the batch does not exist', async () => {
    const { sqs, dynamo, client } = setup();
    const batch = await client.batch({ bid: 'b1' });
    dynamo.script.push(cancelled({ item: undefined }, 'None'));

    await expect(batch.add([{ jobtype: 'Row' }])).rejects.toMatchObject({ name: 'BatchNotFoundError', bid: 'b1' });
    expect(sqs.batches).toEqual([]);
  });
});

describe('unique jobs through the client', () => {
  const unique = { jobtype: 'Sync', args: [7], custom: { unique_for: 600 } };

  it('takes the lock, then sends', async () => {
    const { order, client } = setup();

    await client.enqueue({ ...unique, jid: 'first' });

    expect(order).toEqual(['PutItemCommand', 'SendMessageBatch']);
  });

  it('refuses a second enqueue while the lock holds, with the holder\'s jid, sending nothing', async () => {
    const { sqs, dynamo, client } = setup();
    dynamo.script.push(conditionFailed({ jid: { S: 'first' }, expires_at: { S: '2026-11-22T12:10:00.000Z' } }));

    const error = await client.enqueue({ ...unique, jid: 'second' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(NotUniqueError);
    expect(error).toMatchObject({ name: 'NotUniqueError', jid: 'second', existingJid: 'first', lockedUntil: '2026-11-22T12:10:00.000Z' });
    expect(sqs.batches).toEqual([]);
  });

  it('reports each refused job of an enqueueMany and sends the others', async () => {
    const { sqs, dynamo, client } = setup();
    dynamo.script.push({ output: {} }, conditionFailed({ jid: { S: 'holder' } }));

    const error = await client.enqueueMany([{ ...unique, jid: 'a' }, { ...unique, args: [8], jid: 'b' }, { jobtype: 'Plain', jid: 'c' }]).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(EnqueueError);
    expect(error).toMatchObject({ enqueued: ['a', 'c'], failed: [{ jid: 'b', existingJid: 'holder' }] });
    expect(sqs.sentTo(QUEUE_URLS.default).map(({ body }) => body)).toEqual([expect.objectContaining({ jid: 'a' }), expect.objectContaining({ jid: 'c' })]);
  });

  it('gives the lock back when the job could not be sent', async () => {
    const { sqs, dynamo, client } = setup();
    sqs.failQueues.set(QUEUE_URLS.default, new Error('network down'));

    await expect(client.enqueue({ ...unique, jid: 'lost' })).rejects.toBeInstanceOf(EnqueueError);
    expect(dynamo.sentOf(DeleteItemCommand).map((command) => command.input.ExpressionAttributeValues)).toEqual([{ ':jid': { S: 'lost' } }]);
  });

  it('costs a plain job no DynamoDB request', async () => {
    const { dynamo, client } = setup();

    await client.enqueueMany([{ jobtype: 'Plain' }, { jobtype: 'Plain', queue: 'critical' }]);

    expect(dynamo.sent).toEqual([]);
    expect(dynamo.sentOf(TransactWriteItemsCommand)).toEqual([]);
  });
});

describe('unique jobs repeated within one enqueueMany', () => {
  const unique = { jobtype: 'Sync', args: [7], custom: { unique_for: 600 } };

  it('gives the lock to the first in input order and refuses the others without a request', async () => {
    const { dynamo, client } = setup();

    const error = await client.enqueueMany([{ ...unique, jid: 'a' }, { ...unique, jid: 'b' }]).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'EnqueueError', enqueued: ['a'], failed: [{ jid: 'b', existingJid: 'a' }] });
    expect(dynamo.sentOf(PutItemCommand)).toHaveLength(1);
  });

  it('names the job that already held the lock when the first of the call was refused too', async () => {
    const { dynamo, client } = setup();
    dynamo.script.push(conditionFailed({ jid: { S: 'older' } }));

    const error = await client.enqueueMany([{ ...unique, jid: 'a' }, { ...unique, jid: 'b' }]).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ enqueued: [], failed: [{ jid: 'a', existingJid: 'older' }, { jid: 'b', existingJid: 'older' }] });
  });
});
