import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { Client, EnqueueError } from '../../lib/client/client.js';
import { InvalidJobError } from '../../lib/errors/base.js';
import { DEBOUNCE_LIMITS } from '../../lib/job/debounce.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { DEBOUNCE_ITEM_DAYS, planMark, planRead, planSettle, verdictOf } from '../../lib/debounce/plan.js';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { ScriptedDynamo, conditionFailed } from './state-fake.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const NOW_MS = NOW.getTime();
const DAY_S = 86_400;

function job(jid: string, custom: Record<string, unknown> = { debounce: { key: 'account:7', period: 30 } }): Job {
  return normalizeJob({ jid, jobtype: 'Sync', args: [jid], custom }, { now: NOW });
}

function invalid(custom: unknown): { field: string; expected: string } {
  try {
    normalizeJob({ jobtype: 'Sync', custom }, { now: NOW });
  } catch (error) {
    if (error instanceof InvalidJobError) return { field: error.field, expected: error.expected };
    throw error;
  }
  throw new Error('the job was accepted');
}

describe('custom.debounce validation', () => {
  it.each([
    { debounce: 'account:7', field: 'custom.debounce', expected: 'an object { key, period }' },
    { debounce: { period: 30 }, field: 'custom.debounce.key', expected: 'a string of 1 to 200 letters, digits or _ - . : @ / + =' },
    { debounce: { key: 'a#b', period: 30 }, field: 'custom.debounce.key', expected: 'a string of 1 to 200 letters, digits or _ - . : @ / + =' },
    { debounce: { key: 'k'.repeat(201), period: 30 }, field: 'custom.debounce.key', expected: 'a string of 1 to 200 letters, digits or _ - . : @ / + =' },
    { debounce: { key: 'k', period: 0 }, field: 'custom.debounce.period', expected: 'a number of seconds greater than 0 and at most 604800' },
    { debounce: { key: 'k', period: 604_801 }, field: 'custom.debounce.period', expected: 'a number of seconds greater than 0 and at most 604800' },
    { debounce: { key: 'k', period: '30' }, field: 'custom.debounce.period', expected: 'a number of seconds greater than 0 and at most 604800' },
  ])('refuses $debounce naming $field', ({ debounce, field, expected }) => {
    expect(invalid({ debounce })).toEqual({ field, expected });
  });

  it('accepts a key of 200 safe characters and a period of seven days', () => {
    const key = `${'k'.repeat(190)}_.:@/+=-9`;
    expect(normalizeJob({ jobtype: 'Sync', custom: { debounce: { key, period: DEBOUNCE_LIMITS.maxPeriodSeconds } } }, { now: NOW }).custom?.debounce).toEqual({ key, period: 604_800 });
  });
});

describe('debounce plans', () => {
  it('names the job in its key item, due time and TTL included, asking for the item it replaced', () => {
    const plan = planMark(job('j1'), { key: 'account:7', period: 30 }, { tableName: 'state', nowMs: NOW_MS, dueMs: NOW_MS + 30_000 });

    expect(plan).toEqual({
      TableName: 'state',
      Item: {
        pk: { S: 'debounce#account:7' }, sk: { S: 'debounce' }, jid: { S: 'j1' }, jobtype: { S: 'Sync' }, queue: { S: 'default' },
        marked_at: { S: '2026-11-22T12:00:00.000Z' }, due_at: { S: '2026-11-22T12:00:30.000Z' },
        ttl: { N: String(NOW_MS / 1000 + 30 + 210 * DAY_S) },
      },
      ReturnValues: 'ALL_OLD',
    });
    expect(DEBOUNCE_ITEM_DAYS).toBe(210);
  });

  it('reads strongly consistent, and deletes only while the item names the job', () => {
    expect(planRead({ key: 'k', period: 1 }, 'state')).toMatchObject({ Key: { pk: { S: 'debounce#k' }, sk: { S: 'debounce' } }, ConsistentRead: true });
    expect(planSettle(job('j1'), { key: 'k', period: 1 }, 'state')).toMatchObject({
      Key: { pk: { S: 'debounce#k' } }, ConditionExpression: '#jid = :jid', ExpressionAttributeValues: { ':jid': { S: 'j1' } },
    });
  });

  it.each([
    { item: { jid: { S: 'j1' } }, verdict: 'run' },
    { item: { jid: { S: 'j2' } }, verdict: 'superseded' },
    { item: undefined, verdict: 'superseded' },
  ])('a run finding $item is $verdict', ({ item, verdict }) => {
    expect(verdictOf(job('j1'), item)).toBe(verdict);
  });
});

