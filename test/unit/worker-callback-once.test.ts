/**
 * A batch callback job runs once even when the batch function sent it twice (it crashed between
 * the send and marking the callback sent): the worker claims the run per SQS message on the batch
 * item, and a second message of the same callback is acknowledged without running.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { callbackJid } from '../../lib/batch/callbacks.js';
import { createWorker } from '../../lib/worker/index.js';
import { ScriptedDynamo, conditionFailed } from './state-fake.js';
import { FakeSqs, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const BID = 'b1';

function setup() {
  const sqs = new FakeSqs();
  const dynamo = new ScriptedDynamo();
  const ran: string[] = [];
  const log = memoryLog();
  const handler = createWorker({
    jobs: { Done: (_args, ctx) => { ran.push(ctx.jid); } },
    env: TEST_ENV,
    clients: { sqs, dynamo },
    now: () => NOW,
    log: log.sink,
  });
  return { sqs, dynamo, ran, log, handler };
}

function callbackRecord(messageId: string, extra: Record<string, unknown> = {}) {
  return sqsRecord({ messageId, body: { jid: callbackJid(BID, 'success'), jobtype: 'Done', args: [{ bid: BID, event: 'success' }], custom: { callback: { bid: BID, event: 'success' } }, ...extra } });
}

describe('a worker running batch callback jobs', () => {
  it('claims the run for its message on the batch item, runs the job, then marks it done', async () => {
    const { dynamo, ran, handler } = setup();

    const result = await handler(sqsEvent([callbackRecord('m-1')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual([callbackJid(BID, 'success')]);
    const [claim, done] = dynamo.sentOf(UpdateItemCommand);
    expect(claim?.input).toMatchObject({
      Key: { pk: { S: `batch#${BID}` }, sk: { S: 'batch' } },
      UpdateExpression: 'SET #run = :message',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#done) AND (attribute_not_exists(#run) OR #run = :message)',
      ExpressionAttributeNames: { '#run': 'success_run_by', '#done': 'success_done_at' },
      ExpressionAttributeValues: { ':message': { S: 'm-1' } },
    });
    expect(done?.input).toMatchObject({
      Key: { pk: { S: `batch#${BID}` }, sk: { S: 'batch' } },
      UpdateExpression: 'SET #done = :now',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#done)',
      ExpressionAttributeNames: { '#done': 'success_done_at' },
      ExpressionAttributeValues: { ':now': { S: NOW.toISOString() } },
    });
  });

  it('does not run a copy of a callback job that already ran to success, even its own message delivered again', async () => {
    const { dynamo, ran, log, handler } = setup();
    dynamo.script.push(conditionFailed({ pk: { S: `batch#${BID}` }, sk: { S: 'batch' }, success_run_by: { S: 'm-1' }, success_done_at: { S: '2026-11-22T11:59:00.000Z' } }));

    const result = await handler(sqsEvent([callbackRecord('m-1')]), lambdaContext());

    expect({ result, ran }).toEqual({ result: { batchItemFailures: [] }, ran: [] });
    expect(log.lines.find((line) => line.message === 'batch callback job already ran; this copy is not run')).toMatchObject({ bid: BID, event: 'success', message_id: 'm-1' });
  });

  it('acknowledges a second message of the same callback without running it', async () => {
    const { dynamo, sqs, ran, log, handler } = setup();
    dynamo.script.push(conditionFailed({ pk: { S: `batch#${BID}` }, sk: { S: 'batch' }, success_run_by: { S: 'm-1' } }));

    const result = await handler(sqsEvent([callbackRecord('m-2')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual([]);
    expect(sqs.sentTo(RETRIES_URL)).toEqual([]);
    expect(log.lines.find((line) => line.message === 'batch callback job sent twice; this copy is not run')).toMatchObject({ bid: BID, event: 'success', message_id: 'm-2' });
  });

  it('runs the job when its batch is gone (nothing to check against)', async () => {
    const { dynamo, ran, handler } = setup();
    dynamo.script.push(conditionFailed());

    await handler(sqsEvent([callbackRecord('m-1')]), lambdaContext());

    expect(ran).toHaveLength(1);
  });

  it('hands the record back, without running it, when the claim cannot be written', async () => {
    const { dynamo, ran, handler } = setup();
    dynamo.script.push({ error: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }) });

    const result = await handler(sqsEvent([callbackRecord('m-1')]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(ran).toEqual([]);
  });

  it('lets a retry of a callback job (it failed before) take the run over, unless the job is done', async () => {
    const { dynamo, ran, handler } = setup();
    const retried = callbackRecord('m-9', { failure: { retry_count: 0, failed_at: '2026-11-22T11:59:00.000Z', message: 'x', errtype: 'Error' } });

    await handler(sqsEvent([retried]), lambdaContext());

    expect(ran).toHaveLength(1);
    expect(dynamo.sentOf(UpdateItemCommand)[0]?.input).toMatchObject({ ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#done)', ExpressionAttributeValues: { ':message': { S: 'm-9' } } });
  });

  it('ignores the marker on a job that is not the callback job it names (another jid)', async () => {
    const { dynamo, ran, handler } = setup();
    const forged = sqsRecord({ messageId: 'm-1', body: { jid: 'j1', jobtype: 'Done', custom: { callback: { bid: BID, event: 'success' } } } });

    await handler(sqsEvent([forged]), lambdaContext());

    expect(ran).toEqual(['j1']);
    expect(dynamo.sentOf(UpdateItemCommand)).toEqual([]);
  });
});
