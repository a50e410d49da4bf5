/** A job's tenant as its SQS message group, on every path that sends a job message. */
import { createHash } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type DeleteMessageBatchCommandOutput,
  type ReceiveMessageCommandOutput,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { redrive } from '../../lib/admin/redrive.js';
import { Client } from '../../lib/client/client.js';
import { RateLimitedError } from '../../lib/errors/base.js';
import { failureEnvelope } from '../../lib/job/envelope.js';
import { MESSAGE_GROUP_ID, messageGroupIdProblem, messageGroupOf, messageGroupOfBody, messageGroupOfTenant } from '../../lib/job/message-group.js';
import { normalizeJob } from '../../lib/job/model.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createWorker } from '../../lib/worker/index.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

/** The group ids of what was sent to `queueUrl`, in order (`undefined` for a message without one). */
function groupsSentTo(sqs: FakeSqs, queueUrl: string): (string | undefined)[] {
  return sqs.batches.filter((batch) => batch.queueUrl === queueUrl).flatMap((batch) => batch.entries.map((entry) => entry.MessageGroupId));
}

describe('messageGroupIdProblem (SQS: 1 to 128 letters, digits and ASCII punctuation)', () => {
  it.each([
    ['acme', undefined],
    ['arn:aws:iam::123456789012:role/app', undefined],
    [`!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`, undefined],
    ['x'.repeat(128), undefined],
    ['', 'must not be empty'],
    ['x'.repeat(129), 'must be at most 128 characters, but has 129'],
    ['acme corp', 'may contain only letters, digits and ASCII punctuation, but has " "'],
    ['zürich', 'may contain only letters, digits and ASCII punctuation, but has "ü"'],
  ])('%j → %j', (value, problem) => {
    expect(messageGroupIdProblem(value)).toBe(problem);
  });
});

describe('messageGroupOfTenant', () => {
  it('is the tenant itself when SQS accepts it', () => {
    expect(messageGroupOfTenant('arn:aws:iam::123456789012:role/app')).toBe('arn:aws:iam::123456789012:role/app');
  });

  it('is tenant-sha256: and the hex SHA-256 of the UTF-8 tenant otherwise, a valid group id', () => {
    const group = messageGroupOfTenant('acme corp');
    // The same value the Python client computes (clients/python/tests/test_sqs.py).
    expect(group).toBe('tenant-sha256:ea6f9c07a2f95c788a1645cf557f58aa63c5fa3ad7d749b9db4fce435deef64e');
    expect(messageGroupOfTenant('zürich')).toBe(`tenant-sha256:${createHash('sha256').update(Buffer.from('zürich', 'utf8')).digest('hex')}`);
    expect(group.startsWith(MESSAGE_GROUP_ID.hashedPrefix)).toBe(true);
    expect(messageGroupIdProblem(group)).toBeUndefined();
    expect(messageGroupOfTenant('x'.repeat(200))).toHaveLength(78);
  });

  it('keeps two tenants apart and one tenant together', () => {
    expect(messageGroupOfTenant('zürich')).toBe(messageGroupOfTenant('zürich'));
    expect(messageGroupOfTenant('zürich')).not.toBe(messageGroupOfTenant('zurich'));
  });
});

describe('messageGroupOf / messageGroupOfBody', () => {
  it('reads custom.tenant of a job, of a job body and of a failure envelope body', () => {
    const job = normalizeJob({ jobtype: 'Greet', args: [], custom: { tenant: 'acme' } }, { now: NOW });
    expect(messageGroupOf(job)).toBe('acme');
    expect(messageGroupOf({})).toBeUndefined();
    expect(messageGroupOfBody(JSON.stringify(job))).toBe('acme');
    expect(messageGroupOfBody(JSON.stringify(failureEnvelope({ queue: 'default', job, error: new Error('x'), now: NOW })))).toBe('acme');
    expect(messageGroupOfBody('not json')).toBeUndefined();
    expect(messageGroupOfBody('{"jobtype":"Greet","args":[]}')).toBeUndefined();
  });
});

