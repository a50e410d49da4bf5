import { describe, expect, it } from 'vitest';
import { principalOf, tenantOf } from '../../lib/api/event.js';
import { apiFixture, NOW, roleSession, urlEvent } from './api-fakes.js';
import { field } from '../fixtures/json.js';
import { QUEUE_URLS } from './worker-fakes.js';
import { ScriptedDynamo, conditionFailed } from './state-fake.js';
import { resolveQuotas } from '../../lib/quota/index.js';

const post = (body: unknown, extra: Partial<Parameters<typeof urlEvent>[0]> = {}) => urlEvent({ method: 'POST', path: '/v1/jobs', body, ...extra });

describe('routing', () => {
  it('answers an unknown route with 404 and a JSON error', async () => {
    const { call } = apiFixture();
    const response = await call(urlEvent({ method: 'GET', path: '/v1/nothing' }));
    expect({ status: response.statusCode, json: response.json }).toEqual({ status: 404, json: { error: { code: 'not_found', message: 'no route for /v1/nothing' } } });
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const { call } = apiFixture();
    const response = await call(urlEvent({ method: 'GET', path: '/v1/jobs' }));
    expect({ status: response.statusCode, allow: response.headers.Allow, code: response.json }).toEqual({ status: 405, allow: 'POST', code: { error: { code: 'method_not_allowed', message: 'GET is not allowed on /v1/jobs; allowed: POST' } } });
  });

  it('answers a path segment that is not valid percent-encoding with 400 naming it', async () => {
    const { call } = apiFixture();
    const response = await call(urlEvent({ method: 'DELETE', path: '/v1/dead/%E0%A4%A' }));
    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { code: 'bad_parameter', parameter: 'id' } });
  });
});

describe('tenants', () => {
  it('maps a role session to its role, then through the tenant map', () => {
    expect(principalOf('arn:aws:sts::111122223333:assumed-role/Producer/session-1')).toBe('arn:aws:iam::111122223333:role/Producer');
    expect(tenantOf(roleSession(), { 'arn:aws:iam::111122223333:role/Producer': 'acme' })).toBe('acme');
    expect(tenantOf(roleSession(), { '111122223333': 'whole-account' })).toBe('whole-account');
    expect(tenantOf(roleSession('Other'), {})).toBe('arn:aws:iam::111122223333:role/Other');
    expect(tenantOf({ userArn: 'arn:aws:iam::111122223333:user/ci' }, {})).toBe('arn:aws:iam::111122223333:user/ci');
    expect(tenantOf(undefined, {})).toBe('anonymous');
  });
});

