/**
 * The local runtime runs SQS event source mappings the way Lambda does. Driven only from the
 * outside: messages go in through SQS, functions report what they saw in DynamoDB.
 */
import { createHash } from 'node:crypto';
import { GetQueueAttributesCommand, PurgeQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetEventSourceMappingCommand, LambdaClient, ListEventSourceMappingsCommand, ResourceInUseException, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { LOCAL_DEFAULTS } from '../../local/options.js';
import { dynamoClient, eventually, FIXTURE_APP, printRuntimeLogsOnFailure, logicalIdOf, observations, sqsClient, type Observation } from '../fixtures/local-helpers.js';

let local: LocalRuntime;
let sqs: SQSClient;
let dynamo: DynamoDBClient;
const logs = new LogCollector();
printRuntimeLogsOnFailure(logs);

beforeAll(async () => {
  local = await startLocal({ app: FIXTURE_APP, stack: 'LocalSqs', logs: logs.sink });
  sqs = sqsClient(local);
  dynamo = dynamoClient(local);
});

afterAll(async () => {
  sqs?.destroy();
  dynamo?.destroy();
  await local?.stop();
});

const queue = (prefix: string) => local.queueUrl(logicalIdOf(local.queues, prefix));
const body = (id: string, action: string, ms?: number) => JSON.stringify({ id, action, ...(ms === undefined ? {} : { ms }) });

async function seen(pk: string, count = 1, timeoutMs = 15_000): Promise<Observation[]> {
  return eventually(
    async () => {
      const found = (await observations(local, dynamo, pk)).filter((item) => item.sk !== 'done');
      return found.length >= count ? found : undefined;
    },
    timeoutMs,
    `${count} observation(s) of ${pk}`,
  );
}

async function queueDepth(url: string): Promise<number> {
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

describe('queues', () => {
  it('creates queues with the template attributes, redrive resolved to the local DLQ ARN', async () => {
    const work = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: local.queueUrl('fixture-work'), AttributeNames: ['All'] }));
    const dlq = local.queues.find((candidate) => candidate.logicalId.startsWith('WorkDlq'));
    expect(work.Attributes?.VisibilityTimeout).toBe('3');
    expect(JSON.parse(work.Attributes?.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: dlq?.arn, maxReceiveCount: 2 });
    expect(dlq?.arn).toBe('arn:aws:sqs:us-east-1:000000000000:LocalSqs-WorkDlqEFF57BC6');
    const dlqAttributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue('WorkDlq'), AttributeNames: ['All'] }));
    expect(dlqAttributes.Attributes?.MessageRetentionPeriod).toBe('1209600');
  });
});

describe('queue URLs', () => {
  it('hands out queue URLs on 127.0.0.1 that a plain HTTP request reaches, in the runtime\'s API and in function environments', async () => {
    const url = queue('Whole');
    // The URL a function got in its environment (OTHER_QUEUE_URL) is the same one.
    const sent = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.GetQueueAttributes' },
      body: JSON.stringify({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    });
    const query = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ Action: 'GetQueueUrl', Version: '2012-11-05', QueueName: url.split('/').at(-1) ?? '' }) });

    expect(url).toMatch(new RegExp(`^${local.endpoints.sqs}/000000000000/LocalSqs-Whole[0-9A-F]{8}$`));
    expect(local.endpoints.sqs).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sent.status).toBe(200);
    expect(await sent.json()).toEqual({ Attributes: { QueueArn: local.queues.find((q) => q.url === url)?.arn } });
    expect(query.status).toBe(200);
    expect(await query.text()).toContain(`<GetQueueUrlResult><QueueUrl>${url}</QueueUrl></GetQueueUrlResult>`);
  });
});

describe('function output', () => {
  it('reports an EMF line CloudWatch would drop, naming the function and why, and passes a valid one', async () => {
    const emf = (jobtype: string) => JSON.stringify({
      _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Hopper', Dimensions: [['Queue', 'JobType']], Metrics: [{ Name: 'Processed', Unit: 'Count' }] }] },
      Queue: 'default', JobType: jobtype, Processed: 1,
    });
    const probe = logicalIdOf(local.functions, 'Probe');
    await sqs.send(new SendMessageBatchCommand({
      QueueUrl: local.queueUrl('fixture-work'),
      Entries: [
        { Id: 'bad', MessageBody: JSON.stringify({ id: 'emf-bad', action: 'print', line: emf('Rechnung::Größe') }) },
        { Id: 'good', MessageBody: JSON.stringify({ id: 'emf-good', action: 'print', line: emf('SendEmail') }) },
      ],
    }));

    await seen('emf-bad');
    await seen('emf-good');
    const warnings = await eventually(async () => {
      const found = logs.entries.filter((entry) => entry.level === 'warn' && entry.message.includes('EMF'));
      return found.length > 0 && logs.from(probe).some((line) => line.includes('"SendEmail"')) ? found : undefined;
    }, 10_000, 'the EMF warning');

    expect(warnings).toEqual([{ source: 'hopper', level: 'warn', message: `${probe}: CloudWatch would drop this EMF line and its metrics: dimension JobType is "Rechnung::Größe": not printable ASCII` }]);
  });
});

