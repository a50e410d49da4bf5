import { randomUUID } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { failureEnvelope } from '../../lib/job/envelope.js';
import { ConfigurationError, UnrecoverableJobError } from '../../lib/errors/base.js';
import { normalizeJob, type Job, type JobFailure } from '../../lib/job/model.js';
import { setEntryKey } from '../../lib/storage/keys.js';
import { createRetryHandler, planRetry } from '../../lib/retry/handler.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { StartMarks } from '../../lib/storage/start-marks.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { field } from '../fixtures/json.js';
import { FakeSqs, arnOf, QUEUE_URLS, RETRIES_URL, TEST_ENV, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const FAILED_AT = new Date('2026-11-22T12:00:00.000Z');
const T0 = FAILED_AT.getTime();
const DAY_S = 86_400;

function makeJob(fields: { jid?: string; queue?: string; retry?: number; previous?: number } = {}): Job {
  const failure: JobFailure | undefined = fields.previous === undefined ? undefined : { retry_count: fields.previous, failed_at: '2026-11-21T00:00:00.000Z', message: 'earlier', errtype: 'Error' };
  return normalizeJob({
    jobtype: 'SendEmail',
    args: ['a@example.com'],
    jid: fields.jid ?? 'job-1',
    created_at: '2026-11-20T00:00:00.000Z',
    ...(fields.queue === undefined ? {} : { queue: fields.queue }),
    ...(fields.retry === undefined ? {} : { retry: fields.retry }),
    ...(failure === undefined ? {} : { failure }),
  }, { now: FAILED_AT });
}

function envelopeRecord(job: Job, options: { unrecoverable?: boolean; error?: Error } = {}) {
  const error = options.error ?? Object.assign(new Error('smtp timeout'), { name: 'TimeoutError', stack: 'TimeoutError: smtp timeout\n    at send (mail.ts:10:5)' });
  return sqsRecord({ queueUrl: RETRIES_URL, body: failureEnvelope({ queue: job.queue, job, error, now: FAILED_AT, ...(options.unrecoverable === undefined ? {} : { unrecoverable: options.unrecoverable }) }) });
}

describe('the retry handler', () => {
  let sqs: FakeSqs;
  let dynamo: FakeDynamo;
  let clock: Date;
  let log: ReturnType<typeof memoryLog>;
  let handler: ReturnType<typeof createRetryHandler>;

  beforeEach(() => {
    sqs = new FakeSqs();
    dynamo = new FakeDynamo();
    clock = FAILED_AT;
    log = memoryLog();
    handler = createRetryHandler({ env: TEST_ENV, sqs, dynamo, stateTable: new StateTable(dynamo, TEST_ENV.HOPPER_STATE_TABLE), now: () => clock, log: log.sink });
  });

  /** What a worker writes before it runs a job delivered again (the run that then crashed). */
  async function markStarted(job: Job): Promise<void> {
    await new StartMarks({ tableName: TEST_ENV.HOPPER_STATE_TABLE, client: dynamo }).mark(job);
  }

  /** The items of one sorted set, as stored. */
  function itemsOf(set: string) {
    return [...dynamo.items.values()].filter((item) => item.pk?.S?.startsWith(`${set}#`));
  }

  it('sends a first failure back to its queue with the backoff as DelaySeconds and the failure recorded', async () => {
    const job = makeJob();

    const result = await handler(sqsEvent([envelopeRecord(job)]));

    expect(result).toEqual({ batchItemFailures: [] });
    // Seeded by "job-1#0": 15 + 4 s of jitter.
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{
      delaySeconds: 19,
      body: {
        ...job,
        enqueued_at: '2026-11-22T12:00:00.000Z',
        failure: {
          retry_count: 0,
          failed_at: '2026-11-22T12:00:00.000Z',
          next_at: '2026-11-22T12:00:19.000Z',
          message: 'smtp timeout',
          errtype: 'TimeoutError',
          backtrace: ['at send (mail.ts:10:5)'],
        },
      },
    }]);
    expect(dynamo.sent).toHaveLength(0);
  });

  it('counts the delay from the failure, not from when the envelope is handled', async () => {
    clock = new Date(T0 + 7_000);

    await handler(sqsEvent([envelopeRecord(makeJob())]));

    expect(sqs.sentTo(QUEUE_URLS.default)[0]?.delaySeconds).toBe(19 - 7);
  });

  it.each([
    { previous: 0, retryCount: 1, delay: 33 },
    { previous: 4, retryCount: 5, delay: 688 },
  ])('re-enqueues retry $retryCount with DelaySeconds $delay (≤ 900)', async ({ previous, retryCount, delay }) => {
    await handler(sqsEvent([envelopeRecord(makeJob({ previous }))]));

    expect(sqs.sentTo(QUEUE_URLS.default)).toMatchObject([{ delaySeconds: delay, body: { failure: { retry_count: retryCount } } }]);
  });

  it('keeps a retry due in more than 15 minutes in the retry set', async () => {
    const job = makeJob({ previous: 5 });

    const result = await handler(sqsEvent([envelopeRecord(job)]));

    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.batches).toHaveLength(0);
    const dueMs = T0 + 1378 * 1000;
    const key = setEntryKey('retry', dueMs, 'job-1');
    expect(itemsOf('retry')).toEqual([expect.objectContaining({
      pk: { S: key.pk },
      sk: { S: key.sk },
      at: { S: '2026-11-22T12:22:58.000Z' },
      retry_count: { N: '6' },
      errtype: { S: 'TimeoutError' },
      error: { S: 'smtp timeout' },
    })]);
    expect(JSON.parse(itemsOf('retry')[0]?.job?.S ?? '{}')).toMatchObject({ jid: 'job-1', failure: { retry_count: 6, next_at: '2026-11-22T12:22:58.000Z' } });
  });

  it('moves a job whose retries are exhausted to the dead set, with its failure and a 180-day TTL', async () => {
    const job = makeJob({ retry: 2, previous: 1 });

    await handler(sqsEvent([envelopeRecord(job)]));

    expect(sqs.batches).toHaveLength(0);
    const key = setEntryKey('dead', T0, 'job-1');
    const [item] = itemsOf('dead');
    expect(item).toMatchObject({
      pk: { S: key.pk },
      sk: { S: key.sk },
      jid: { S: 'job-1' },
      queue: { S: 'default' },
      jobtype: { S: 'SendEmail' },
      failed_at: { S: '2026-11-22T12:00:00.000Z' },
      errtype: { S: 'TimeoutError' },
      error: { S: 'smtp timeout' },
      retry_count: { N: '2' },
      ttl: { N: String(T0 / 1000 + 180 * DAY_S) },
    });
    expect(JSON.parse(item?.job?.S ?? '{}').failure).toEqual({
      retry_count: 2,
      failed_at: '2026-11-22T12:00:00.000Z',
      message: 'smtp timeout',
      errtype: 'TimeoutError',
      backtrace: ['at send (mail.ts:10:5)'],
    });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'job moved to the dead set', jid: 'job-1', reason: 'smtp timeout' }));
  });

  it('honours HOPPER_DEAD_TTL_DAYS', async () => {
    const short = createRetryHandler({ env: { ...TEST_ENV, HOPPER_DEAD_TTL_DAYS: '7' }, sqs, stateTable: new StateTable(dynamo, 'state'), now: () => clock, log: log.sink });

    await short(sqsEvent([envelopeRecord(makeJob({ retry: 0 }))]));

    expect(itemsOf('dead')[0]?.ttl).toEqual({ N: String(T0 / 1000 + 7 * DAY_S) });
  });

  it('sends an unrecoverable failure to the dead set at once, retries left or not', async () => {
    await handler(sqsEvent([envelopeRecord(makeJob(), { unrecoverable: true, error: new UnrecoverableJobError('user 7 no longer exists') })]));

    expect(sqs.batches).toHaveLength(0);
    expect(itemsOf('dead')).toEqual([expect.objectContaining({ errtype: { S: 'UnrecoverableJobError' }, error: { S: 'user 7 no longer exists' }, retry_count: { N: '0' } })]);
  });

  it('treats a job redriven from its queue as a crash and retries it, naming the queue\'s maxReceiveCount as its deliveries', async () => {
    const job = makeJob({ jid: 'job-crash', previous: 1 });
    // Received 3 times from its queue (maxReceiveCount 3), then once more from the retries queue
    // and once by the receive that redrove it: the record's count says 5, the worker saw it 3 times.
    const record = sqsRecord({ queueUrl: RETRIES_URL, body: job, attributes: { ApproximateReceiveCount: '5', DeadLetterQueueSourceArn: arnOf(QUEUE_URLS.default) } });
    const told = createRetryHandler({ env: { ...TEST_ENV, HOPPER_QUEUE_MAX_RECEIVES: '{"default":3,"critical":5}' }, sqs, dynamo, stateTable: new StateTable(dynamo, 'state'), now: () => clock });
    await markStarted(job);

    await told(sqsEvent([record]));

    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{
      delaySeconds: 32,
      body: expect.objectContaining({
        jid: 'job-crash',
        failure: {
          retry_count: 2,
          failed_at: '2026-11-22T12:00:00.000Z',
          next_at: '2026-11-22T12:00:32.000Z',
          message: 'no result after 3 deliveries (the worker crashed or timed out)',
          errtype: 'WorkerCrashed',
        },
      }),
    }]);
  });

  it('shows no number for a crash when the queue\'s maxReceiveCount was not configured', async () => {
    await markStarted(makeJob({ jid: 'job-crash-2' }));
    await handler(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, body: makeJob({ jid: 'job-crash-2' }), attributes: { ApproximateReceiveCount: '5' } })]));

    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => field(field(sent.body, 'failure'), 'message'))).toEqual([
      "no result after its queue's maxReceiveCount deliveries (the worker crashed or timed out)",
    ]);
  });

  it('sends a redriven job that no run began (throttled deliveries) back to its queue unchanged, charging no retry', async () => {
    const job = makeJob({ jid: 'job-throttled', previous: 1 });
    const record = sqsRecord({ queueUrl: RETRIES_URL, body: job, attributes: { ApproximateReceiveCount: '6', DeadLetterQueueSourceArn: arnOf(QUEUE_URLS.default) } });

    const result = await handler(sqsEvent([record]));

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: 0, body: job }]);
    expect(log.lines.map((line) => line.message)).toContain('redriven job never reached a handler (throttled or not started); sent back without charging a retry');
  });

  it('charges the fourth uncharged redrive of the same attempt as a crash', async () => {
    const job = makeJob({ jid: 'job-never-runs' });
    const record = () => sqsRecord({ queueUrl: RETRIES_URL, body: job, attributes: { DeadLetterQueueSourceArn: arnOf(QUEUE_URLS.default) } });

    for (let index = 0; index < 4; index += 1) await handler(sqsEvent([record()]));

    const sent = sqs.sentTo(QUEUE_URLS.default);
    expect(sent.slice(0, 3).map((message) => message.body)).toEqual([job, job, job]);
    expect(field(field(sent[3]?.body, 'failure'), 'errtype')).toBe('WorkerCrashed');
  });

  it('hands a redriven job back when its start mark cannot be read', async () => {
    const failing = { send: async () => { throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }); } };
    const blind = createRetryHandler({ env: TEST_ENV, sqs, dynamo: failing, stateTable: new StateTable(dynamo, 'state'), now: () => clock, log: log.sink });
    const record = sqsRecord({ queueUrl: RETRIES_URL, messageId: 'm-1', body: makeJob({ jid: 'job-unknown' }), attributes: { DeadLetterQueueSourceArn: arnOf(QUEUE_URLS.default) } });

    expect(await blind(sqsEvent([record]))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(sqs.batches).toHaveLength(0);
  });

  it('gives a crashed job without retry the JobSystem default from HOPPER_DEFAULT_RETRY', async () => {
    const noRetries = createRetryHandler({ env: { ...TEST_ENV, HOPPER_DEFAULT_RETRY: '0' }, sqs, dynamo, stateTable: new StateTable(dynamo, 'state'), now: () => clock });
    await markStarted(normalizeJob({ jobtype: 'SendEmail', jid: 'crashed-once' }, { now: FAILED_AT }));

    await noRetries(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, body: { jobtype: 'SendEmail', jid: 'crashed-once' } })]));

    expect(sqs.batches).toHaveLength(0);
    expect(itemsOf('dead')).toEqual([expect.objectContaining({ jid: { S: 'crashed-once' }, errtype: { S: 'WorkerCrashed' } })]);
  });

  it('hands back a batch-stream failure record (redriven from the DLQ it shares) instead of filing it as an invalid job', async () => {
    const body = JSON.stringify({
      requestContext: { requestId: 'r-1', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Batch', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-11-22T12:00:00.000Z',
      DDBStreamBatchInfo: { shardId: 'shardId-0001', startSequenceNumber: '100', endSequenceNumber: '104', approximateArrivalOfFirstRecord: '2026-11-22T11:59:00Z', approximateArrivalOfLastRecord: '2026-11-22T11:59:01Z', batchSize: 5, streamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/State/stream/2026' },
    });
    const job = envelopeRecord(makeJob({ jid: 'beside-it' }));

    const result = await handler(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, messageId: 'stream-1', body }), job]));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'stream-1' }]);
    expect(itemsOf('dead')).toEqual([]);
    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => field(sent.body, 'jid'))).toEqual(['beside-it']);
    expect(log.lines).toContainEqual(expect.objectContaining({
      level: 'ERROR',
      message: 'batch-stream failure record on the retries queue: not a job; handed back to the retries DLQ',
      message_id: 'stream-1',
      stream_records: 'shard shardId-0001, sequence numbers 100 to 104 (RetryAttemptsExhausted)',
      function_arn: 'arn:aws:lambda:us-east-1:123456789012:function:Batch',
    }));
  });

  it('keeps a message that is neither an envelope nor a job in the dead set, under its message id', async () => {
    const record = sqsRecord({ queueUrl: RETRIES_URL, messageId: 'msg-bad', body: '{"args":"oops"', attributes: { SentTimestamp: String(T0) } });
    // Filed under the time it was sent, so a redelivery writes the same item.
    clock = new Date(T0 + 300_000);

    await handler(sqsEvent([record]));

    const key = setEntryKey('dead', T0, 'msg-bad');
    expect(itemsOf('dead')).toEqual([{
      pk: { S: key.pk },
      sk: { S: key.sk },
      jid: { S: 'msg-bad' },
      raw: { S: '{"args":"oops"' },
      errtype: { S: 'InvalidMessage' },
      error: { S: 'body is not JSON' },
      failed_at: { S: '2026-11-22T12:00:00.000Z' },
      ttl: { N: String(T0 / 1000 + 180 * DAY_S) },
    }]);
  });

  it('keeps the raw body a worker could not parse, with the worker’s reason and queue', async () => {
    const envelope = failureEnvelope({ queue: 'critical', raw: 'not json', error: new Error('invalid job: body must be a JSON object'), now: FAILED_AT, unrecoverable: true });

    await handler(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, messageId: 'msg-raw', body: envelope })]));

    expect(itemsOf('dead')).toEqual([expect.objectContaining({ jid: { S: 'msg-raw' }, queue: { S: 'critical' }, raw: { S: 'not json' }, error: { S: 'invalid job: body must be a JSON object' } })]);
  });

  it('sends a job for an undeclared queue to the dead set, saying which queues exist', async () => {
    await handler(sqsEvent([envelopeRecord(makeJob({ queue: 'reports' }))]));

    expect(sqs.batches).toHaveLength(0);
    expect(itemsOf('dead')[0]).toMatchObject({
      errtype: { S: 'UnknownQueue' },
      error: { S: 'queue "reports" is not declared in this JobSystem (declared: default, critical)' },
    });
  });

  it('writes the same item when the same failure is delivered twice', async () => {
    const record = envelopeRecord(makeJob({ previous: 5 }));

    await handler(sqsEvent([record]));
    const first = structuredClone([...dynamo.items.entries()]);
    clock = new Date(T0 + 60_000);
    await handler(sqsEvent([record]));

    expect([...dynamo.items.entries()]).toEqual(first);
    expect(dynamo.sentOf(PutItemCommand)).toHaveLength(2);
  });

  it('batches re-enqueues per queue, ten to a request', async () => {
    const records = [
      ...Array.from({ length: 12 }, (_, i) => envelopeRecord(makeJob({ jid: `d-${i}` }))),
      envelopeRecord(makeJob({ jid: 'c-0', queue: 'critical' })),
    ];

    await handler(sqsEvent(records));

    expect(sqs.batches.map((batch) => [batch.queueUrl, batch.entries.length])).toEqual([
      [QUEUE_URLS.default, 10],
      [QUEUE_URLS.default, 2],
      [QUEUE_URLS.critical, 1],
    ]);
  });

  it('hands back only the records whose move failed', async () => {
    const toDefault = envelopeRecord(makeJob({ jid: 'to-default' }));
    const toCritical = envelopeRecord(makeJob({ jid: 'to-critical', queue: 'critical' }));
    const toDeadFails = envelopeRecord(makeJob({ jid: 'dead-fails', retry: 0 }));
    const toDeadWorks = envelopeRecord(makeJob({ jid: 'dead-works', retry: 0 }));
    sqs.failQueues.set(QUEUE_URLS.critical, Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    dynamo.failPutFor = { jid: 'dead-fails', error: Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }) };

    const result = await handler(sqsEvent([toDefault, toCritical, toDeadFails, toDeadWorks]));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: toCritical.messageId }, { itemIdentifier: toDeadFails.messageId }]);
    expect(sqs.sentTo(QUEUE_URLS.default)).toHaveLength(1);
    expect(itemsOf('dead').map((item) => item.jid?.S)).toEqual(['dead-works']);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', message_id: toCritical.messageId, reason: 'ThrottlingException: throttled' }));
  });

  it('hands back an entry SQS rejects inside a successful batch', async () => {
    const records = [envelopeRecord(makeJob({ jid: 'ok' })), envelopeRecord(makeJob({ jid: 'rejected' }))];
    sqs.failEntry = (entry) => (entry.MessageBody?.includes('"rejected"') === true ? { Code: 'InvalidMessageContents', SenderFault: true, Message: 'bad character' } : undefined);

    const result = await handler(sqsEvent(records));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[1]?.messageId }]);
  });

  it('fails at start when the queue URLs are not configured', () => {
    expect(() => createRetryHandler({ env: { HOPPER_STATE_TABLE: 'state' }, sqs })).toThrow(ConfigurationError);
    expect(() => createRetryHandler({ env: { HOPPER_QUEUE_URLS: '{}' }, sqs })).toThrow(/HOPPER_STATE_TABLE/);
  });
});

