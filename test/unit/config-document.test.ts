/**
 * The configuration document (issue 16, item 1): the variables that grow with a stack are written
 * into the state table at deploy by a custom resource and read once per function instance.
 */
import { createServer } from 'node:http';
import { QueryCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CONFIG_ITEM, configuredHandler, environmentWithDocument } from '../../lib/config/document.js';
import { createConfigWriter, type CustomResourceEvent } from '../../lib/config/writer.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { FakeDynamo } from './storage-fake-dynamo.js';

const TABLE = 'Shop-StateTable';

function request(type: CustomResourceEvent['RequestType'], properties: Record<string, unknown>, physicalId?: string): CustomResourceEvent {
  return {
    RequestType: type,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/answer',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Shop/guid',
    RequestId: `request-${type}`,
    LogicalResourceId: 'JobsConfigurationDocument',
    ...(physicalId === undefined ? {} : { PhysicalResourceId: physicalId }),
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:Config', ...properties },
  };
}

/** A writer over `dynamo` whose answers are kept instead of PUT, and whose waits are recorded. */
function writer(dynamo: FakeDynamo): { write: ReturnType<typeof createConfigWriter>; answers: { url: string; body: Record<string, unknown> }[]; waits: number[] } {
  const answers: { url: string; body: Record<string, unknown> }[] = [];
  const waits: number[] = [];
  const write = createConfigWriter({
    env: {}, dynamo,
    respond: async (url, body) => { answers.push({ url, body: JSON.parse(body) as Record<string, unknown> }); },
    sleep: async (ms) => { waits.push(ms); },
  });
  return { write, answers, waits };
}

/** `dynamo`, failing its next `count` requests with a transient error. */
function flaky(dynamo: FakeDynamo, count: number): FakeDynamo {
  const send = dynamo.send.bind(dynamo);
  let left = count;
  dynamo.send = (async (command: never) => {
    if (left > 0) {
      left -= 1;
      throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalServerError' });
    }
    return send(command);
  }) as FakeDynamo['send'];
  return dynamo;
}

const DOCUMENT = { TableName: TABLE, Part: 'document', Version: 'v1', Variables: { HOPPER_QUEUE_URLS: '{"default":"https://sqs/q"}', HOPPER_CRONS: '[]' } };
const MAPPINGS = { TableName: TABLE, Part: 'mappings', Version: 'm1', Variables: { HOPPER_QUEUE_MAPPINGS: '{"default":"uuid-1"}' } };

