/**
 * The local partition limit (local/dynamodb/front.ts before DynamoDB Local): writes past a
 * partition key's throughput are refused as DynamoDB refuses them, to the AWS SDK and to a client
 * no one here wrote (Debian's boto3), and a refused write writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_IDENTITY, localAwsEnv, startEmulators, type Emulators } from '../../local/emulators.js';
import { KEY_RANGE_WRITE_REASON, startDynamoFront, type DynamoFront } from '../../local/dynamodb/front.js';
import { processEnv, PYTHON, run } from './polyglot-process.js';

/** Write units a second per partition key: low, so that a burst of requests passes it at once. */
const LIMIT = 20;
const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };
let emulators: Emulators;
/** No retries: each refusal is seen as it is. */
let dynamodb: DynamoDBClient;
/** A second front over the same DynamoDB Local whose clock stands still: its buckets never refill. */
let frozen: DynamoFront;
let frozenDynamodb: DynamoDBClient;
const table = `limit-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  emulators = await startEmulators({ partitionLimit: { writeUnitsPerSecond: LIMIT } });
  dynamodb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: LOCAL_IDENTITY.region, credentials, maxAttempts: 1 });
  await dynamodb.send(new CreateTableCommand({
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }));
  const target = emulators.dynamodbFront?.target ?? '';
  frozen = await startDynamoFront({ port: 0, target, limit: { writeUnitsPerSecond: LIMIT }, region: LOCAL_IDENTITY.region, accountId: LOCAL_IDENTITY.accountId, credentials, now: () => 0 });
  frozenDynamodb = new DynamoDBClient({ endpoint: frozen.url, region: LOCAL_IDENTITY.region, credentials, maxAttempts: 1 });
}, 120_000);

afterAll(async () => {
  dynamodb?.destroy();
  frozenDynamodb?.destroy();
  await frozen?.close();
  await emulators?.stop();
});

beforeEach(() => emulators.dynamodbFront?.reset());

const put = (pk: string, sk: string) => dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, sk: { S: sk } } }));
const frozenPut = (pk: string, sk: string) => frozenDynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, sk: { S: sk } } }));
const exists = async (pk: string, sk: string) => (await dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))).Item !== undefined;

describe('a hot partition key', () => {
  it('is throttled past its units with DynamoDB\'s error and reason, and a refused put writes nothing', async () => {
    const pk = `hot-${randomUUID()}`;
    const outcomes = await Promise.allSettled(Array.from({ length: 3 * LIMIT }, (_, index) => put(pk, `s${index}`)));
    const refused = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [{ index, error: outcome.reason as Error & { ThrottlingReasons?: unknown } }] : []));
    expect(refused.length).toBeGreaterThan(LIMIT / 2);
    const [first] = refused;
    expect(first?.error.name).toBe('ProvisionedThroughputExceededException');
    expect(first?.error.ThrottlingReasons).toEqual([{ reason: KEY_RANGE_WRITE_REASON, resource: `arn:aws:dynamodb:${LOCAL_IDENTITY.region}:${LOCAL_IDENTITY.accountId}:table/${table}` }]);
    expect(await exists(pk, `s${first?.index ?? -1}`)).toBe(false);
    const report = emulators.dynamodbFront?.report().find((entry) => entry.partition === JSON.stringify({ S: pk }));
    expect(report?.throttled).toBe(refused.length);
    expect(report?.units).toBe(3 * LIMIT - refused.length);
  });

  it('leaves the same burst spread over keys alone', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 3 * LIMIT }, (_, index) => put(`cool-${index}-${randomUUID()}`, 's')));
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
  });

  it('counts an update by its key and values: a 3 KB update takes 4 units', async () => {
    const pk = `big-${randomUUID()}`;
    await frozenDynamodb.send(new UpdateItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: 's' } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'x'.repeat(3 * 1024) } } }));
    expect(frozen.report().find((entry) => entry.partition === JSON.stringify({ S: pk }))?.units).toBe(4);
  });

  it('cancels a transaction with a ThrottlingError on its hot item, and writes none of it', async () => {
    const pk = `tx-${randomUUID()}`;
    await Promise.allSettled(Array.from({ length: LIMIT }, (_, index) => frozenPut(pk, `fill${index}`)));
    const cool = `cool-${randomUUID()}`;
    const error = await frozenDynamodb.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: table, Item: { pk: { S: cool }, sk: { S: 's' } } } },
      { Put: { TableName: table, Item: { pk: { S: pk }, sk: { S: 'tx' } } } },
    ] })).then(() => undefined, (caught: unknown) => caught as Error & { CancellationReasons?: { Code?: string }[] });
    expect(error?.name).toBe('TransactionCanceledException');
    expect(error?.CancellationReasons?.map((reason) => reason.Code)).toEqual(['None', 'ThrottlingError']);
    expect(await exists(cool, 's')).toBe(false);
  });

  it('returns a batch write\'s hot items unprocessed and writes its cool ones', async () => {
    const pk = `batch-${randomUUID()}`;
    await Promise.allSettled(Array.from({ length: LIMIT }, (_, index) => frozenPut(pk, `fill${index}`)));
    const cool = `cool-${randomUUID()}`;
    const output = await frozenDynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: [
      { PutRequest: { Item: { pk: { S: cool }, sk: { S: 's' } } } },
      { PutRequest: { Item: { pk: { S: pk }, sk: { S: 'batched' } } } },
    ] } }));
    expect(output.UnprocessedItems?.[table]).toEqual([{ PutRequest: { Item: { pk: { S: pk }, sk: { S: 'batched' } } } }]);
    expect(await exists(cool, 's')).toBe(true);
    expect(await exists(pk, 'batched')).toBe(false);
  });

  it('is refused to boto3 as the same exception', async () => {
    const pk = `py-${randomUUID()}`;
    const script = [
      'import boto3, json, sys',
      'from concurrent.futures import ThreadPoolExecutor',
      'from botocore.config import Config',
      `client = boto3.client("dynamodb", endpoint_url=${JSON.stringify(emulators.endpoints.dynamodb)}, config=Config(retries={"max_attempts": 0}))`,
      'def put(i):',
      '    try:',
      `        client.put_item(TableName=${JSON.stringify(table)}, Item={"pk": {"S": ${JSON.stringify(pk)}}, "sk": {"S": str(i)}})`,
      '        return "ok"',
      '    except client.exceptions.ProvisionedThroughputExceededException as error:',
      '        return error.response["Error"]["Code"]',
      `with ThreadPoolExecutor(8) as pool: codes = list(pool.map(put, range(${4 * LIMIT})))`,
      'print(json.dumps(sorted(set(codes))))',
    ].join('\n');
    const env = localAwsEnv(emulators.endpoints);
    const { stdout } = await run(PYTHON, ['-c', script], { env: processEnv({ ...env, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey }) });
    expect(JSON.parse(stdout)).toEqual(['ProvisionedThroughputExceededException', 'ok']);
  });
});