describe('planRetry', () => {
  const context = { now: FAILED_AT, queueUrls: QUEUE_URLS, deadTtlDays: 180 };

  it.each([
    { queue: 'critical', receiveCount: '9', message: 'no result after 5 deliveries (the worker crashed or timed out)' },
    { queue: 'default', receiveCount: '', message: 'no result after 1 delivery (the worker crashed or timed out)' },
  ])('counts the deliveries of a crash in $queue by its maxReceiveCount, not the record\'s receive count ($receiveCount)', ({ queue, receiveCount, message }) => {
    const record = sqsRecord({ queueUrl: RETRIES_URL, body: makeJob({ jid: `j-${randomUUID()}`, queue }), attributes: { ApproximateReceiveCount: receiveCount } });

    const action = planRetry(record, { ...context, maxReceives: { default: 1, critical: 5 } });

    expect(action.kind).toBe('enqueue');
    expect(action.kind === 'enqueue' ? action.job.failure?.message : undefined).toBe(message);
  });

  it('sends a redriven job without a queue field back to the queue SQS redrove it from', () => {
    const record = sqsRecord({
      queueUrl: RETRIES_URL,
      body: { jid: 'no-queue-field', jobtype: 'SendEmail', args: [] },
      attributes: { ApproximateReceiveCount: '3', DeadLetterQueueSourceArn: arnOf(QUEUE_URLS.critical) },
    });

    const action = planRetry(record, context);

    expect(action.kind === 'enqueue' ? [action.queueUrl, action.job.queue] : action.kind).toEqual([QUEUE_URLS.critical, 'critical']);
  });
});