describe('POST /v1/jobs', () => {
  it('enqueues one job and answers 202 with its jid, stamped with the caller\'s tenant, not the body\'s', async () => {
    const { call, sqs } = apiFixture();
    const response = await call(post({ jobtype: 'SendEmail', args: ['a@example.com'], jid: 'job-1', custom: { tenant: 'someone-else', note: 1 } }));

    expect({ status: response.statusCode, json: response.json }).toEqual({ status: 202, json: { jid: 'job-1', jids: ['job-1'] } });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: undefined, body: expect.objectContaining({ jid: 'job-1', jobtype: 'SendEmail', custom: { tenant: 'acme', note: 1 } }) }]);
  });

  it('runs the client middleware (via api) on each job, and answers 422 naming the entry when it refuses one, sending nothing', async () => {
    const stamped = apiFixture({}, { middleware: { client: [(job, ctx) => ({ ...job, custom: { ...job.custom, via: ctx.via } })] } });
    await stamped.call(post({ jobtype: 'SendEmail', jid: 'job-1' }));
    expect(stamped.sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: undefined, body: expect.objectContaining({ jid: 'job-1', custom: { tenant: 'acme', via: 'api' } }) }]);

    const refusing = apiFixture({}, { middleware: { client: [function noBulk(job) { if (job.jobtype === 'Bulk') throw new Error('no bulk today'); return job; }] } });
    const response = await refusing.call(post({ jobs: [{ jobtype: 'A', jid: 'a' }, { jobtype: 'Bulk', jid: 'b' }] }));
    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 422,
      json: { error: { code: 'refused_by_middleware', message: 'client middleware noBulk (client[0]) (enqueue via api): threw Error: no bulk today', middleware: 'noBulk (client[0])', via: 'api' } },
    });
    expect(refusing.sqs.batches).toEqual([]);
  });

  it('enqueues many jobs across queues and returns their jids in order', async () => {
    const { call, sqs } = apiFixture();
    const response = await call(post({ jobs: [{ jobtype: 'A', jid: 'a' }, { jobtype: 'B', jid: 'b', queue: 'critical' }] }));

    expect({ status: response.statusCode, json: response.json }).toEqual({ status: 202, json: { jids: ['a', 'b'] } });
    expect(sqs.sentTo(QUEUE_URLS.critical).map((message) => message.body)).toEqual([expect.objectContaining({ jid: 'b' })]);
  });

  it('reads a base64 body', async () => {
    const { call } = apiFixture();
    expect((await call(post({ jobtype: 'A', jid: 'b64' }, { base64: true }))).json).toEqual({ jid: 'b64', jids: ['b64'] });
  });

  it.each([
    { name: 'a body that is not JSON', body: '{nope', parameter: 'body', message: 'body must be JSON, but text that is not JSON was provided' },
    { name: 'no body', body: undefined, parameter: 'body', message: 'body must be a JSON object, but nothing was provided' },
    { name: 'an empty jobs array', body: { jobs: [] }, parameter: 'jobs', message: 'jobs must be an array of 1 to 1000 jobs, but 0 jobs was provided' },
    { name: 'jobs that is not an array', body: { jobs: 'x' }, parameter: 'jobs', message: 'jobs must be an array of 1 to 1000 jobs, but "x" was provided' },
    { name: 'a job without jobtype', body: { args: [] }, parameter: 'jobtype', message: 'jobtype must be a string of 1 to 256 characters, but nothing was provided' },
    { name: 'a bad field of the second job', body: { jobs: [{ jobtype: 'A' }, { jobtype: 'B', retry: -1 }] }, parameter: 'jobs[1].retry', message: 'jobs[1].retry must be an integer from 0 to 1000, but number -1 was provided' },
    { name: 'an undeclared queue', body: { jobtype: 'A', queue: 'nope' }, parameter: 'queue', message: 'queue must be one of the declared queues (default, critical), but "nope" was provided' },
  ])('answers $name with 400 naming $parameter, and sends nothing', async ({ body, parameter, message }) => {
    const { call, sqs } = apiFixture();
    const response = await call(post(body));

    expect({ status: response.statusCode, json: response.json }).toEqual({ status: 400, json: { error: { code: 'bad_parameter', message, parameter } } });
    expect(sqs.batches).toEqual([]);
  });

  it('answers a body over the API\'s limit with 413', async () => {
    const { call, sqs } = apiFixture({ maxBodyBytes: 100 });
    const response = await call(post({ jobtype: 'A', args: ['x'.repeat(200)] }));

    expect(response.statusCode).toBe(413);
    expect(response.json).toEqual({ error: { code: 'payload_too_large', message: expect.stringMatching(/^the body is 2\d\d bytes, over this API's limit of 100 bytes/) } });
    expect(sqs.batches).toEqual([]);
  });

  it('puts a job due in more than 15 minutes in the scheduled set', async () => {
    const { call, scheduled, sqs } = apiFixture();
    await call(post({ jobtype: 'Later', jid: 'later', at: '2026-11-22T14:00:00Z' }));

    expect(scheduled.map(({ job, dueMs }) => ({ jid: job.jid, due: new Date(dueMs).toISOString() }))).toEqual([{ jid: 'later', due: '2026-11-22T14:00:00.000Z' }]);
    expect(sqs.batches).toEqual([]);
  });
});

describe('quotas', () => {
  it('answers 429 with Retry-After and X-Hopper-Rate-Limits once the tenant\'s quota is spent, and sends nothing more', async () => {
    const { call, sqs } = apiFixture();
    // 3 per minute: one point drips back every 20 s.
    expect((await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'A' }, { jobtype: 'A' }] }))).statusCode).toBe(202);
    const refused = await call(post({ jobtype: 'A' }));

    expect({ status: refused.statusCode, retryAfter: refused.headers['Retry-After'], limits: refused.headers['X-Hopper-Rate-Limits'] }).toEqual({ status: 429, retryAfter: '20', limits: '20::tenant:quota_exceeded' });
    expect(refused.json).toEqual({
      error: {
        code: 'quota_exceeded',
        message: 'the tenant quota of acme is spent; retry after 20 s',
        retry_after: 20,
        limits: [{ scope: 'tenant', id: 'acme', queues: [], retry_after: 20, reason: 'quota_exceeded' }],
      },
    });
    expect(sqs.sentTo(QUEUE_URLS.default)).toHaveLength(3);
  });

  it('answers 502 naming the jobs SQS refused, and gives their quota points back', async () => {
    const { call, sqs } = apiFixture();
    sqs.failEntry = (entry) => (JSON.parse(entry.MessageBody ?? '{}').jid === 'b' ? { Code: 'InternalError', Message: 'try later', SenderFault: false } : undefined);
    const response = await call(post({ jobs: [{ jobtype: 'A', jid: 'a' }, { jobtype: 'A', jid: 'b' }] }));

    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 502,
      json: { error: { code: 'upstream_error', message: '1 job(s) could not be enqueued; first: b: InternalError: try later', enqueued: ['a'], failed: [{ jid: 'b', reason: 'InternalError: try later' }] } },
    });
    // 3 per minute: 1 point spent on 'a', 'b' refunded, so two more fit.
    sqs.failEntry = undefined;
    expect((await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'A' }] }))).statusCode).toBe(202);
    expect((await call(post({ jobtype: 'A' }))).statusCode).toBe(429);
  });

  it('answers 409 not_unique with the holder\'s jid for a unique job whose lock is held, and gives its quota point back', async () => {
    const dynamo = new ScriptedDynamo();
    dynamo.script.push(conditionFailed({ jid: { S: 'first' }, expires_at: { S: '2026-11-22T12:40:00.000Z' } }));
    const { call, sqs } = apiFixture({}, { dynamo });

    const response = await call(post({ jobtype: 'Sync', args: [7], jid: 'second', custom: { unique_for: 600 } }));

    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 409,
      json: {
        error: {
          code: 'not_unique',
          message: 'job second is not unique: job first holds the lock on its jobtype, args and queue until 2026-11-22T12:40:00.000Z',
          jid: 'second',
          existing_jid: 'first',
          locked_until: '2026-11-22T12:40:00.000Z',
          enqueued: [],
          failed: [{ jid: 'second', reason: 'job second is not unique: job first holds the lock on its jobtype, args and queue until 2026-11-22T12:40:00.000Z', existing_jid: 'first', locked_until: '2026-11-22T12:40:00.000Z' }],
        },
      },
    });
    expect(sqs.batches).toEqual([]);
    // 3 per minute, and the refused job cost nothing.
    expect((await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'A' }, { jobtype: 'A' }] }))).statusCode).toBe(202);
  });

  it('answers 409 for a request whose only failures are unique conflicts, listing what it enqueued', async () => {
    const dynamo = new ScriptedDynamo();
    dynamo.script.push(conditionFailed({ jid: { S: 'holder' } }));
    const { call } = apiFixture({}, { dynamo });

    const response = await call(post({ jobs: [{ jobtype: 'Sync', jid: 'u', custom: { unique_for: 600 } }, { jobtype: 'A', jid: 'plain' }] }));

    expect({ status: response.statusCode, code: field(field(response.json, 'error'), 'code'), enqueued: field(field(response.json, 'error'), 'enqueued') }).toEqual({ status: 409, code: 'not_unique', enqueued: ['plain'] });
  });

  it('answers 502 upstream_error, not 500, when an AWS call fails (a throttled quota check)', async () => {
    const { call, context } = apiFixture();
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
    Object.assign(context.quotaStore, { acquire: () => Promise.reject(throttled) });

    const response = await call(post({ jobtype: 'A' }));

    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 502,
      json: { error: { code: 'upstream_error', message: 'a service the API depends on failed (ProvisionedThroughputExceededException: Rate exceeded); try again' } },
    });
  });

  it('keeps tenants apart: another principal has its own bucket', async () => {
    const { call } = apiFixture();
    await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'A' }, { jobtype: 'A' }] }));
    expect((await call(post({ jobtype: 'A' }, { iam: roleSession('Other') }))).statusCode).toBe(202);
  });

  it('charges a queue quota only for the jobs sent to that queue', async () => {
    const { call } = apiFixture({ quotas: (await import('../../lib/quota/index.js')).resolveQuotas({ queues: { critical: { limit: 2, per: 'hour' } } }) });
    expect((await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'A' }, { jobtype: 'B', queue: 'critical' }] }))).statusCode).toBe(202);
    expect((await call(post({ jobtype: 'B', queue: 'critical' }))).statusCode).toBe(202);
    const refused = await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'B', queue: 'critical' }] }));
    expect({ status: refused.statusCode, limits: refused.headers['X-Hopper-Rate-Limits'] }).toEqual({ status: 429, limits: '1800:critical:queue:quota_exceeded' });
  });
});

