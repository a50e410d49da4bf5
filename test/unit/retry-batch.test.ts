import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { failureEnvelope } from '../../lib/job/envelope.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { ScriptedDynamo } from './state-fake.js';
import { FakeSqs, RETRIES_URL, TEST_ENV, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const FAILED_AT = new Date('2026-11-22T12:00:00.000Z');

function setup() {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const order: string[] = [];
  const puts: { set: string; jid: string }[] = [];
  dynamo.onSend = (command) => { order.push(command.constructor.name); };
  const handler = createRetryHandler({
    env: TEST_ENV,
    sqs: { send: (command: SendMessageBatchCommand) => { order.push('SendMessageBatch'); return sqs.send(command); } },
    stateTable: { putSetEntry: async (set, entry) => { order.push(`put ${set}`); puts.push({ set, jid: 'job' in entry ? entry.job.jid : entry.jid }); return { pk: '', sk: '' }; } },
    dynamo,
    now: () => FAILED_AT,
    log: memoryLog().sink,
  });
  return { sqs, dynamo, order, puts, handler };
}

function batchJob(fields: { retry?: number; previous?: number; custom?: Record<string, unknown> } = {}): Job {
  return normalizeJob({
    jid: 'j1',
    jobtype: 'Row',
    args: [1],
    created_at: '2026-11-22T11:00:00.000Z',
    custom: fields.custom ?? { bid: 'b1' },
    ...(fields.retry === undefined ? {} : { retry: fields.retry }),
    ...(fields.previous === undefined ? {} : { failure: { retry_count: fields.previous, failed_at: '2026-11-22T11:30:00.000Z', message: 'x', errtype: 'Error' } }),
  }, { now: FAILED_AT });
}

/** The outcome writes on job items (lib/batch/plan.ts `planOutcome`). */
const outcomeWrites = (dynamo: ScriptedDynamo) => dynamo.sentOf(UpdateItemCommand).map((command) => command.input).filter((input) => input.Key?.sk?.S?.startsWith('job#') === true);

const envelope = (job: Job) => sqsRecord({ queueUrl: RETRIES_URL, body: failureEnvelope({ queue: job.queue, job, error: new Error('upstream down'), now: FAILED_AT }) });

describe('the retry function and batches', () => {
  it('marks a first failure in its batch before sending the retry', async () => {
    const { dynamo, order, handler } = setup();

    await expect(handler(sqsEvent([envelope(batchJob())]))).resolves.toEqual({ batchItemFailures: [] });

    expect(order).toEqual(['UpdateItemCommand', 'SendMessageBatch']);
    const mark = outcomeWrites(dynamo)[0];
    expect(mark).toMatchObject({ Key: { sk: { S: 'job#j1' } }, ConditionExpression: 'attribute_not_exists(#status) OR #status IN (:from0)' });
    expect(mark?.ExpressionAttributeValues).toMatchObject({ ':from0': { S: 'pending' }, ':to': { S: 'failed' } });
  });

  it('hands the record back without sending the retry when the mark fails', async () => {
    const { sqs, dynamo, handler } = setup();
    dynamo.script.push({ error: Object.assign(new Error('the table cannot be reached'), { name: 'InternalServerError' }) });
    const record = envelope(batchJob());

    await expect(handler(sqsEvent([record]))).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(sqs.batches).toEqual([]);
  });

  it('writes nothing for a later failure: the job is already marked failed', async () => {
    const { dynamo, handler } = setup();

    await handler(sqsEvent([envelope(batchJob({ previous: 0 }))]));

    expect(dynamo.sent).toEqual([]);
  });

  it('marks a job dead in its batch after putting it in the dead set', async () => {
    const { dynamo, order, puts, handler } = setup();

    await handler(sqsEvent([envelope(batchJob({ retry: 0 }))]));

    expect(puts).toEqual([{ set: 'dead', jid: 'j1' }]);
    expect(order).toEqual(['put dead', 'UpdateItemCommand']);
    expect(outcomeWrites(dynamo)[0]?.ExpressionAttributeValues).toMatchObject({ ':to': { S: 'dead' }, ':from0': { S: 'pending' }, ':from1': { S: 'failed' } });
  });

  it('marks a job that dies after retries dead, over the failed mark of its first failure', async () => {
    const { dynamo, handler } = setup();

    await handler(sqsEvent([envelope(batchJob({ retry: 2, previous: 1 }))]));

    expect(outcomeWrites(dynamo)).toHaveLength(1);
    expect(outcomeWrites(dynamo)[0]?.ExpressionAttributeValues).toMatchObject({ ':to': { S: 'dead' }, ':from1': { S: 'failed' } });
  });

  it('releases the unique lock of a job that died', async () => {
    const { dynamo, handler } = setup();

    await handler(sqsEvent([envelope(batchJob({ retry: 0, custom: { unique_for: 60 } }))]));

    expect(dynamo.sentOf(DeleteItemCommand).map((command) => command.input.ExpressionAttributeValues)).toEqual([{ ':jid': { S: 'j1' } }]);
    expect(outcomeWrites(dynamo)).toEqual([]);
  });
});
