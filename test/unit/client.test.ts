import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { Client, packBatches, parseDuration, SQS_LIMITS } from '../../lib/client';

// Validation happens before any request; this client points nowhere, so a request would fail.
const offline = new SQSClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
const client = new Client({ queueUrls: { default: 'http://127.0.0.1:9/000000000000/default', critical: 'http://127.0.0.1:9/000000000000/critical' }, sqs: offline });

describe('packBatches', () => {
  const sized = (...sizes: number[]) => sizes.map((size, id) => ({ id, size }));

  it('puts at most ten entries in a batch', () => {
    const batches = packBatches(sized(...Array.from({ length: 23 }, () => 100)));
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 3]);
  });

  it('starts a new batch before the total passes 1 MiB', () => {
    const half = SQS_LIMITS.maxBatchBytes / 2;
    const batches = packBatches(sized(half, half, 1, half, half));
    expect(batches.map((batch) => batch.map((entry) => entry.id))).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('keeps input order', () => {
    expect(packBatches(sized(1, 2, 3)).flat().map((entry) => entry.id)).toEqual([0, 1, 2]);
  });
});

describe('parseDuration', () => {
  it.each([
    [90, 90],
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['3h', 10_800],
    ['2d', 172_800],
    ['1500ms', 1.5],
  ])('%j is %d seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it('names the field when the text is not a duration', () => {
    expect(() => parseDuration('soon')).toThrow("invalid job: in must be a duration such as 90, '90s', '15m', '3h' or '2d', but \"soon\" was provided");
    expect(() => parseDuration(-1)).toThrow('invalid job: in must be a non-negative number of seconds, but -1 was provided');
  });
});

describe('Client validation (nothing is sent)', () => {
  it('names the queue it does not know, listing the declared ones', async () => {
    await expect(client.enqueue({ jobtype: 'A', queue: 'nope' })).rejects.toThrow(
      'invalid job: queue must be one of the declared queues (default, critical), but "nope" was provided',
    );
  });

  it('names the index of the bad job in enqueueMany', async () => {
    await expect(client.enqueueMany([{ jobtype: 'A' }, { jobtype: 'B', args: 'x' as unknown as [] }])).rejects.toMatchObject({
      name: 'InvalidJobError',
      field: 'jobs[1].args',
    });
  });

  it('refuses a job over 1 MiB before sending', async () => {
    await expect(client.enqueue({ jobtype: 'Big', jid: 'big-1', args: ['x'.repeat(SQS_LIMITS.maxMessageBytes)] })).rejects.toMatchObject({
      name: 'PayloadTooLargeError',
      limitBytes: 1_048_576,
      message: expect.stringMatching(/^job big-1 is 10487\d\d bytes, over the limit of 1048576 bytes$/),
    });
  });
});
