/**
 * The limits a job meets, tested at their edges: the job size (256 KiB) for producers and workers,
 * SQS's 1 MiB per message, the API's body limit (413), the args caps and the jid format. Each
 * refusal names the field and what was expected.
 */
import { describe, expect, it } from 'vitest';
import { prepareJob } from '../../lib/enqueue/enqueue.js';
import { JOB_LIMITS, normalizeJob, parseJob, serializeJob } from '../../lib/job/model.js';
import { sendInBatches, SQS_BATCH_LIMITS } from '../../lib/aws/sqs-batch.js';
import { apiFixture, urlEvent } from './api-fakes.js';
import { FakeSqs, QUEUE_URLS } from './worker-fakes.js';

const now = new Date('2026-11-22T12:00:00.000Z');
const runtime = { queueUrls: QUEUE_URLS, defaultRetry: 25 };

/** A job input whose prepared body is exactly `bytes` long (one string argument fills it). */
function inputOfSize(bytes: number) {
  const base = prepareJob({ jobtype: 'Sized', jid: 'sized-1', args: [''] }, runtime, { now });
  return { jobtype: 'Sized', jid: 'sized-1', args: ['x'.repeat(bytes - Buffer.byteLength(base.body))] };
}

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 1; level < depth; level += 1) value = [value];
  return value;
}

describe('job size', () => {
  it('enqueues a job of exactly 262,144 bytes and refuses one byte more', () => {
    expect(Buffer.byteLength(prepareJob(inputOfSize(JOB_LIMITS.maxJobBytes), runtime, { now }).body)).toBe(262_144);
    expect(() => prepareJob(inputOfSize(JOB_LIMITS.maxJobBytes + 1), runtime, { now })).toThrow('job sized-1 is 262145 bytes, over the limit of 262144 bytes');
  });

  it('lets a worker read a body of exactly the limit and refuses one byte more, naming the body', () => {
    const body = (bytes: number) => serializeJob(normalizeJob({ jobtype: 'A', jid: 'j', args: ['x'.repeat(bytes - Buffer.byteLength(serializeJob(normalizeJob({ jobtype: 'A', jid: 'j', args: [''] }, { now }))))] }, { now }));
    expect(parseJob(body(JOB_LIMITS.maxJobBytes), { now }).jid).toBe('j');
    expect(() => parseJob(body(JOB_LIMITS.maxJobBytes + 1), { now })).toThrow(expect.objectContaining({ field: 'body', expected: 'a job of at most 262144 bytes', received: '262145 bytes' }));
  });

  it('sends a message of exactly 1 MiB to SQS and refuses one byte more without a request', async () => {
    const sqs = new FakeSqs();
    const failures = await sendInBatches(sqs, [
      { key: 'fits', queueUrl: QUEUE_URLS.default, body: 'x'.repeat(SQS_BATCH_LIMITS.maxBytes) },
      { key: 'over', queueUrl: QUEUE_URLS.default, body: 'x'.repeat(SQS_BATCH_LIMITS.maxBytes + 1) },
    ]);
    expect(failures).toEqual([{ key: 'over', reason: 'message is 1048577 bytes, over the SQS limit of 1048576' }]);
    expect(sqs.batches.flatMap((batch) => batch.entries.map((entry) => entry.MessageBody?.length))).toEqual([1_048_576]);
  });
});

describe("the API's body limit", () => {
  it('accepts a body of exactly maxBodyBytes and answers 413 to one byte more', async () => {
    const limit = 2048;
    const { call } = apiFixture({ maxBodyBytes: limit });
    const bodyOf = (bytes: number) => {
      const empty = JSON.stringify({ jobtype: 'A', args: [''] });
      return JSON.stringify({ jobtype: 'A', args: ['x'.repeat(bytes - empty.length)] });
    };
    const post = (body: string) => call(urlEvent({ method: 'POST', path: '/v1/jobs', body }));

    const atLimit = await post(bodyOf(limit));
    const over = await post(bodyOf(limit + 1));

    expect(atLimit.statusCode).toBe(202);
    expect({ status: over.statusCode, json: over.json }).toEqual({ status: 413, json: { error: { code: 'payload_too_large', message: "the body is 2049 bytes, over this API's limit of 2048 bytes; send fewer jobs per request" } } });
  });
});

describe('args caps', () => {
  it(`accepts ${JOB_LIMITS.argsMaxLength} args and refuses one more`, () => {
    expect(normalizeJob({ jobtype: 'A', args: Array.from({ length: 1000 }, (_, i) => i) }, { now }).args).toHaveLength(1000);
    expect(() => normalizeJob({ jobtype: 'A', args: Array.from({ length: 1001 }, (_, i) => i) }, { now })).toThrow(expect.objectContaining({ field: 'args', expected: 'an array of at most 1000 elements', received: 'an array of 1001' }));
  });

  it(`accepts args nested ${JOB_LIMITS.argsMaxDepth} levels deep and refuses 33, naming where`, () => {
    expect(() => normalizeJob({ jobtype: 'A', args: [nested(31)] }, { now })).not.toThrow();
    const error = (() => {
      try {
        normalizeJob({ jobtype: 'A', args: [1, { rows: [nested(31)] }] }, { now });
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toMatchObject({ name: 'InvalidJobError', field: expect.stringMatching(/^args\[1\]\.rows\[0\]\[0\]/), expected: 'JSON nested at most 32 levels deep in args' });
  });

  it('checks nesting without recursion: 100,000 levels are refused, not a stack overflow', () => {
    expect(() => normalizeJob({ jobtype: 'A', args: [nested(100_000)] }, { now })).toThrow(/nested at most 32 levels/);
  });
});

describe('jid format', () => {
  it.each([
    { jid: 'a', ok: true },
    { jid: 'x'.repeat(128), ok: true },
    { jid: 'x'.repeat(129), ok: false },
    { jid: '01JD3.batch-1:complete_2', ok: true },
    { jid: '-starts-with-dash', ok: false },
    { jid: 'has space', ok: false },
    { jid: 'slash/inside', ok: false },
    { jid: '', ok: false },
    { jid: 42, ok: false },
  ])('$jid: ok=$ok', ({ jid, ok }) => {
    const attempt = () => normalizeJob({ jobtype: 'A', jid }, { now });
    if (ok) expect(attempt().jid).toBe(jid);
    else expect(attempt).toThrow(expect.objectContaining({ field: 'jid' }));
  });
});
