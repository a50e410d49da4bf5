/**
 * Redrive of the retries queue's dead-letter queue on fauxqs (which has no StartMessageMoveTask):
 * lib/admin/redrive.ts moves every message back, bodies and attributes intact, a bounded number per call,
 * and says when the DLQ is empty.
 */
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redrive } from '../../lib/admin/redrive.js';
import { queueCounts, startHarness, type Harness } from './support/harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ queues: ['default'] });
}, 120_000);

afterAll(async () => {
  await harness?.stop();
});

async function newQueue(name: string): Promise<string> {
  const created = await harness.sqs.send(new CreateQueueCommand({ QueueName: `${name}-${randomUUID().slice(0, 8)}` }));
  if (created.QueueUrl === undefined) throw new Error('no queue URL');
  return created.QueueUrl;
}

async function receiveAll(queueUrl: string): Promise<{ body: string; source: string | undefined }[]> {
  const found: { body: string; source: string | undefined }[] = [];
  for (;;) {
    const { Messages: messages = [] } = await harness.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], VisibilityTimeout: 60 }));
    if (messages.length === 0) return found;
    for (const message of messages) found.push({ body: message.Body ?? '', source: message.MessageAttributes?.source?.StringValue });
  }
}

describe('redrive of the retries DLQ', () => {
  it('moves every message back in bounded calls, then reports the DLQ empty', { timeout: 60_000 }, async () => {
    const dlq = await newQueue('retries-dlq');
    const retries = await newQueue('retries');
    const bodies = Array.from({ length: 25 }, (_, index) => JSON.stringify({ hopper: 'failure', queue: 'default', job: { jid: `j${index}`, jobtype: 'A', args: [index] } }));
    for (let index = 0; index < bodies.length; index += 10) {
      await harness.sqs.send(new SendMessageBatchCommand({
        QueueUrl: dlq,
        Entries: bodies.slice(index, index + 10).map((body, offset) => ({ Id: String(offset), MessageBody: body, MessageAttributes: { source: { DataType: 'String', StringValue: 'test' } } })),
      }));
    }

    const first = await redrive(harness.sqs, { from: dlq, to: retries, limit: 10 });
    const second = await redrive(harness.sqs, { from: dlq, to: retries, limit: 10 });
    const third = await redrive(harness.sqs, { from: dlq, to: retries, limit: 10 });
    const fourth = await redrive(harness.sqs, { from: dlq, to: retries, limit: 10 });

    expect([first, second, third, fourth].map((result) => [result.moved, result.failed.length, result.empty])).toEqual([[10, 0, false], [10, 0, false], [5, 0, true], [0, 0, true]]);
    const moved = await receiveAll(retries);
    expect(moved.map((message) => message.body).sort()).toEqual([...bodies].sort());
    expect(new Set(moved.map((message) => message.source))).toEqual(new Set(['test']));
    expect(await queueCounts(harness.sqs, dlq)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('leaves the batch function\'s stream failure records in the DLQ and reports them, moving the jobs', { timeout: 60_000 }, async () => {
    const dlq = await newQueue('retries-dlq');
    const retries = await newQueue('retries');
    // What Lambda sends to the OnFailure destination of the state table's stream mapping.
    const streamFailure = JSON.stringify({
      requestContext: { requestId: 'r-1', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:Batch', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-11-22T12:00:00.000Z',
      DDBStreamBatchInfo: { shardId: 'shardId-0001', startSequenceNumber: '100', endSequenceNumber: '104', approximateArrivalOfFirstRecord: '2026-11-22T11:59:00Z', approximateArrivalOfLastRecord: '2026-11-22T11:59:01Z', batchSize: 5, streamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/State/stream/2026' },
    });
    const job = JSON.stringify({ hopper: 'failure', queue: 'default', job: { jid: 'j-kept', jobtype: 'A', args: [] } });
    await harness.sqs.send(new SendMessageBatchCommand({ QueueUrl: dlq, Entries: [{ Id: '0', MessageBody: job }, { Id: '1', MessageBody: streamFailure }] }));

    const result = await redrive(harness.sqs, { from: dlq, to: retries, limit: 10 });

    expect({ moved: result.moved, failed: result.failed, empty: result.empty, kept: result.kept.map((record) => record.reason) }).toEqual({
      moved: 1,
      failed: [],
      empty: true,
      kept: ['a batch-stream failure record (shard shardId-0001, sequence numbers 100 to 104 (RetryAttemptsExhausted)), not a job: left in the DLQ'],
    });
    expect((await receiveAll(retries)).map((message) => message.body)).toEqual([job]);
    // Still in the DLQ, hidden for the redrive's visibility timeout.
    expect(await queueCounts(harness.sqs, dlq)).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
  });

  it('leaves messages it could not send in the DLQ', { timeout: 60_000 }, async () => {
    const dlq = await newQueue('retries-dlq');
    await harness.sqs.send(new SendMessageBatchCommand({ QueueUrl: dlq, Entries: [{ Id: '0', MessageBody: '{"hopper":"failure"}' }] }));

    const result = await redrive(harness.sqs, { from: dlq, to: `${dlq}-missing`, limit: 10 });

    expect(result.moved).toBe(0);
    expect(result.failed).toHaveLength(1);
    expect(await queueCounts(harness.sqs, dlq)).toMatchObject({ visible: 0, inFlight: 1 });
  });
});
