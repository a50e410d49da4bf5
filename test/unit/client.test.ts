import { describe, expect, it } from 'vitest';
import { Client, EnqueueError, parseDuration } from '../../lib/client/client.js';
import { isHopperError } from '../../lib/errors/base.js';
import { JOB_LIMITS, type Job } from '../../lib/job/model.js';
import { FakeSqs, QUEUE_URLS } from './worker-fakes.js';

const now = new Date('2026-11-22T12:00:00.000Z');

function setup(env: Record<string, string> = {}) {
  const sqs = new FakeSqs();
  const scheduled: { job: Job; dueMs: number }[] = [];
  const client = new Client({
    queueUrls: QUEUE_URLS,
    sqs,
    env,
    now: () => now,
    scheduledSet: { putScheduled: async (job, dueMs) => { scheduled.push({ job, dueMs }); } },
  });
  return { sqs, client, scheduled };
}

describe('Client.enqueueMany', () => {
  it('sends 23 jobs for one queue in batches of 10, 10 and 3, returning jids in order', async () => {
    const { sqs, client } = setup();
    const jids = await client.enqueueMany(Array.from({ length: 23 }, (_, i) => ({ jobtype: 'A', args: [i], jid: `j${i}` })));
    expect(jids).toEqual(Array.from({ length: 23 }, (_, i) => `j${i}`));
    expect(sqs.batches.map((batch) => batch.entries.length)).toEqual([10, 10, 3]);
    expect(sqs.batches.every((batch) => batch.queueUrl === QUEUE_URLS.default)).toBe(true);
  });

  it('starts a new batch before the total passes 1 MiB', async () => {
    const { sqs, client } = setup();
    // Five jobs of about 250 KB (each under the job limit): four fit in 1 MiB, the fifth does not.
    const big = 'x'.repeat(250_000);
    await client.enqueueMany(Array.from({ length: 5 }, () => ({ jobtype: 'A', args: [big] })));
    expect(sqs.batches.map((batch) => batch.entries.length)).toEqual([4, 1]);
  });

  it('sends each queue its own batches', async () => {
    const { sqs, client } = setup();
    await client.enqueueMany([{ jobtype: 'A', queue: 'critical' }, { jobtype: 'B' }, { jobtype: 'C', queue: 'critical' }]);
    const byQueue = Object.fromEntries(sqs.batches.map((batch) => [batch.queueUrl, batch.entries.map((entry) => JSON.parse(entry.MessageBody ?? '{}').jobtype)]));
    expect(byQueue).toEqual({ [QUEUE_URLS.critical]: ['A', 'C'], [QUEUE_URLS.default]: ['B'] });
  });

  it('writes the job with its defaults and enqueued_at', async () => {
    const { sqs, client } = setup({ HOPPER_DEFAULT_RETRY: '7' });
    const jid = await client.enqueue({ jobtype: 'SendEmail', args: ['a@example.com'] });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{
      delaySeconds: undefined,
      body: { jid, jobtype: 'SendEmail', args: ['a@example.com'], queue: 'default', created_at: now.toISOString(), enqueued_at: now.toISOString(), retry: 7 },
    }]);
  });

  it('uses DelaySeconds up to 15 minutes ahead and the scheduled set beyond', async () => {
    const { sqs, client, scheduled } = setup();
    await client.schedule({ jobtype: 'Soon', jid: 'soon' }, { in: '15m' });
    await client.schedule({ jobtype: 'Later', jid: 'later' }, { at: new Date(now.getTime() + 901_000) });
    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => sent.delaySeconds)).toEqual([900]);
    expect(scheduled.map((entry) => [entry.job.jid, entry.dueMs - now.getTime()])).toEqual([['later', 901_000]]);
  });

  it('resends entries SQS failed on its side and reports those that still fail', async () => {
    const { sqs, client } = setup();
    sqs.failEntry = (entry, attempt) => {
      const body = JSON.parse(entry.MessageBody ?? '{}');
      if (body.jid === 'flaky' && attempt === 1) return { Code: 'InternalError', SenderFault: false };
      if (body.jid === 'broken') return { Code: 'InternalError', Message: 'try later', SenderFault: false };
      return undefined;
    };
    const error = await client.enqueueMany([{ jobtype: 'A', jid: 'ok' }, { jobtype: 'A', jid: 'flaky' }, { jobtype: 'A', jid: 'broken' }]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EnqueueError);
    if (!(error instanceof EnqueueError)) return;
    expect(error.enqueued).toEqual(['ok', 'flaky']);
    expect(error.failed).toEqual([{ jid: 'broken', reason: 'InternalError: try later' }]);
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
  const { sqs, client } = setup();

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

  it('refuses a job over the job size limit (256 KiB) before sending', async () => {
    await expect(client.enqueue({ jobtype: 'Big', jid: 'big-1', args: ['x'.repeat(JOB_LIMITS.maxJobBytes)] })).rejects.toMatchObject({
      name: 'PayloadTooLargeError',
      limitBytes: 262_144,
      message: expect.stringMatching(/^job big-1 is 2622\d\d bytes, over the limit of 262144 bytes$/),
    });
  });

  it('sent nothing for any of them', () => {
    expect(sqs.batches).toEqual([]);
  });
});

