/**
 * Message groups at the local SQS endpoint, from the outside (the AWS SDK): a malformed
 * `MessageGroupId` is refused as SQS refuses it, a standard queue keeps a message's group, and a
 * noisy group's backlog is served after the quiet groups' messages (Amazon SQS fair queues) — with
 * receive counts and redrive as fauxqs keeps them. fauxqs runs in this process, with no DynamoDB.
 */
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecord } from '../../lib/job/model.js';
import { LOCAL_IDENTITY } from '../../local/emulators.js';
import { startSqsFront, type SqsFront } from '../../local/sqs/front.js';

const credentials = { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey };

interface Endpoint {
  readonly fauxqs: FauxqsServer;
  readonly front: SqsFront;
  readonly sqs: SQSClient;
}

async function endpoint(fairQueues: boolean): Promise<Endpoint> {
  const fauxqs = await startFauxqs({ port: 0, logger: false, defaultRegion: LOCAL_IDENTITY.region });
  const front = await startSqsFront({ port: 0, fauxqs, fairQueues });
  return { fauxqs, front, sqs: new SQSClient({ endpoint: front.url, region: LOCAL_IDENTITY.region, credentials }) };
}

let fair: Endpoint;
let plain: Endpoint;

beforeAll(async () => {
  [fair, plain] = await Promise.all([endpoint(true), endpoint(false)]);
});

afterAll(async () => {
  for (const { sqs, front, fauxqs } of [fair, plain]) {
    sqs?.destroy();
    await front?.close();
    await fauxqs?.stop();
  }
});

async function newQueue({ sqs }: Endpoint, attributes: Record<string, string> = {}): Promise<string> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: `fair-${randomUUID().slice(0, 8)}`, Attributes: attributes }));
  if (created.QueueUrl === undefined) throw new Error('no queue URL');
  return created.QueueUrl;
}

/** Sends `count` messages of `group` (none when undefined), in batches of 10. */
async function sendMany({ sqs }: Endpoint, queueUrl: string, group: string | undefined, count: number): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const entries = Array.from({ length: Math.min(10, count - start) }, (_, index) => ({
      Id: String(index),
      MessageBody: JSON.stringify({ group: group ?? null, n: start + index }),
      ...(group === undefined ? {} : { MessageGroupId: group }),
    }));
    const output = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(output.Failed ?? []).toEqual([]);
  }
}

async function receive({ sqs }: Endpoint, queueUrl: string, max = 10): Promise<Message[]> {
  const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, VisibilityTimeout: 300, MessageSystemAttributeNames: ['MessageGroupId', 'ApproximateReceiveCount'] }));
  return output.Messages ?? [];
}

function groupsOf(messages: readonly Message[]): (string | undefined)[] {
  return messages.map((message) => message.Attributes?.MessageGroupId);
}

/** The group each message was sent with, from its body (what fauxqs alone does not keep). */
function sentGroupsOf(messages: readonly Message[]): unknown[] {
  return messages.map((message) => {
    const body: unknown = JSON.parse(message.Body ?? '{}');
    return isRecord(body) ? body.group : undefined;
  });
}

describe('MessageGroupId on a send', () => {
  it('is refused when SQS would refuse it: SendMessage fails, a batch fails that entry only', async () => {
    const queueUrl = await newQueue(fair);

    await expect(fair.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x', MessageGroupId: 'g'.repeat(129) })))
      .rejects.toMatchObject({ name: 'InvalidParameterValue', message: `Value "${'g'.repeat(129)}" for parameter MessageGroupId is invalid. Reason: it must be at most 128 characters, but has 129.` });
    const batch = await fair.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [
      { Id: 'ok', MessageBody: 'a', MessageGroupId: 'acme' },
      { Id: 'bad', MessageBody: 'b', MessageGroupId: 'acme corp' },
    ] }));

    expect(batch.Successful?.map((entry) => entry.Id)).toEqual(['ok']);
    expect(batch.Failed).toEqual([{ Id: 'bad', SenderFault: true, Code: 'InvalidParameterValue', Message: 'Value "acme corp" for parameter MessageGroupId is invalid. Reason: it may contain only letters, digits and ASCII punctuation, but has " ".' }]);
  });

  it('is kept by a standard queue and returned by ReceiveMessage, as on AWS', async () => {
    const queueUrl = await newQueue(fair);
    await fair.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'one', MessageGroupId: 'arn:aws:iam::123456789012:role/app' }));

    expect(groupsOf(await receive(fair, queueUrl))).toEqual(['arn:aws:iam::123456789012:role/app']);
  });
});

describe('fair dispatch', () => {
  /** 40 of A sent, 30 of them in flight; then 5 more of A, 2 of B and 1 without a group. */
  async function noisyA(at: Endpoint): Promise<string> {
    const queueUrl = await newQueue(at);
    await sendMany(at, queueUrl, 'A', 40);
    for (let round = 0; round < 3; round += 1) expect(await receive(at, queueUrl)).toHaveLength(10);
    await sendMany(at, queueUrl, 'A', 5);
    await sendMany(at, queueUrl, 'B', 2);
    await sendMany(at, queueUrl, undefined, 1);
    return queueUrl;
  }

  it('serves the quiet groups first once A has 30 in flight', async () => {
    const queueUrl = await noisyA(fair);

    const next = await receive(fair, queueUrl);

    expect(groupsOf(next)).toEqual(['B', 'B', undefined, 'A', 'A', 'A', 'A', 'A', 'A', 'A']);
    expect(sentGroupsOf(next)).toEqual(['B', 'B', null, 'A', 'A', 'A', 'A', 'A', 'A', 'A']);
    expect(fair.front.fairQueues?.noisyGroups(fair.fauxqs.inspectQueue(queueUrl.split('/').at(-1) ?? '')?.url ?? '')).toEqual(['A']);
  });

  it('is off with fairQueues: false (queue order, as fauxqs alone serves it)', async () => {
    const queueUrl = await noisyA(plain);

    expect(sentGroupsOf(await receive(plain, queueUrl))).toEqual(['A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A']);
  });

  it('leaves receive counts and redrive to fauxqs: a message past maxReceiveCount still goes to the DLQ, with its group', async () => {
    const dlqUrl = await newQueue(fair);
    const dlqArn = (await fair.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
    const queueUrl = await newQueue(fair, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) });
    await fair.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison', MessageGroupId: 'B' }));
    const [first] = await fair.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0, MessageSystemAttributeNames: ['ApproximateReceiveCount'] })).then((output) => output.Messages ?? []);
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');

    expect(await receive(fair, queueUrl)).toEqual([]);
    const moved = await receive(fair, dlqUrl);
    expect(moved.map((message) => [message.Body, message.Attributes?.MessageGroupId, message.Attributes?.ApproximateReceiveCount])).toEqual([['poison', 'B', '3']]);
  });
});