describe('backlog limits', () => {
  it('answers 503 when a queue holds more than maxBacklog, with a default Retry-After when no drain was seen', async () => {
    const { call, backend, sqs } = apiFixture();
    backend.counts_[QUEUE_URLS.critical] = { visible: 6, inFlight: 0, delayed: 0 };
    const response = await call(post({ jobtype: 'A', queue: 'critical' }));

    expect({ status: response.statusCode, retryAfter: response.headers['Retry-After'], limits: response.headers['X-Hopper-Rate-Limits'] }).toEqual({ status: 503, retryAfter: '30', limits: '30:critical:queue:max_backlog' });
    expect(response.json).toMatchObject({ error: { code: 'backlog_exceeded', message: 'queue critical would hold 7 waiting jobs (6 when SQS was last read, 0 accepted since, 1 in this request), over its maxBacklog of 5; retry after 30 s' } });
    expect(sqs.batches).toEqual([]);
  });

  it('estimates Retry-After from the drain rate the workers reported', async () => {
    const { call, backend } = apiFixture();
    backend.counts_[QUEUE_URLS.critical] = { visible: 25, inFlight: 0, delayed: 0 };
    backend.reports_.set('critical', { drainPerSecond: 2, lag: undefined });

    // 21 jobs over the limit with this one, at 2 per second.
    expect((await call(post({ jobtype: 'A', queue: 'critical' }))).headers['Retry-After']).toBe('11');
  });

  it('ignores the drain rate of a paused queue: nothing drains until it is resumed', async () => {
    const { call, backend } = apiFixture({ backlogLimits: { default: { maxBacklog: 5 } } });
    backend.counts_[QUEUE_URLS.default] = { visible: 25, inFlight: 0, delayed: 0 };
    backend.reports_.set('default', { drainPerSecond: 2, lag: undefined });
    backend.states['uuid-default'] = 'Disabled';

    const response = await call(post({ jobtype: 'A' }));
    expect({ retryAfter: response.headers['Retry-After'], message: field(field(response.json, 'error'), 'message') }).toEqual({
      retryAfter: '30',
      message: 'queue default would hold 26 waiting jobs (25 when SQS was last read, 0 accepted since, 1 in this request), over its maxBacklog of 5 (the queue is paused); retry after 30 s',
    });
  });

  it('reads queue attributes at most once per 5 seconds per instance, and recovers when the queue drains', async () => {
    const { call, backend, setNow } = apiFixture();
    backend.counts_[QUEUE_URLS.critical] = { visible: 6, inFlight: 0, delayed: 0 };
    expect((await call(post({ jobtype: 'A', queue: 'critical' }))).statusCode).toBe(503);
    backend.counts_[QUEUE_URLS.critical] = { visible: 0, inFlight: 0, delayed: 0 };
    expect((await call(post({ jobtype: 'A', queue: 'critical' }))).statusCode).toBe(503);
    setNow(Date.UTC(2026, 10, 22, 12, 30, 20));
    expect((await call(post({ jobtype: 'A', queue: 'critical' }))).statusCode).toBe(202);
    expect(backend.counted).toEqual([QUEUE_URLS.critical, QUEUE_URLS.critical]);
  });

  it('counts what it accepted since the last reading and the request itself: a burst stops exactly at maxBacklog', async () => {
    const { call, backend, setNow } = apiFixture({ quotas: resolveQuotas({}) });
    backend.counts_[QUEUE_URLS.critical] = { visible: 1, inFlight: 0, delayed: 0 };
    const statuses: number[] = [];
    for (let index = 0; index < 12; index += 1) statuses.push((await call(post({ jobtype: 'A', queue: 'critical', jid: `b${index}` }))).statusCode);

    expect(statuses).toEqual([202, 202, 202, 202, 503, 503, 503, 503, 503, 503, 503, 503]);
    // A request is counted whole: 3 jobs do not fit where one more would.
    backend.counts_[QUEUE_URLS.critical] = { visible: 2, inFlight: 0, delayed: 0 };
    setNow(Date.UTC(2026, 10, 22, 12, 30, 20));
    expect((await call(post({ jobs: [{ jobtype: 'A', queue: 'critical' }, { jobtype: 'A', queue: 'critical' }, { jobtype: 'A', queue: 'critical' }, { jobtype: 'A', queue: 'critical' }] }))).statusCode).toBe(503);
    expect((await call(post({ jobs: [{ jobtype: 'A', queue: 'critical' }, { jobtype: 'A', queue: 'critical' }, { jobtype: 'A', queue: 'critical' }] }))).statusCode).toBe(202);
    expect((await call(post({ jobtype: 'A', queue: 'critical' }))).statusCode).toBe(503);
    // Once a new reading covers them, the accepted jobs are SQS's to count.
    expect(backend.counted).toEqual([QUEUE_URLS.critical, QUEUE_URLS.critical]);
  });

  it('does not check queues without limits', async () => {
    const { call, backend } = apiFixture();
    await call(post({ jobtype: 'A' }));
    expect(backend.counted).toEqual([]);
  });
});