describe('Client expiresIn', () => {
  it('sets custom.expires_at that long after the enqueue, keeping other custom fields', async () => {
    const { sqs, client } = setup();

    await client.enqueue({ jobtype: 'Quote', args: ['EURUSD'], custom: { tenant: 'acme' } }, { expiresIn: '5m' });

    expect(sqs.sentTo(QUEUE_URLS.default)[0]?.body).toMatchObject({ custom: { tenant: 'acme', expires_at: '2026-11-22T12:05:00.000Z' } });
  });

  it('counts from the due time of a scheduled job, in seconds too', async () => {
    const { client, scheduled } = setup();

    await client.schedule({ jobtype: 'Remind' }, { in: '3h' }, { expiresIn: 90 });

    expect(scheduled[0]?.job.custom).toEqual({ expires_at: '2026-11-22T15:01:30.000Z' });
  });

  it('applies to every job of an enqueueMany', async () => {
    const { sqs, client } = setup();

    await client.enqueueMany([{ jobtype: 'A' }, { jobtype: 'B', at: new Date('2026-11-22T12:01:00.000Z') }], { expiresIn: '30s' });

    expect(sqs.sentTo(QUEUE_URLS.default).map(({ body, delaySeconds }) => [body, delaySeconds])).toEqual([
      [expect.objectContaining({ jobtype: 'A', custom: { expires_at: '2026-11-22T12:00:30.000Z' } }), undefined],
      [expect.objectContaining({ jobtype: 'B', custom: { expires_at: '2026-11-22T12:01:30.000Z' } }), 60],
    ]);
  });

  it('names the option when it is not a duration, and refuses it next to custom.expires_at', async () => {
    const { sqs, client } = setup();

    await expect(client.enqueue({ jobtype: 'A' }, { expiresIn: 'soon' })).rejects.toThrow("invalid job: expiresIn must be a duration such as 90, '90s', '15m', '3h' or '2d', but \"soon\" was provided");
    await expect(client.enqueueMany([{ jobtype: 'A' }, { jobtype: 'B', custom: { expires_at: '2026-11-22T13:00:00Z' } }], { expiresIn: 60 })).rejects.toThrow(
      'invalid job: jobs[1].custom.expires_at must be absent when the expiresIn option is given, but "2026-11-22T13:00:00Z" was provided',
    );
    expect(sqs.batches).toEqual([]);
  });
});

describe('Client configuration from the environment', () => {
  it('says how to configure a producer when HOPPER_QUEUE_URLS is missing', () => {
    let error: unknown;
    try {
      new Client({ env: {}, sqs: new FakeSqs() });
    } catch (caught) {
      error = caught;
    }

    expect(isHopperError(error, 'ConfigurationError')).toBe(true);
    expect(error instanceof Error ? error.message : error).toBe(
      'environment variable HOPPER_QUEUE_URLS is not set; in the CDK app, call jobs.grantEnqueue(fn) for the function that enqueues '
      + '(it sets the variables on a lambda.Function) or give any other process the variables of jobs.clientEnvironment(); or pass new Client({ queueUrls })',
    );
  });

  it('enqueues with the variables of jobs.clientEnvironment() passed as env', async () => {
    const sqs = new FakeSqs();
    const client = new Client({ env: { HOPPER_QUEUE_URLS: JSON.stringify(QUEUE_URLS), HOPPER_DEFAULT_RETRY: '4', HOPPER_STATE_TABLE: 'App-JobsStateTable-G7H8' }, sqs, now: () => now });

    const jid = await client.enqueue({ jobtype: 'Report', queue: 'critical' });

    expect(sqs.sentTo(QUEUE_URLS.critical)).toEqual([{
      delaySeconds: undefined,
      body: { jid, jobtype: 'Report', args: [], queue: 'critical', created_at: now.toISOString(), enqueued_at: now.toISOString(), retry: 4 },
    }]);
  });

  it('says how to configure a producer when a job due in more than 15 minutes finds no HOPPER_STATE_TABLE', async () => {
    const client = new Client({ queueUrls: QUEUE_URLS, env: {}, sqs: new FakeSqs(), now: () => now });

    await expect(client.schedule({ jobtype: 'Later' }, { in: '1h' })).rejects.toThrow(
      'jobs due more than 900 s ahead go to the scheduled set, which needs HOPPER_STATE_TABLE; in the CDK app, call jobs.grantEnqueue(fn) for the function that enqueues '
      + '(it sets the variables on a lambda.Function) or give any other process the variables of jobs.clientEnvironment()',
    );
  });
});

describe('queues with listScheduled (HOPPER_LISTED_QUEUES)', () => {
  it('puts a job of a listed queue due more than a minute ahead into the scheduled set, and sends the others to SQS', async () => {
    const { sqs, client, scheduled } = setup({ HOPPER_LISTED_QUEUES: '["critical"]' });

    const listed = await client.schedule({ jobtype: 'Report', queue: 'critical' }, { in: '61s' });
    const soon = await client.schedule({ jobtype: 'Report', queue: 'critical' }, { in: '60s' });
    const unlisted = await client.schedule({ jobtype: 'Report', queue: 'default' }, { in: '10m' });

    expect(scheduled.map((entry) => [entry.job.jid, entry.dueMs])).toEqual([[listed, now.getTime() + 61_000]]);
    expect(sqs.sentTo(QUEUE_URLS.critical).map((message) => [(message.body as Job).jid, message.delaySeconds])).toEqual([[soon, 60]]);
    expect(sqs.sentTo(QUEUE_URLS.default).map((message) => [(message.body as Job).jid, message.delaySeconds])).toEqual([[unlisted, 600]]);
  });

  it('refuses a HOPPER_LISTED_QUEUES that is not a list of queue names, naming it', () => {
    expect(() => setup({ HOPPER_LISTED_QUEUES: '{"critical":true}' })).toThrow(/HOPPER_LISTED_QUEUES must be a JSON array of queue names/);
  });
});