describe('every path that sends a job message sets its group', () => {
  it('the client: a tenant\'s job with its group, a job without a tenant with none', async () => {
    const sqs = new FakeSqs();
    const client = new Client({ queueUrls: QUEUE_URLS, sqs, env: {}, now: () => NOW });

    await client.enqueueMany([
      { jobtype: 'A', args: [], custom: { tenant: 'acme' } },
      { jobtype: 'B', args: [] },
      { jobtype: 'C', args: [], custom: { tenant: 'acme corp' } },
    ]);

    expect(groupsSentTo(sqs, QUEUE_URLS.default)).toEqual(['acme', undefined, messageGroupOfTenant('acme corp')]);
  });

  it('the worker: a rate-limited job goes back with its group, a failure envelope goes to the retries queue with it', async () => {
    const sqs = new FakeSqs();
    const handler = createWorker({
      jobs: { Call: async () => { throw new RateLimitedError('stripe', 10); }, Boom: async () => { throw new Error('boom'); } },
      env: TEST_ENV, clients: { sqs }, now: () => NOW, log: memoryLog().sink,
    });

    await handler(sqsEvent([
      sqsRecord({ body: { jobtype: 'Call', jid: 'j-1', queue: 'critical', custom: { tenant: 'acme' } } }),
      sqsRecord({ body: { jobtype: 'Boom', jid: 'j-2', retry: 0, custom: { tenant: 'globex' } } }),
    ]), lambdaContext());

    expect(groupsSentTo(sqs, QUEUE_URLS.critical)).toEqual(['acme']);
    expect(groupsSentTo(sqs, RETRIES_URL)).toEqual(['globex']);
  });

  it('the retry function: a retried job goes back to its queue with its group', async () => {
    const sqs = new FakeSqs();
    const dynamo = new FakeDynamo();
    const handler = createRetryHandler({ env: TEST_ENV, sqs, dynamo, stateTable: new StateTable(dynamo, TEST_ENV.HOPPER_STATE_TABLE), now: () => NOW, log: memoryLog().sink });
    const job = normalizeJob({ jobtype: 'Send', args: [], jid: 'j-3', custom: { tenant: 'initech' } }, { now: NOW });

    await handler(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, body: failureEnvelope({ queue: 'default', job, error: new Error('timeout'), now: NOW }) })]));

    expect(groupsSentTo(sqs, QUEUE_URLS.default)).toEqual(['initech']);
  });

  it('the redrive: a job moved back from the DLQ gets its tenant\'s group', async () => {
    const sent: SendMessageBatchRequestEntry[] = [];
    const bodies = [JSON.stringify({ jobtype: 'Send', args: [], custom: { tenant: 'acme' } }), JSON.stringify({ jobtype: 'Send', args: [] })];
    let received = false;
    const sqs = {
      async send(command: ReceiveMessageCommand | SendMessageBatchCommand | DeleteMessageBatchCommand): Promise<ReceiveMessageCommandOutput & SendMessageBatchCommandOutput & DeleteMessageBatchCommandOutput> {
        if (command instanceof ReceiveMessageCommand) {
          const messages = received ? [] : bodies.map((body, index) => ({ MessageId: `m-${index}`, ReceiptHandle: `h-${index}`, Body: body }));
          received = true;
          return { $metadata: {}, Messages: messages, Successful: [], Failed: [] };
        }
        if (command instanceof SendMessageBatchCommand) sent.push(...(command.input.Entries ?? []));
        return { $metadata: {}, Successful: [{ Id: '0', MessageId: 'x', MD5OfMessageBody: 'x' }, { Id: '1', MessageId: 'y', MD5OfMessageBody: 'y' }], Failed: [] };
      },
    };

    const result = await redrive(sqs, { from: 'dlq', to: RETRIES_URL });

    expect(result.moved).toBe(2);
    expect(sent.map((entry) => entry.MessageGroupId)).toEqual(['acme', undefined]);
  });
});
