/**
 * The local SQS endpoint (local/sqs/front.ts before fauxqs) answers as SQS does where Hopper and its
 * users depend on it: queue URLs that resolve, both SQS protocols (Debian's real AWS CLI 2.9 and
 * python3-boto3 1.26 speak the query protocol), and the 12-hour limit on a message's visibility.
 */
import { randomUUID } from 'node:crypto';
import { ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_IDENTITY, startEmulators, type Emulators } from '../../local/emulators.js';
import { startSqsFront, type SqsFront } from '../../local/sqs/front.js';
import { AWS_CLI, parseObject, processEnv, PYTHON, run } from './polyglot-process.js';

const HOUR = 3_600_000;
const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };
let emulators: Emulators;
let sqs: SQSClient;
/** A second endpoint over the same emulator whose clock is 11 hours ahead. */
let later: SqsFront;
let laterSqs: SQSClient;

beforeAll(async () => {
  emulators = await startEmulators();
  sqs = new SQSClient({ endpoint: emulators.endpoints.sqs, region: LOCAL_IDENTITY.region, credentials });
  later = await startSqsFront({ port: 0, fauxqs: emulators.sqs, now: () => Date.now() + 11 * HOUR });
  laterSqs = new SQSClient({ endpoint: later.url, region: LOCAL_IDENTITY.region, credentials });
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  laterSqs?.destroy();
  await later?.close();
  await emulators?.stop();
});

async function newQueue(): Promise<string> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: `endpoint-${randomUUID().slice(0, 8)}` }));
  if (created.QueueUrl === undefined) throw new Error('no queue URL');
  return created.QueueUrl;
}

/** Sends one message and receives it; resolves its receipt handle. */
async function received(queueUrl: string): Promise<string> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"jobtype":"A"}' }));
  const { Messages: [message] = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
  if (message?.ReceiptHandle === undefined) throw new Error('nothing received');
  return message.ReceiptHandle;
}

/** The environment of Debian's AWS CLI and Python: the local identity, no configuration files. */
const external = () => processEnv({ AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_DEFAULT_REGION: LOCAL_IDENTITY.region });

describe('queue URLs', () => {
  it('are on the endpoint\'s 127.0.0.1 address, and a plain HTTP request to one is answered', async () => {
    const url = await newQueue();
    const name = url.split('/').at(-1) ?? '';

    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: JSON.stringify({ QueueUrl: url, MessageBody: 'plain http' }),
    });

    expect(url).toBe(`${emulators.endpoints.sqs}/000000000000/${name}`);
    expect(response.status).toBe(200);
    expect(Object.keys(parseObject(await response.text()))).toEqual(['MessageId', 'MD5OfMessageBody']);
  });

  it('name the same queue by account and name whatever the host, as SQS resolves them', async () => {
    const url = await newQueue();
    const path = new URL(url).pathname;

    for (const other of [`http://sqs.us-east-1.localhost${path}`, `http://localhost:1${path}`]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: other, MessageBody: other }));
    }
    const { Messages: messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));

    expect(messages.map((message) => message.Body).sort()).toEqual([`http://localhost:1${path}`, `http://sqs.us-east-1.localhost${path}`]);
  });
});