describe('metrics', () => {
  it('counts enqueued jobs per queue and jobtype, and jobs turned away by a quota as Throttled', async () => {
    const { call, emf } = apiFixture();
    await call(post({ jobs: [{ jobtype: 'A' }, { jobtype: 'A' }, { jobtype: 'B', queue: 'critical' }] }));
    await call(post({ jobtype: 'A' }));

    expect(emf.map(({ _aws, ...fields }) => fields)).toEqual([
      { Queue: 'default', JobType: 'A', Enqueued: 2 },
      { Queue: 'critical', JobType: 'B', Enqueued: 1 },
      { Queue: 'default', JobType: 'A', Throttled: 1 },
    ]);
    expect(emf[2]?._aws).toEqual({ Timestamp: NOW, CloudWatchMetrics: [{ Namespace: 'Hopper', Dimensions: [['Queue'], ['Queue', 'JobType']], Metrics: [{ Name: 'Throttled', Unit: 'Count' }] }] });
  });

  it('counts jobs a backlog limit turned away as Throttled', async () => {
    const { call, backend, emf } = apiFixture();
    backend.counts_[QUEUE_URLS.critical] = { visible: 6, inFlight: 0, delayed: 0 };
    expect((await call(post({ jobs: [{ jobtype: 'A', queue: 'critical' }, { jobtype: 'B', queue: 'critical' }] }))).statusCode).toBe(503);
    expect(emf.map(({ _aws, ...fields }) => fields)).toEqual([{ Queue: 'critical', JobType: 'A', Throttled: 1 }, { Queue: 'critical', JobType: 'B', Throttled: 1 }]);
  });
});