describe('SQS event source mappings', () => {
  it('delivers a record shaped like Lambda SQS event, with the function environment resolved to local values', async () => {
    const url = local.queueUrl('fixture-work');
    const text = body('shape', 'ok');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: text, MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' } } }));

    const [first] = await seen('shape');
    const data = first?.data ?? {};
    const probe = local.functions.find((fn) => fn.logicalId.startsWith('Probe'));
    const observationsTable = local.tables.find((table) => table.logicalId.startsWith('Observations'));
    expect(first?.sk).toBe('1');
    expect(data.record).toMatchObject({
      body: text,
      md5OfBody: createHash('md5').update(text).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:fixture-work',
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SenderId: '000000000000' },
      messageAttributes: { color: { stringValue: 'blue', stringListValues: [], binaryListValues: [], dataType: 'String' } },
    });
    expect(data.context).toMatchObject({ functionName: probe?.name, memoryLimitInMB: '256', invokedFunctionArn: probe?.arn });
    expect(data.env).toEqual({
      AWS_LAMBDA_FUNCTION_NAME: probe?.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      OTHER_QUEUE_URL: queue('Whole'),
      OTHER_QUEUE_ARN: local.queues.find((q) => q.logicalId.startsWith('Whole'))?.arn,
      JOINED: `fixture-work|${observationsTable?.name ?? ''}`,
      HOPPER_CLOCK_OFFSET_MS: '0',
    });
    const remaining = Number(Reflect.get(data.context ?? {}, 'remaining'));
    expect(remaining).toBeGreaterThan(3_000);
    expect(remaining).toBeLessThanOrEqual(5_000);
    await eventually(async () => ((await queueDepth(url)) === 0 ? true : undefined), 5_000, 'the record to be deleted');
  });

  it('keeps exactly the records a partial batch response reports, until redrive moves them to the DLQ', async () => {
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5'];
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: local.queueUrl('fixture-work'),
        Entries: ids.map((id) => ({ Id: id, MessageBody: body(id, id === 'p2' || id === 'p4' ? 'fail' : 'ok') })),
      }),
    );

    // maxReceiveCount is 2 and the visibility timeout 3 s: the failed records are received twice, then redriven.
    const dlq = queue('WorkDlq');
    const redriven = await eventually(
      async () => {
        const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        return received.Messages !== undefined && received.Messages.length > 0 ? received.Messages : undefined;
      },
      20_000,
      'the failed records in the DLQ',
    );
    const more = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const deadIds = [...redriven, ...(more.Messages ?? [])].map((message) => JSON.parse(message.Body ?? '{}').id).sort();
    expect(deadIds).toEqual(['p2', 'p4']);
    for (const id of ['p1', 'p3', 'p5']) expect((await seen(id)).map((item) => item.sk)).toEqual(['1']);
    for (const id of ['p2', 'p4']) expect((await seen(id, 2)).map((item) => item.sk)).toEqual(['1', '2']);
  });

  it('leaves the whole batch on the queue when the function throws and the mapping does not report item failures', async () => {
    const url = queue('Whole');
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'a', MessageBody: body('w1', 'ok') }, { Id: 'b', MessageBody: body('w2', 'throw') }] }));

    // w1 succeeded in the handler, yet the batch failed: it comes back after the 2 s visibility timeout.
    const w1 = await seen('w1', 2);
    expect(w1.map((item) => item.sk)).toEqual(['1', '2']);
    expect(w1[0]?.data.batchSize).toBe(2);
    expect(logs.from('hopper').some((line) => line.includes('failed a batch of 2') && line.includes('asked to throw by w2'))).toBe(true);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  });

  it('gathers records for the batching window before invoking', async () => {
    const url = queue('Windowed');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body('win1', 'ok') }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'b', MessageBody: body('win2', 'ok') }, { Id: 'c', MessageBody: body('win3', 'ok') }] }));

    for (const id of ['win1', 'win2', 'win3']) expect((await seen(id))[0]?.data.batchSize).toBe(3);
  });

  it('caps in-flight invocations at the mapping MaximumConcurrency', async () => {
    const url = queue('Capped');
    const ids = Array.from({ length: 8 }, (_, index) => `cap${index}`);
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: ids.map((id) => ({ Id: id, MessageBody: body(id, 'sleep', 600) })) }));

    const intervals = await eventually(
      async () => {
        const done = await Promise.all(ids.map(async (id) => (await observations(local, dynamo, id)).find((item) => item.sk === 'done')));
        if (done.some((item) => item === undefined)) return undefined;
        return done.map((item) => ({ start: Number(item?.data.started), end: Number(item?.data.ended) }));
      },
      20_000,
      'all capped invocations',
    );
    const events = intervals.flatMap(({ start, end }) => [
      { at: start, delta: 1 },
      { at: end, delta: -1 },
    ]);
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let inFlight = 0;
    let peak = 0;
    for (const event of events) {
      inFlight += event.delta;
      peak = Math.max(peak, inFlight);
    }
    expect(peak).toBe(2);
  });

  it('kills an invocation past its timeout and lets its message reappear after the visibility timeout', async () => {
    const url = queue('Slow');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body('late', 'sleep', 10_000) }));

    const [first, second] = await seen('late', 2, 15_000);
    const gap = Number(second?.data.started) - Number(first?.data.started);
    // Visibility timeout 3 s, counted from the receive; the function's 1 s timeout does not shorten it.
    // Both starts come after a cold start of their own instance, whose length varies on a busy machine
    // (a gap of 2,858 ms was seen when the first cold start took longer than the second).
    expect(gap).toBeGreaterThanOrEqual(2_500);
    // Upper bound: the visibility timeout plus a cold start of the replacement instance on a busy machine.
    expect(gap).toBeLessThan(9_000);
    expect(second?.sk).toBe('2');
    // The timed-out instance was killed, so the retry ran in a new process.
    expect(second?.data.pid).not.toBe(first?.data.pid);
    expect(logs.from('hopper').some((line) => line.includes('Sandbox.Timedout: Task timed out after 1.00 seconds'))).toBe(true);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  });

  it('fails only the invocation whose instance crashed (exit, uncaught exception, out of memory) and keeps serving', async () => {
    const url = queue('Crash');
    for (const [id, action] of [
      ['crash-exit', 'exit'],
      ['crash-uncaught', 'uncaught'],
      ['crash-oom', 'oom'],
    ] as const) {
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body(id, action) }));
    }
    for (const id of ['crash-exit', 'crash-uncaught', 'crash-oom']) expect((await seen(id, 2, 30_000)).map((item) => item.sk).slice(0, 2)).toEqual(['1', '2']);
    // The runtime logs a crash when it notices the instance exit, which can be a moment after the
    // function's own write that `seen` waits for.
    const expected = ['Runtime.ExitError: Runtime exited with error: exit status 3', 'uncaught error asked for by crash-uncaught', 'Runtime.OutOfMemory'];
    const hopperLines = await eventually(async () => {
      const lines = logs.from('hopper').join('\n');
      return expected.every((text) => lines.includes(text)) ? lines : undefined;
    }, 15_000, 'the runtime to log all three crashes');
    for (const text of expected) expect(hopperLines).toContain(text);

    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body('after-crash', 'ok') }));
    expect((await seen('after-crash')).map((item) => item.sk)).toEqual(['1']);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  });

  it('deletes records that match no filter pattern without invoking the function', async () => {
    const url = queue('Filtered');
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'a', MessageBody: body('filtered-out', 'skip') }, { Id: 'b', MessageBody: body('filtered-in', 'ok') }] }));

    expect((await seen('filtered-in')).map((item) => item.sk)).toEqual(['1']);
    await eventually(async () => ((await queueDepth(url)) === 0 ? true : undefined), 5_000, 'the filtered queue to drain');
    expect(await observations(local, dynamo, 'filtered-out')).toEqual([]);
  });

  it('consumes nothing through a disabled mapping until the Lambda API (through the AWS SDK) enables it', async () => {
    const url = queue('Paused');
    const mapping = local.mappings().find((candidate) => candidate.sourceLogicalId.startsWith('Paused'));
    expect(mapping?.enabled).toBe(false);
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body('paused', 'ok') }));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await observations(local, dynamo, 'paused')).toEqual([]);
    expect(await queueDepth(url)).toBe(1);

    // The AWS SDK's Lambda client, pointed at the runtime, pauses and resumes as it would in AWS.
    const lambda = new LambdaClient({ endpoint: local.endpoints.lambda, region: 'us-east-1', credentials: { accessKeyId: 'hopperlocal', secretAccessKey: 'hopperlocal' } });
    try {
      const queueArn = local.queues.find((q) => q.url === url)?.arn;
      const listed = await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: queueArn }));
      expect(listed.EventSourceMappings?.map((m) => [m.UUID, m.State, m.EventSourceArn])).toEqual([[mapping?.uuid, 'Disabled', queueArn]]);
      const updated = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping?.uuid, Enabled: true }));
      const midChange = await lambda.send(new GetEventSourceMappingCommand({ UUID: mapping?.uuid }));
      // Lambda refuses another update while the mapping is still enabling.
      const refused = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping?.uuid, Enabled: false })).then(() => undefined, (error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, LOCAL_DEFAULTS.mappingUpdateMs));
      const settled = await lambda.send(new GetEventSourceMappingCommand({ UUID: mapping?.uuid }));

      expect([updated.State, midChange.State, settled.State]).toEqual(['Enabling', 'Enabling', 'Enabled']);
      expect(refused).toBeInstanceOf(ResourceInUseException);
      expect(refused instanceof Error ? refused.message : refused).toBe(`Cannot update the event source mapping ${mapping?.uuid}: it is currently in the Enabling state. Try again when the change is done.`);
    } finally {
      lambda.destroy();
    }

    expect((await seen('paused')).map((item) => item.sk)).toEqual(['1']);
    expect(local.mappings().find((candidate) => candidate.uuid === mapping?.uuid)?.enabled).toBe(true);
  });
});
