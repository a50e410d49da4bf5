import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { ScriptedDynamo, conditionFailed } from './state-fake.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function setup(jobs: Readonly<Record<string, JobHandler>>) {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const order: string[] = [];
  dynamo.onSend = (command) => { order.push(command.constructor.name); };
  const log = memoryLog();
  const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs, dynamo }, now: () => NOW, log: log.sink });
  return { sqs, dynamo, order, log, handler };
}

const inBatch = (jid: string, extra: Record<string, unknown> = {}) => sqsRecord({ body: { jid, jobtype: 'Row', args: [jid], custom: { bid: 'b1' }, ...extra } });

describe('a worker running jobs of a batch', () => {
  it('writes the successes of a batch on their job items before acknowledging them, for the batch function to count', async () => {
    const { dynamo, handler } = setup({ Row: () => undefined });

    const result = await handler(sqsEvent([inBatch('j1'), inBatch('j2')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(dynamo.transactions()).toEqual([]);
    const updates = dynamo.sentOf(UpdateItemCommand).map((command) => command.input);
    expect(updates.map((input) => input.Key?.sk?.S)).toEqual(['job#j1', 'job#j2']);
    expect(updates[0]).toMatchObject({ ExpressionAttributeValues: expect.objectContaining({ ':to': { S: 'succeeded' }, ':one': { N: '1' } }) });
  });

  it('records nothing twice: a second delivery of a success fails its condition and writes nothing', async () => {
    const { dynamo, handler } = setup({ Row: () => undefined });
    dynamo.script.push(conditionFailed({ status: { S: 'succeeded' } }));

    const result = await handler(sqsEvent([inBatch('j1')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(dynamo.sentOf(UpdateItemCommand)).toHaveLength(1);
  });

  it('hands the records back when their success cannot be recorded, and only those', async () => {
    const { dynamo, handler } = setup({ Row: () => undefined, Plain: () => undefined });
    dynamo.script.push({ error: Object.assign(new Error('the table cannot be reached'), { name: 'InternalServerError' }) });
    const records = [inBatch('j1'), sqsRecord({ body: { jobtype: 'Plain' } }), inBatch('j2')];

    const result = await handler(sqsEvent(records), lambdaContext());

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[0]?.messageId }, { itemIdentifier: records[2]?.messageId }]);
  });

  it('writes nothing to DynamoDB for plain jobs', async () => {
    const { dynamo, handler } = setup({ Plain: () => undefined, Boom: () => { throw new Error('no'); } });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Plain' } }), sqsRecord({ body: { jobtype: 'Boom' } })]), lambdaContext());

    expect(dynamo.sent).toEqual([]);
  });

  it('lets a job add jobs to its batch, with jids derived from its own so that a second run adds the same', async () => {
    const added: string[][] = [];
    const { sqs, dynamo, handler } = setup({
      Row: async (_args, ctx) => {
        if (ctx.batch === undefined) throw new Error('no batch');
        added.push(await ctx.batch.add([{ jobtype: 'Cell', args: [1] }, { jobtype: 'Cell', args: [2], queue: 'critical' }]));
      },
    });

    await handler(sqsEvent([inBatch('j1')]), lambdaContext());
    await handler(sqsEvent([inBatch('j1')]), lambdaContext());

    expect(added).toEqual([['j1-1', 'j1-2'], ['j1-1', 'j1-2']]);
    const [register] = dynamo.transactions();
    expect(register?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_total': { N: '2' }, ':c_pending': { N: '2' } });
    expect(sqs.sentTo(QUEUE_URLS.critical)[0]?.body).toMatchObject({ jid: 'j1-2', jobtype: 'Cell', custom: { bid: 'b1' } });
  });

  it('gives ctx.batch only to jobs in a batch', async () => {
    let seen: unknown = 'unset';
    const { handler } = setup({ Plain: (_args, ctx) => { seen = ctx.batch; } });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Plain' } })]), lambdaContext());

    expect(seen).toBeUndefined();
  });
});

describe('a worker running unique jobs', () => {
  const unique = (until: string) => ({ jid: 'u1', jobtype: 'Sync', args: [7], custom: { unique_for: 600, unique_until: until } });

  it('releases a lock held until start before the handler runs', async () => {
    const events: string[] = [];
    const { dynamo, handler } = setup({ Sync: () => { events.push('ran'); } });
    dynamo.onSend = (command) => { events.push(command.constructor.name); };

    await handler(sqsEvent([sqsRecord({ body: unique('start') })]), lambdaContext());

    expect(events).toEqual(['DeleteItemCommand', 'ran']);
    expect(dynamo.sentOf(DeleteItemCommand)[0]?.input.ExpressionAttributeValues).toEqual({ ':jid': { S: 'u1' } });
  });

  it('releases a lock held until success after the job succeeded, and keeps it when it failed', async () => {
    const ok = setup({ Sync: () => undefined });
    await ok.handler(sqsEvent([sqsRecord({ body: unique('success') })]), lambdaContext());
    expect(ok.order).toEqual(['DeleteItemCommand']);

    const failing = setup({ Sync: () => { throw new Error('upstream down'); } });
    await failing.handler(sqsEvent([sqsRecord({ body: unique('success') })]), lambdaContext());
    expect(failing.order).toEqual([]);
    // Retried by the worker itself: back on its queue, still unique until it succeeds.
    expect(failing.sqs.sentTo(RETRIES_URL)).toEqual([]);
    expect(failing.sqs.sentTo(QUEUE_URLS.default)).toEqual([expect.objectContaining({
      body: expect.objectContaining({ jid: 'u1', custom: { unique_for: 600, unique_until: 'success' }, failure: expect.objectContaining({ retry_count: 0, message: 'upstream down' }) }),
    })]);
  });

  it('runs the job even when the lock cannot be released (it expires by TTL)', async () => {
    const ran: string[] = [];
    const { dynamo, log, handler } = setup({ Sync: () => { ran.push('ran'); } });
    dynamo.script.push({ error: new Error('network down') });

    const result = await handler(sqsEvent([sqsRecord({ body: unique('start') })]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual(['ran']);
    expect(log.lines.some((line) => line.message === 'unique lock not released at start; it expires by TTL')).toBe(true);
  });
});

describe('an expired job of a batch', () => {
  it('counts as done in its batch, so the batch can still finish', async () => {
    const ran: string[] = [];
    const { dynamo, handler } = setup({ Row: () => { ran.push('ran'); } });

    await handler(sqsEvent([inBatch('j1', { custom: { bid: 'b1', expires_at: '2026-11-22T11:00:00.000Z' } })]), lambdaContext());

    expect(ran).toEqual([]);
    expect(dynamo.sentOf(UpdateItemCommand)[0]?.input).toMatchObject({ Key: { sk: { S: 'job#j1' } }, ExpressionAttributeValues: expect.objectContaining({ ':to': { S: 'succeeded' } }) });
  });
});
