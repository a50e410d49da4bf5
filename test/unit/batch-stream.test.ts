import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { batchJobKey } from '../../lib/storage/keys.js';
import { describe, expect, it } from 'vitest';
import { createBatchStreamHandler } from '../../lib/batch/handler.js';
import { ScriptedDynamo } from './state-fake.js';
import { FakeSqs, QUEUE_URLS, TEST_ENV, memoryLog } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
let sequence = 0;

/** An attribute both the SDK's and Lambda's types accept. */
type Attribute = { S: string } | { N: string };

/** A batch item image with these counters and attributes. */
function image(fields: Record<string, string | number>): Record<string, Attribute> {
  const item: Record<string, Attribute> = {
    pk: { S: 'batch#b1' }, sk: { S: 'batch' }, bid: { S: 'b1' }, created_at: { S: '2026-11-22T11:00:00.000Z' }, description: { S: 'import 42' },
    callbacks: { S: JSON.stringify({ complete: { jobtype: 'Done', args: ['opt'] }, success: { jobtype: 'Yay', queue: 'critical' } }) },
  };
  for (const [name, value] of Object.entries(fields)) item[name] = typeof value === 'number' ? { N: String(value) } : { S: value };
  return item;
}

function record(newImage: Record<string, Attribute>, oldImage?: Record<string, Attribute>, keys = { pk: { S: 'batch#b1' }, sk: { S: 'batch' } }): DynamoDBRecord {
  sequence += 1;
  return {
    eventName: oldImage === undefined ? 'INSERT' : 'MODIFY',
    eventSource: 'aws:dynamodb',
    dynamodb: { Keys: keys, NewImage: newImage, ...(oldImage === undefined ? {} : { OldImage: oldImage }), SequenceNumber: String(sequence).padStart(21, '0'), StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}

function setup() {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const log = memoryLog();
  const handler = createBatchStreamHandler({ env: TEST_ENV, sqs, dynamo, now: () => NOW, log: log.sink });
  return { sqs, dynamo, handler, log };
}

const running = image({ total: 2, pending: 1, succeeded: 1 });
const finished = image({ total: 2, pending: 0, succeeded: 2 });
const claimed = image({ total: 2, pending: 0, succeeded: 2, complete_at: NOW.toISOString(), success_at: NOW.toISOString() });

describe('the batch function', () => {
  it('claims complete and success when the last job succeeds, without sending yet', async () => {
    const { sqs, dynamo, handler } = setup();

    await expect(handler({ Records: [record(finished, running)] })).resolves.toEqual({ batchItemFailures: [] });

    expect(dynamo.transactions()).toHaveLength(1);
    expect(dynamo.transactions()[0]?.[0]?.Update?.ExpressionAttributeNames).toEqual({ '#at0': 'complete_at', '#at1': 'success_at' });
    expect(sqs.batches).toEqual([]);
  });

  it('sends the callback jobs from the claim\'s own record, then marks them sent, counting them as Enqueued', async () => {
    const { sqs, dynamo, handler, log } = setup();
    dynamo.script.push({ output: { Item: claimed } });

    await handler({ Records: [record(claimed, finished)] });

    expect(dynamo.sentOf(GetItemCommand)[0]?.input).toMatchObject({ Key: { pk: { S: 'batch#b1' }, sk: { S: 'batch' } }, ConsistentRead: true });
    const status = { bid: 'b1', description: 'import 42', total: 2, pending: 0, succeeded: 2, failures: 0, dead: 0, children: 0, created_at: '2026-11-22T11:00:00.000Z' };
    expect(sqs.sentTo(QUEUE_URLS.default).map(({ body }) => body)).toEqual([expect.objectContaining({ jid: 'b1-complete', jobtype: 'Done', args: [{ ...status, event: 'complete' }, 'opt'] })]);
    expect(sqs.sentTo(QUEUE_URLS.critical).map(({ body }) => body)).toEqual([expect.objectContaining({ jid: 'b1-success', jobtype: 'Yay', args: [{ ...status, event: 'success' }] })]);
    expect(dynamo.sentOf(UpdateItemCommand)[0]?.input).toMatchObject({ UpdateExpression: 'SET #sent0 = :now, #sent1 = :now', ExpressionAttributeNames: { '#sent0': 'complete_sent_at', '#sent1': 'success_sent_at' } });
    expect(log.lines.filter((line) => '_aws' in line).map(({ _aws, ...fields }) => fields)).toEqual([
      { Queue: 'default', JobType: 'Done', Enqueued: 1 },
      { Queue: 'critical', JobType: 'Yay', Enqueued: 1 },
    ]);
  });

  it('runs the client middleware (via callback) on each callback job, and puts one it refuses in the dead set instead of holding the stream', async () => {
    const sqs = new FakeSqs();
    const dynamo = new ScriptedDynamo();
    const dead: unknown[] = [];
    const settled: unknown[] = [];
    const handler = createBatchStreamHandler({
      env: TEST_ENV, sqs, dynamo, now: () => NOW, log: () => undefined,
      middleware: {
        client: [(job, ctx) => { if (job.jobtype === 'Yay') throw new Error('no celebrations'); return { ...job, custom: { ...job.custom, via: ctx.via } }; }],
        hooks: { onDead: (buried) => { dead.push(buried); }, onBatchSettled: (batch) => { settled.push(batch.event); } },
      },
    });
    dynamo.script.push({ output: { Item: claimed } });

    await expect(handler({ Records: [record(claimed, finished)] })).resolves.toEqual({ batchItemFailures: [] });

    expect(sqs.sentTo(QUEUE_URLS.default).map(({ body }) => body)).toEqual([expect.objectContaining({ jid: 'b1-complete', custom: expect.objectContaining({ via: 'callback' }) })]);
    expect(sqs.sentTo(QUEUE_URLS.critical)).toEqual([]);
    const put = dynamo.sentOf(PutItemCommand)[0]?.input;
    expect(put?.Item?.pk?.S).toMatch(/^dead#\d$/);
    expect({ errtype: put?.Item?.errtype?.S, error: put?.Item?.error?.S }).toEqual({ errtype: 'MiddlewareError', error: 'client middleware client[0] (enqueue via callback): threw Error: no celebrations' });
    expect(dead).toEqual([expect.objectContaining({ job: expect.objectContaining({ jid: 'b1-success' }), errtype: 'MiddlewareError' })]);
    // Both events are marked sent: the refused one is in the dead set, not waiting on the stream.
    expect(dynamo.sentOf(UpdateItemCommand)[0]?.input).toMatchObject({ ExpressionAttributeNames: { '#sent0': 'complete_sent_at', '#sent1': 'success_sent_at' } });
    expect(settled).toEqual(['complete', 'success']);
  });

  it('sends nothing again when the claim record is delivered again after the send was marked', async () => {
    const { sqs, dynamo, handler } = setup();
    dynamo.script.push({ output: { Item: { ...claimed, complete_sent_at: { S: 't' }, success_sent_at: { S: 't' } } } });

    await handler({ Records: [record(claimed, finished)] });

    expect(sqs.batches).toEqual([]);
  });

  it('sends again, with the same jid, when the mark failed after the send (the one at-least-once window)', async () => {
    const { sqs, dynamo, handler } = setup();
    const claim = record(claimed, finished);
    dynamo.script.push({ output: { Item: claimed } }, { error: new Error('connection reset') });

    await expect(handler({ Records: [claim] })).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: claim.dynamodb?.SequenceNumber }] });
    dynamo.script.push({ output: { Item: claimed } });
    await handler({ Records: [claim] });

    const same = expect.objectContaining({ jid: 'b1-complete' });
    expect(sqs.sentTo(QUEUE_URLS.default).map(({ body }) => body)).toEqual([same, same]);
  });

  it('reports the first record that fails and leaves the rest for the retry', async () => {
    const { sqs, dynamo, handler } = setup();
    sqs.failQueues.set(QUEUE_URLS.default, new Error('SQS unavailable'));
    dynamo.script.push({ output: { Item: claimed } });
    const failing = record(claimed, finished);

    const result = await handler({ Records: [failing, record(finished, running)] });

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: failing.dynamodb?.SequenceNumber }] });
    expect(dynamo.transactions()).toEqual([]);
  });

  it('counts the job records of an event into their batches, one update per batch, before the batch records', async () => {
    const { dynamo, handler } = setup();
    const job = (bid: string, jid: string, newImage: Record<string, Attribute>, oldImage?: Record<string, Attribute>, pk = batchJobKey(bid, jid).pk) => record(newImage, oldImage, { pk: { S: pk }, sk: { S: `job#${jid}` } });
    const records = [
      job('b1', 'j1', { status: { S: 'succeeded' }, tally: { N: '1' } }),
      job('b2', 'j9', { status: { S: 'failed' }, tally: { N: '1' } }),
      record(finished, running),
      job('b1', 'j2', { status: { S: 'succeeded' }, tally: { N: '2' } }, { status: { S: 'failed' }, tally: { N: '1' } }),
      // A pending callback job added by a claim: no tally, nothing to count.
      job('b1', 'b0-success', { status: { S: 'pending' } }),
      // A job item under the batch's own key, written before the shards.
      job('b1', 'j3', { status: { S: 'succeeded' }, tally: { N: '1' } }, undefined, 'batch#b1'),
    ];
    const sequence = (index: number) => records[index]?.dynamodb?.SequenceNumber?.replace(/^0+/, '');
    const shard = (jid: string) => batchJobKey('b1', jid).pk.split('#').at(-1);

    await expect(handler({ Records: records })).resolves.toEqual({ batchItemFailures: [] });

    const updates = dynamo.sentOf(UpdateItemCommand).map((command) => command.input);
    const guarded = (input: (typeof updates)[number] | undefined) => Object.entries(input?.ExpressionAttributeNames ?? {}).filter(([name]) => name.startsWith('#seq')).map(([name, guard]) => [guard, input?.ExpressionAttributeValues?.[`:last${name.slice(4)}`]?.S?.replace(/^0+/, '')]);
    expect(updates.map((input) => input.Key?.pk?.S)).toEqual(['batch#b1', 'batch#b2']);
    // One update per batch, each shard of its job items guarded by the last of its records.
    expect(guarded(updates[0])).toEqual(shard('j1') === shard('j2')
      ? [[`tallied_seq_${shard('j1')}`, sequence(3)], ['tallied_seq', sequence(5)]]
      : [[`tallied_seq_${shard('j1')}`, sequence(0)], [`tallied_seq_${shard('j2')}`, sequence(3)], ['tallied_seq', sequence(5)]]);
    expect(updates[0]?.ExpressionAttributeValues).toMatchObject({ ':c_pending': { N: '-2' }, ':c_succeeded': { N: '3' }, ':c_failures': { N: '-1' } });
    // The batch record's claim comes after the counting.
    expect(dynamo.transactions()).toHaveLength(1);
  });

  it('reports a batch whose count failed at its first job record, handling the records before it', async () => {
    const { dynamo, handler } = setup();
    const before = record(running, image({ total: 2, pending: 2 }));
    const counted = record({ status: { S: 'succeeded' }, tally: { N: '1' } }, undefined, { pk: { S: 'batch#b1' }, sk: { S: 'job#j1' } });
    dynamo.script.push({ error: new Error('connection reset') });

    const result = await handler({ Records: [before, counted, record(finished, running)] });

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: counted.dynamodb?.SequenceNumber }] });
    // The finished record after it was left for the retry: nothing claimed.
    expect(dynamo.transactions()).toEqual([]);
  });

  it('ignores records of other items and batches still running', async () => {
    const { dynamo, handler } = setup();

    await handler({ Records: [record(running, image({ total: 2, pending: 2 })), record({ status: { S: 'succeeded' } }, undefined, { pk: { S: 'batch#b1' }, sk: { S: 'job#j1' } })] });

    expect(dynamo.sent).toEqual([]);
  });
});
