/**
 * The local runtime runs DynamoDB stream mappings, EventBridge Scheduler schedules and function
 * URLs from the template. Driven from the outside: DynamoDB writes, the clock offset, HTTP.
 */
import { DescribeTableCommand, DescribeTimeToLiveCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { ONE_TIME_SCHEDULE_AT } from '../fixtures/stacks/events-stack.js';
import { dynamoClient, eventually, FIXTURE_APP, printRuntimeLogsOnFailure, logicalIdOf, observations, sqsClient, type Observation } from '../fixtures/local-helpers.js';

let local: LocalRuntime;
let sqs: SQSClient;
let dynamo: DynamoDBClient;
const logs = new LogCollector();
printRuntimeLogsOnFailure(logs);

beforeAll(async () => {
  // Quick async retries: a schedule target that fails once (a cold DynamoDB Local) is retried in time for the test.
  local = await startLocal({ app: FIXTURE_APP, stack: 'LocalEvents', logs: logs.sink, asyncRetryDelaysMs: [500, 1_000] });
  sqs = sqsClient(local);
  dynamo = dynamoClient(local);
});

afterAll(async () => {
  sqs?.destroy();
  dynamo?.destroy();
  await local?.stop();
});

async function seen(pk: string, count = 1, timeoutMs = 15_000): Promise<Observation[]> {
  return eventually(
    async () => {
      const found = await observations(local, dynamo, pk);
      return found.length >= count ? found : undefined;
    },
    timeoutMs,
    `${count} observation(s) of ${pk}`,
  );
}

async function putItem(item: Record<string, { S: string } | { N: string } | { BOOL: boolean }>): Promise<void> {
  await dynamo.send(new PutItemCommand({ TableName: local.tableName(logicalIdOf(local.tables, 'Items')), Item: item }));
}

async function receiveOne(queuePrefix: string, timeoutMs: number): Promise<string> {
  const url = local.queueUrl(logicalIdOf(local.queues, queuePrefix));
  return eventually(
    async () => {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
      return received.Messages?.[0]?.Body;
    },
    timeoutMs,
    `a message on ${queuePrefix}`,
  );
}

describe('tables', () => {
  it('creates a table with the template keys, index, billing, stream and TTL', async () => {
    const tableName = local.tableName(logicalIdOf(local.tables, 'Items'));
    const { Table: table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    expect(table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table?.GlobalSecondaryIndexes?.map((index) => [index.IndexName, index.KeySchema, index.Projection?.ProjectionType])).toEqual([['byKind', [{ AttributeName: 'kind', KeyType: 'HASH' }], 'ALL']]);
    expect(table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });
});

describe('DynamoDB stream mappings', () => {
  it('delivers an INSERT shaped like Lambda DynamoDB stream event', async () => {
    await putItem({ pk: { S: 'insert-1' }, kind: { S: 'fruit' }, count: { N: '3' } });

    const [first] = await seen('stream#insert-1');
    const table = local.tables.find((candidate) => candidate.logicalId.startsWith('Items'));
    expect(first?.sk).toBe('INSERT#1');
    expect(first?.data.record).toMatchObject({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      eventVersion: '1.1',
      awsRegion: 'us-east-1',
      eventSourceARN: table?.streamArn,
      dynamodb: {
        Keys: { pk: { S: 'insert-1' } },
        NewImage: { pk: { S: 'insert-1' }, kind: { S: 'fruit' }, count: { N: '3' } },
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    const created = Reflect.get(Reflect.get(first?.data.record ?? {}, 'dynamodb') ?? {}, 'ApproximateCreationDateTime');
    expect(typeof created).toBe('number');
    expect(Math.abs(Number(created) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('delivers a MODIFY with the old and new images', async () => {
    await putItem({ pk: { S: 'modify-1' }, kind: { S: 'a' } });
    await seen('stream#modify-1');
    await putItem({ pk: { S: 'modify-1' }, kind: { S: 'b' } });

    const modified = (await seen('stream#modify-1', 2)).find((item) => item.sk.startsWith('MODIFY'));
    expect(modified?.data.record).toMatchObject({ eventName: 'MODIFY', dynamodb: { OldImage: { kind: { S: 'a' } }, NewImage: { kind: { S: 'b' } } } });
  });

  it('retries a batch from the record it reported as failed', async () => {
    await putItem({ pk: { S: 'retry-1' }, fail: { BOOL: true }, failTimes: { N: '1' } });

    const attempts = await seen('stream#retry-1', 2);
    expect(attempts.map((item) => item.sk)).toEqual(['INSERT#1', 'INSERT#2']);
  });

  it('gives up after MaximumRetryAttempts, sends the batch to the OnFailure queue and moves on', async () => {
    const table = local.tables.find((candidate) => candidate.logicalId.startsWith('Items'));
    await putItem({ pk: { S: 'doomed-1' }, fail: { BOOL: true } });

    const failure = JSON.parse(await receiveOne('StreamFailures', 20_000));
    expect(failure).toMatchObject({ requestContext: { condition: 'RetryAttemptsExhausted' }, DDBStreamBatchInfo: { batchSize: 1, streamArn: table?.streamArn } });
    // One attempt and two retries.
    expect((await seen('stream#doomed-1', 3)).map((item) => item.sk)).toEqual(['INSERT#1', 'INSERT#2', 'INSERT#3']);
    await putItem({ pk: { S: 'after-doomed' } });
    expect((await seen('stream#after-doomed')).map((item) => item.sk)).toEqual(['INSERT#1']);
  });
});

describe('EventBridge Scheduler schedules', () => {
  it('fires a rate schedule when the runtime starts, and never a disabled one', async () => {
    // On a loaded machine the first invocation's cold start can take longer than the default wait.
    const [tick] = await seen('tick#rate', 1, 45_000);
    expect(tick?.data.event).toEqual({ name: 'rate' });
    expect(local.schedules().find((schedule) => schedule.logicalId.startsWith('Disabled'))).toMatchObject({ enabled: false, nextFireAt: undefined });
    expect(await observations(local, dynamo, 'tick#disabled')).toEqual([]);
  });

  it('fires a cron schedule at its time in its time zone on the shifted clock, with the scheduled time filled in', async () => {
    // The next 03:00 in Paris, found without the runtime's cron code: Paris is a whole number of hours off UTC.
    const paris = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    let nightly = Math.ceil(Date.now() / 3_600_000) * 3_600_000;
    while (paris.format(nightly) !== '03:00') nightly += 3_600_000;
    const offset = nightly - 1_500 - Date.now();
    local.setClockOffset(offset);

    const [tick] = await seen('tick#cron', 1, 10_000);
    expect(tick?.data.event).toEqual({ name: 'cron', scheduledTime: new Date(nightly).toISOString().replace('.000Z', 'Z') });
    // The function sees the offset the runtime runs with.
    expect(Math.abs(Number(tick?.data.clockOffsetMs) - offset)).toBeLessThan(1_000);
  });

  it('fires a one-time schedule into its queue when the clock reaches it', async () => {
    local.setClockOffset(ONE_TIME_SCHEDULE_AT.getTime() - 1_500 - Date.now());

    expect(await receiveOne('ScheduledQueue', 10_000)).toBe('one-time at 2040-01-01T00:00:00Z');
    local.setClockOffset(0);
  });
});

describe('asynchronous invocations', () => {
  it('retries a failed asynchronous invocation as often as its EventInvokeConfig allows', async () => {
    const name = local.functions.find((fn) => fn.logicalId.startsWith('RetryOnceTick'))?.name ?? '';
    const response = await fetch(`${local.endpoints.lambda}/2015-03-31/functions/${name}/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: JSON.stringify({ name: 'async-fail', fail: true }),
    });
    expect(response.status).toBe(202);

    expect(await seen('tick#async-fail', 2)).toHaveLength(2);
    // The retry delays are 0.5 s then 1 s here; a third attempt would have come by now.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await observations(local, dynamo, 'tick#async-fail')).toHaveLength(2);
    expect(logs.from('hopper').filter((line) => line.includes('tick async-fail asked to fail')).at(-1)).toContain('no retries left');
  });
});

describe('function URLs', () => {
  const echoUrl = () => local.functionUrl(logicalIdOf(local.functions, 'Echo'));

  it('round-trips a request and response through the function URL payload format 2.0', async () => {
    const response = await fetch(`${echoUrl()}orders/42?a=1&a=2&b=3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'yes', cookie: 'c1=v1; c2=v2' },
      body: JSON.stringify({ hello: 'world' }),
    });

    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('yes');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    const event: unknown = await response.json();
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/orders/42',
      rawQueryString: 'a=1&a=2&b=3',
      queryStringParameters: { a: '1,2', b: '3' },
      cookies: ['c1=v1', 'c2=v2'],
      headers: { 'content-type': 'application/json', 'x-custom': 'yes' },
      requestContext: { http: { method: 'POST', path: '/orders/42' }, routeKey: '$default', stage: '$default', accountId: 'anonymous' },
      body: '{"hello":"world"}',
      isBase64Encoded: false,
    });
  });

  it('passes binary bodies base64-encoded both ways', async () => {
    const request = await fetch(`${echoUrl()}upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([1, 2, 3]) });
    expect(await request.json()).toMatchObject({ body: Buffer.from([1, 2, 3]).toString('base64'), isBase64Encoded: true });

    const response = await fetch(`${echoUrl()}binary`);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([0, 1, 2, 250, 255]);
  });

  it('answers 200 JSON for a result without statusCode, and 502 when the function throws', async () => {
    const plain = await fetch(`${echoUrl()}plain`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(await plain.json()).toEqual({ plain: true, path: '/plain' });

    const failing = await fetch(`${echoUrl()}throw`);
    expect(failing.status).toBe(502);
  });

  it('answers CORS preflights from the template configuration', async () => {
    const preflight = await fetch(`${echoUrl()}orders`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET,POST');
  });
});