function client() {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const made = new Client({ queueUrls: QUEUE_URLS, sqs, dynamo, env: { HOPPER_STATE_TABLE: 'state' }, now: () => NOW });
  return { sqs, dynamo, client: made };
}

describe('enqueueing a debounced job', () => {
  it('writes the key item, then sends the job due one period later', async () => {
    const { sqs, dynamo, client: jobs } = client();
    const sentBeforeWrite: number[] = [];
    dynamo.onSend = () => { sentBeforeWrite.push(sqs.batches.length); };

    await jobs.enqueue({ jobtype: 'Sync', args: [1], jid: 'j1', custom: { debounce: { key: 'account:7', period: 30 } } });

    expect(sentBeforeWrite).toEqual([0]);
    expect(dynamo.sentOf(PutItemCommand)[0]?.input.Item?.jid).toEqual({ S: 'j1' });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: 30, body: expect.objectContaining({ jid: 'j1', at: '2026-11-22T12:00:30.000Z' }) }]);
  });

  it('counts the period from `at` for a scheduled job', async () => {
    const { sqs, client: jobs } = client();

    await jobs.enqueue({ jobtype: 'Sync', jid: 'j1', at: new Date(NOW_MS + 60_000), custom: { debounce: { key: 'k', period: 2.5 } } });

    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: 63, body: expect.objectContaining({ at: '2026-11-22T12:01:02.500Z' }) }]);
  });

  it('writes one item per key in one call: the last job of the key', async () => {
    const { sqs, dynamo, client: jobs } = client();
    const debounce = (key: string) => ({ debounce: { key, period: 5 } });

    await jobs.enqueueMany([
      { jobtype: 'Sync', jid: 'a1', custom: debounce('a') },
      { jobtype: 'Sync', jid: 'b1', custom: debounce('b') },
      { jobtype: 'Sync', jid: 'a2', custom: debounce('a') },
    ]);

    expect(dynamo.sentOf(PutItemCommand).map((put) => [put.input.Item?.pk?.S, put.input.Item?.jid?.S])).toEqual([['debounce#a', 'a2'], ['debounce#b', 'b1']]);
    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => (sent.body as Job).jid)).toEqual(['a1', 'b1', 'a2']);
  });

  it('puts the replaced item back when the job could not be sent, so the job it named still runs', async () => {
    const { sqs, dynamo, client: jobs } = client();
    const previous = { pk: { S: 'debounce#k' }, sk: { S: 'debounce' }, jid: { S: 'j0' } };
    dynamo.script.push({ output: { Attributes: previous } });
    sqs.failEntry = () => ({ Code: 'InternalError', SenderFault: false, Message: 'try again' });

    const refused = await jobs.enqueue({ jobtype: 'Sync', jid: 'j1', custom: { debounce: { key: 'k', period: 5 } } }).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(EnqueueError);
    const puts = dynamo.sentOf(PutItemCommand).map((put) => put.input);
    expect(puts).toHaveLength(2);
    expect(puts[1]).toEqual({ TableName: 'state', Item: previous, ConditionExpression: '#jid = :jid', ExpressionAttributeNames: { '#jid': 'jid' }, ExpressionAttributeValues: { ':jid': { S: 'j1' } } });
  });

  it('deletes its own item when the key had none and the job could not be sent', async () => {
    const { sqs, dynamo, client: jobs } = client();
    sqs.failEntry = () => ({ Code: 'InternalError', SenderFault: false, Message: 'try again' });

    await expect(jobs.enqueue({ jobtype: 'Sync', jid: 'j1', custom: { debounce: { key: 'k', period: 5 } } })).rejects.toThrow(EnqueueError);

    expect(dynamo.sentOf(DeleteItemCommand).map((command) => command.input.ExpressionAttributeValues)).toEqual([{ ':jid': { S: 'j1' } }]);
  });

  it('sends nothing when the item cannot be written', async () => {
    const { sqs, dynamo, client: jobs } = client();
    dynamo.script.push({ error: new Error('table unreachable') });

    await expect(jobs.enqueue({ jobtype: 'Sync', jid: 'j1', custom: { debounce: { key: 'k', period: 5 } } })).rejects.toThrow('debounce item not written: Error: table unreachable');

    expect(sqs.batches).toEqual([]);
  });
});