describe('the configuration writer (custom resource)', () => {
  it('puts each part as an item of the config partition and answers SUCCESS with a physical id per table and part', async () => {
    const dynamo = new FakeDynamo();
    const { write, answers } = writer(dynamo);

    await write(request('Create', DOCUMENT));
    await write(request('Create', MAPPINGS));

    expect(dynamo.items.get(`config|document`)).toEqual({
      pk: { S: 'config' }, sk: { S: 'document' }, version: { S: 'v1' }, variables: { S: JSON.stringify(DOCUMENT.Variables) },
    });
    expect(dynamo.items.get(`config|mappings`)?.variables).toEqual({ S: JSON.stringify(MAPPINGS.Variables) });
    expect(answers.map((answer) => answer.body)).toEqual([
      { Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/config/document`, StackId: request('Create', {}).StackId, RequestId: 'request-Create', LogicalResourceId: 'JobsConfigurationDocument' },
      expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/config/mappings` }),
    ]);
    expect(answers[0]?.url).toBe('https://cloudformation-custom-resource-response.example/answer');
  });

  it('overwrites the item on update and removes it on delete', async () => {
    const dynamo = new FakeDynamo();
    const { write, answers } = writer(dynamo);
    await write(request('Create', DOCUMENT));

    await write(request('Update', { ...DOCUMENT, Version: 'v2', Variables: { HOPPER_QUEUE_URLS: '{}' } }, `${TABLE}/config/document`));
    expect(dynamo.items.get('config|document')?.version).toEqual({ S: 'v2' });

    await write(request('Delete', DOCUMENT, `${TABLE}/config/document`));
    expect(dynamo.items.has('config|document')).toBe(false);
    expect(answers.map((answer) => answer.body.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('answers a delete SUCCESS when the table is already gone', async () => {
    const dynamo = new FakeDynamo();
    dynamo.send = (async () => { throw Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' }); }) as FakeDynamo['send'];
    const { write, answers } = writer(dynamo);

    await write(request('Delete', DOCUMENT, `${TABLE}/config/document`));

    expect(answers[0]?.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/config/document` });
  });

  it('answers FAILED with the reason for malformed properties or a failed write, so the deploy rolls back at once', async () => {
    const dynamo = new FakeDynamo();
    const { write, answers } = writer(dynamo);

    await write(request('Create', { ...DOCUMENT, Part: 'everything' }));
    await write(request('Create', { ...DOCUMENT, Variables: { HOPPER_QUEUE_URLS: 7 } }));
    dynamo.failPutFor = undefined;
    dynamo.send = (async () => { throw Object.assign(new Error('User is not authorized to perform: dynamodb:PutItem'), { name: 'AccessDeniedException' }); }) as FakeDynamo['send'];
    await write(request('Create', DOCUMENT));

    expect(answers.map((answer) => [answer.body.Status, answer.body.Reason])).toEqual([
      ['FAILED', 'ConfigurationError: the configuration resource needs Part, one of document, mappings, but "everything" was provided'],
      ['FAILED', 'ConfigurationError: Variables.HOPPER_QUEUE_URLS must be a string, but it is number'],
      ['FAILED', 'AccessDeniedException: User is not authorized to perform: dynamodb:PutItem'],
    ]);
  });

  it('tries a transient failure again, up to five times 0.25 s apart and doubling, before it answers FAILED', async () => {
    const recovering = writer(flaky(new FakeDynamo(), 2));
    await recovering.write(request('Create', DOCUMENT));
    expect(recovering.answers[0]?.body.Status).toBe('SUCCESS');
    expect(recovering.waits).toEqual([250, 500]);

    const failing = writer(flaky(new FakeDynamo(), 5));
    await failing.write(request('Create', DOCUMENT));
    expect(failing.answers[0]?.body).toMatchObject({ Status: 'FAILED', Reason: 'InternalServerError: We encountered an internal error. Please try again.' });
    expect(failing.waits).toEqual([250, 500, 1000, 2000]);
  });

  it('PUTs its answer with an empty content type, as a pre-signed response URL expects', async () => {
    const received: { method?: string; contentType?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
      req.on('end', () => {
        received.push({ method: req.method, contentType: req.headers['content-type'], body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const write = createConfigWriter({ env: {}, dynamo: new FakeDynamo() });
      await write({ ...request('Create', DOCUMENT), ResponseURL: `http://127.0.0.1:${port}/answer?X-Amz-Signature=abc` });
    } finally {
      server.close();
    }
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'PUT', contentType: '' });
    expect(JSON.parse(received[0]?.body ?? '{}')).toMatchObject({ Status: 'SUCCESS' });
  });
});

describe('reading the configuration document', () => {
  async function written(): Promise<FakeDynamo> {
    const dynamo = new FakeDynamo();
    const { write } = writer(dynamo);
    await write(request('Create', DOCUMENT));
    await write(request('Create', MAPPINGS));
    dynamo.sent.length = 0;
    return dynamo;
  }

  it('adds every part\'s variables to the environment with one consistent Query, the environment winning', async () => {
    const dynamo = await written();
    const env = await environmentWithDocument({ HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-1', HOPPER_CRONS: '[{"own":true}]' }, { dynamo });

    expect(env).toEqual({
      HOPPER_STATE_TABLE: TABLE,
      HOPPER_CONFIG: 'read-1',
      HOPPER_QUEUE_URLS: '{"default":"https://sqs/q"}',
      HOPPER_QUEUE_MAPPINGS: '{"default":"uuid-1"}',
      HOPPER_CRONS: '[{"own":true}]',
    });
    expect(dynamo.sentOf(QueryCommand).map((command) => command.input)).toEqual([{
      TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: CONFIG_ITEM.pk } }, ConsistentRead: true,
    }]);
  });

  it('reads once per table and version, and follows the Query\'s pages', async () => {
    const dynamo = await written();
    dynamo.pageSize = 1;
    const env = { HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-2' };

    const [first, second] = await Promise.all([environmentWithDocument(env, { dynamo }), environmentWithDocument(env, { dynamo })]);
    const third = await environmentWithDocument(env, { dynamo });

    expect(first).toEqual(second);
    expect(third.HOPPER_QUEUE_MAPPINGS).toBe('{"default":"uuid-1"}');
    // Two pages of one item each: one read of the document, for three calls.
    expect(dynamo.sentOf(QueryCommand)).toHaveLength(2);
  });

  it('returns the environment as it is when it names no document', async () => {
    const dynamo = await written();
    const env = { HOPPER_QUEUE_URLS: '{}' };

    expect(await environmentWithDocument(env, { dynamo })).toBe(env);
    expect(dynamo.sent).toHaveLength(0);
  });

  it('refuses a missing document, naming the table, and reads again on the next call', async () => {
    const dynamo = new FakeDynamo();
    const env = { HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-3' };

    const missing = environmentWithDocument(env, { dynamo });
    await expect(missing).rejects.toThrow(ConfigurationError);
    await expect(missing).rejects.toThrow(`the configuration items (pk config) of table ${TABLE} are missing, though HOPPER_CONFIG is read-3`);

    await writer(dynamo).write(request('Create', DOCUMENT));
    expect((await environmentWithDocument(env, { dynamo })).HOPPER_QUEUE_URLS).toBe('{"default":"https://sqs/q"}');
  });

  it('tries a transient failure of the read again, twice at most', async () => {
    const dynamo = flaky(await written(), 2);
    const waits: number[] = [];

    const env = await environmentWithDocument({ HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-6' }, { dynamo, sleep: async (ms) => { waits.push(ms); } });

    expect(env.HOPPER_QUEUE_MAPPINGS).toBe('{"default":"uuid-1"}');
    expect(waits).toEqual([100, 200]);
    await expect(environmentWithDocument({ HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-7' }, { dynamo: flaky(await written(), 3), sleep: async () => undefined }))
      .rejects.toThrow('We encountered an internal error');
  });

  it('refuses a part that is not a JSON object of strings, naming its sort key', async () => {
    const dynamo = new FakeDynamo();
    await dynamo.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'config' }, sk: { S: 'document' }, variables: { S: '{"HOPPER_QUEUE_URLS":{}}' } } }));

    await expect(environmentWithDocument({ HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-4' }, { dynamo }))
      .rejects.toThrow(`the configuration items (pk config) of table ${TABLE}, sk document, must hold a JSON object of variable name to string in variables`);
  });

  it('builds a configured handler once, from the environment with the document, and retries a failed start', async () => {
    const dynamo = new FakeDynamo();
    const env = { HOPPER_STATE_TABLE: TABLE, HOPPER_CONFIG: 'read-5' };
    const built: string[] = [];
    const handler = configuredHandler((configured) => {
      built.push(configured.HOPPER_QUEUE_URLS ?? 'none');
      return async (event: number) => event * 2;
    }, env, { dynamo });

    await expect(handler(1)).rejects.toThrow(/are missing/);
    await writer(dynamo).write(request('Create', DOCUMENT));
    expect(await handler(2)).toBe(4);
    expect(await handler(3)).toBe(6);
    expect(built).toEqual(['{"default":"https://sqs/q"}']);
  });
});