describe('the query protocol, spoken by Debian\'s AWS CLI and boto3', () => {
  it('takes `aws sqs send-message` (AWS CLI 2.9) and boto3 1.26\'s calls', { timeout: 60_000 }, async () => {
    const url = await newQueue();

    const cli = await run(AWS_CLI, ['--endpoint-url', emulators.endpoints.sqs, '--output', 'json', 'sqs', 'send-message', '--queue-url', url, '--message-body', '{"jobtype":"FromCli"}', '--message-attributes', '{"tenant":{"DataType":"String","StringValue":"acme"}}'], { env: external() });
    const python = `
import boto3, json, sys
sqs = boto3.client('sqs', endpoint_url=sys.argv[1], region_name='us-east-1')
sqs.send_message(QueueUrl=sys.argv[2], MessageBody='{"jobtype":"FromBoto3"}')
got = sqs.receive_message(QueueUrl=sys.argv[2], MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=['All'])
messages = got.get('Messages', [])
deleted = sqs.delete_message_batch(QueueUrl=sys.argv[2], Entries=[{'Id': str(i), 'ReceiptHandle': m['ReceiptHandle']} for i, m in enumerate(messages)])
print(json.dumps({'version': boto3.__version__, 'bodies': sorted(m['Body'] for m in messages), 'tenants': sorted(m.get('MessageAttributes', {}).get('tenant', {}).get('StringValue', '-') for m in messages), 'deleted': len(deleted.get('Successful', []))}))
`;
    const boto3 = parseObject((await run(PYTHON, ['-c', python, emulators.endpoints.sqs, url], { env: external() })).stdout);
    const version = await run(AWS_CLI, ['--version'], { env: external() });

    expect(Object.keys(parseObject(cli.stdout)).sort()).toEqual(['MD5OfMessageAttributes', 'MD5OfMessageBody', 'MessageId']);
    expect(boto3).toEqual({ version: '1.26.27', bodies: ['{"jobtype":"FromBoto3"}', '{"jobtype":"FromCli"}'], tenants: ['-', 'acme'], deleted: 2 });
    expect(version.stdout).toMatch(/^aws-cli\/2\.9\./);
  });

  it('answers a query-protocol error as SQS does, and names a parameter it cannot translate', async () => {
    const missing = await fetch(emulators.endpoints.sqs, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ Action: 'GetQueueUrl', QueueName: 'no-such-queue' }) });
    const unknown = await fetch(emulators.endpoints.sqs, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ Action: 'SendMessage', QueueUrl: await newQueue(), MessageBody: 'x', Colour: 'blue' }) });

    expect(missing.status).toBe(400);
    expect(await missing.text()).toMatch(/<Error><Type>Sender<\/Type><Code>AWS\.SimpleQueueService\.NonExistentQueue<\/Code><Message>[^<]+<\/Message><Detail\/><\/Error>/);
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('<Code>InvalidParameterValue</Code><Message>parameter Colour is not a parameter of this action</Message>');
  });
});

describe('12 hours of visibility from the first receive', () => {
  const refusal = (seconds: number) => `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]`;

  it('refuses 43,200 s once any time has passed since the first receive, and allows what is left', async () => {
    const url = await newQueue();
    const handle = await received(url);

    const refused = await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: handle, VisibilityTimeout: 43_200 })).then(() => undefined, (error: unknown) => error);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: handle, VisibilityTimeout: 43_000 }));

    expect(refused).toMatchObject({ name: 'InvalidParameterValue', message: refusal(43_200) });
  });

  it('refuses past 12 hours from the first receive, 11 hours later, for the single and the batch call', async () => {
    const url = await newQueue();
    const first = await received(url);
    const second = await received(url);

    const single = await laterSqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: first, VisibilityTimeout: 3_700 })).then(() => undefined, (error: unknown) => error);
    await laterSqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: first, VisibilityTimeout: 3_500 }));
    const batch = await laterSqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: url,
      Entries: [{ Id: 'short', ReceiptHandle: first, VisibilityTimeout: 60 }, { Id: 'long', ReceiptHandle: second, VisibilityTimeout: 7_200 }],
    }));

    expect(single).toMatchObject({ name: 'InvalidParameterValue', message: refusal(3_700) });
    expect(batch.Successful?.map((entry) => entry.Id)).toEqual(['short']);
    expect(batch.Failed).toEqual([{ Id: 'long', SenderFault: true, Code: 'InvalidParameterValue', Message: refusal(7_200) }]);
  });

  it('refuses the same through the query protocol (boto3 1.26)', { timeout: 60_000 }, async () => {
    const url = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    const python = `
import boto3, sys
sqs = boto3.client('sqs', endpoint_url=sys.argv[1], region_name='us-east-1')
handle = sqs.receive_message(QueueUrl=sys.argv[2], WaitTimeSeconds=1)['Messages'][0]['ReceiptHandle']
try:
    sqs.change_message_visibility(QueueUrl=sys.argv[2], ReceiptHandle=handle, VisibilityTimeout=43200)
except sqs.exceptions.ClientError as error:
    print(error.response['Error']['Code'] + ': ' + error.response['Error']['Message'])
`;
    const { stdout } = await run(PYTHON, ['-c', python, emulators.endpoints.sqs, url], { env: external() });

    expect(stdout).toBe(`InvalidParameterValue: ${refusal(43_200)}\n`);
  });
});