function worker(jobs: Readonly<Record<string, JobHandler>>) {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const log = memoryLog();
  const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs, dynamo }, now: () => NOW, log: log.sink });
  return { sqs, dynamo, log, handler };
}

const debounced = (jid: string, extra: Record<string, unknown> = {}) => sqsRecord({ body: { jid, jobtype: 'Sync', args: [jid], custom: { debounce: { key: 'k', period: 5 }, ...extra } } });
const holder = (jid: string) => ({ output: { Item: { jid: { S: jid } } } });

describe('a worker running debounced jobs', () => {
  it('runs the job its key item names, then deletes the item on condition it still names it', async () => {
    const ran: unknown[] = [];
    const { dynamo, handler } = worker({ Sync: (args) => { ran.push(args[0]); } });
    dynamo.script.push(holder('j2'));

    const result = await handler(sqsEvent([debounced('j2')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual(['j2']);
    expect(dynamo.sent.map((command) => command.constructor.name)).toEqual(['GetItemCommand', 'DeleteItemCommand']);
    expect(dynamo.sentOf(DeleteItemCommand)[0]?.input).toMatchObject({ Key: { pk: { S: 'debounce#k' } }, ExpressionAttributeValues: { ':jid': { S: 'j2' } } });
  });

  it('acknowledges a superseded job without running it, and a copy of one that ran already', async () => {
    const ran: unknown[] = [];
    const { dynamo, log, handler } = worker({ Sync: (args) => { ran.push(args[0]); } });
    dynamo.script.push(holder('j2'), { output: {} });

    const result = await handler(sqsEvent([debounced('j1'), debounced('j2-copy')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual([]);
    expect(dynamo.sentOf(GetItemCommand)).toHaveLength(2);
    expect(dynamo.sentOf(DeleteItemCommand)).toEqual([]);
    expect(log.lines.filter((line) => line.message === 'superseded by a later job of its debounce key; acknowledged without running').map((line) => line.jid)).toEqual(['j1', 'j2-copy']);
    expect(log.lines.find((line) => line.message === 'batch done')).toMatchObject({ superseded: 2, succeeded: 0 });
  });

  it('keeps the item when the job failed, and its retry still runs while the item names it', async () => {
    const { sqs, dynamo, handler } = worker({ Sync: () => { throw new Error('upstream down'); } });
    dynamo.script.push(holder('j1'));

    await handler(sqsEvent([debounced('j1')]), lambdaContext());

    expect(dynamo.sentOf(DeleteItemCommand)).toEqual([]);
    expect(sqs.sentTo(RETRIES_URL)).toEqual([]);
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([expect.objectContaining({
      body: expect.objectContaining({ jid: 'j1', custom: { debounce: { key: 'k', period: 5 } }, failure: expect.objectContaining({ retry_count: 0 }) }),
    })]);
  });

  it('hands the record back when the item cannot be read', async () => {
    const ran: unknown[] = [];
    const { dynamo, handler } = worker({ Sync: (args) => { ran.push(args[0]); } });
    dynamo.script.push({ error: new Error('table unreachable') });
    const record = debounced('j1');

    const result = await handler(sqsEvent([record]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(ran).toEqual([]);
  });

  it('counts a superseded member of a batch as done in its batch, so the batch still completes', async () => {
    const { dynamo, handler } = worker({ Sync: () => undefined });
    dynamo.script.push(holder('j9'));

    await handler(sqsEvent([debounced('j1', { bid: 'b1' })]), lambdaContext());

    expect(dynamo.sentOf(UpdateItemCommand)[0]?.input).toMatchObject({ Key: { sk: { S: 'job#j1' } }, ExpressionAttributeValues: expect.objectContaining({ ':to': { S: 'succeeded' } }) });
  });

  it('runs the job and says so when a later job took the key while it ran (that one runs too)', async () => {
    const { dynamo, log, handler } = worker({ Sync: () => undefined });
    dynamo.script.push(holder('j1'), conditionFailed({ jid: { S: 'j2' } }));

    await handler(sqsEvent([debounced('j1')]), lambdaContext());

    expect(log.lines.some((line) => line.message === 'a later job of the debounce key was enqueued while this one ran; it runs too')).toBe(true);
  });
});
