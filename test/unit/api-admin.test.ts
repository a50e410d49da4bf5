import { createServer } from 'node:http';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { awsQueueBackend } from '../../lib/api/aws.js';
import { MappingBusyError } from '../../lib/api/queue-state.js';
import { normalizeJob } from '../../lib/job/model.js';
import { setPartitionKey, shardCandidates, statsHourKey, statsTotalKey } from '../../lib/storage/keys.js';
import { quotaKey } from '../../lib/limiters/keys.js';
import { apiFixture, NOW, urlEvent } from './api-fakes.js';
import { field, records, text } from '../fixtures/json.js';
import { QUEUE_URLS } from './worker-fakes.js';

const job = (jid: string, fields: Record<string, unknown> = {}) => normalizeJob({ jobtype: 'SendEmail', jid, ...fields }, { now: new Date(NOW) });
const reason = { errtype: 'Error', message: 'boom' };
const T = Date.UTC(2026, 10, 20);

describe('GET /v1/queues', () => {
  it('shows sizes, the reported latency, drain rate, paused state and limits of every queue', async () => {
    const { call, backend } = apiFixture();
    backend.counts_[QUEUE_URLS.default] = { visible: 7, inFlight: 2, delayed: 1 };
    backend.states['uuid-default'] = 'Disabled';
    backend.reports_.set('default', { drainPerSecond: 0.5, lag: { ms: 1500, atMs: NOW - 10_000 } });

    const response = await call(urlEvent({ method: 'GET', path: '/v1/queues' }));

    expect(response.json).toEqual({
      queues: [
        { name: 'default', size: 7, in_flight: 2, delayed: 1, latency: 1.5, latency_observed_at: '2026-11-22T12:30:05.000Z', drain_per_second: 0.5, paused: true, mapping_state: 'Disabled', max_concurrency: 3 },
        { name: 'critical', size: 0, in_flight: 0, delayed: 0, latency: null, latency_observed_at: null, drain_per_second: null, paused: null, mapping_state: null, max_concurrency: null, limits: { max_backlog: 5, max_latency: null } },
      ],
    });
  });
});

describe('POST /v1/queues/{queue}/pause|resume', () => {
  it('disables and enables the queue\'s event source mapping', async () => {
    const { call, backend } = apiFixture();
    const paused = await call(urlEvent({ method: 'POST', path: '/v1/queues/default/pause' }));
    const resumed = await call(urlEvent({ method: 'POST', path: '/v1/queues/default/resume' }));

    expect([paused.json, resumed.json]).toEqual([
      { queue: 'default', paused: true, mapping_state: 'Disabling' },
      { queue: 'default', paused: false, mapping_state: 'Enabling' },
    ]);
    expect(backend.updates).toEqual([{ uuid: 'uuid-default', enabled: false }, { uuid: 'uuid-default', enabled: true }]);
  });

  it('answers 409 busy with Retry-After while the mapping is mid-change, and changes it once it has settled', async () => {
    const { call, backend } = apiFixture();
    backend.busy.add('uuid-default');

    const refused = await call(urlEvent({ method: 'POST', path: '/v1/queues/default/resume' }));
    backend.busy.delete('uuid-default');
    const accepted = await call(urlEvent({ method: 'POST', path: '/v1/queues/default/resume' }));

    expect({ status: refused.statusCode, retryAfter: refused.headers['Retry-After'], json: refused.json }).toEqual({
      status: 409,
      retryAfter: '5',
      json: { error: { code: 'busy', message: 'queue default is still being paused or resumed (its worker\'s event source mapping is mid-change); try again in 5 s', retry_after: 5 } },
    });
    expect(accepted.json).toEqual({ queue: 'default', paused: false, mapping_state: 'Enabling' });
    expect(backend.updates).toEqual([{ uuid: 'uuid-default', enabled: true }]);
  });

  it('takes Lambda\'s ResourceInUseException (an update refused mid-change) for a busy mapping', async () => {
    // Lambda's answer to UpdateEventSourceMapping on a mapping that is still disabling.
    const server = createServer((_request, response) => {
      response.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceInUseException' });
      response.end(JSON.stringify({ Type: 'User', message: 'The resource is in use.' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const lambda = new LambdaClient({ endpoint: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    try {
      const backend = awsQueueBackend(new SQSClient({ region: 'us-east-1' }), lambda, async () => new Map());
      const error = await backend.setMappingEnabled('uuid-1', true).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(MappingBusyError);
      expect(error instanceof Error ? [error.name, error.message] : []).toEqual(['MappingBusyError', 'event source mapping uuid-1 is being changed; try again in 5 s']);
    } finally {
      lambda.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers 404 for an undeclared queue and 409 for a queue without a worker', async () => {
    const { call } = apiFixture();
    const unknown = await call(urlEvent({ method: 'POST', path: '/v1/queues/nope/pause' }));
    const noWorker = await call(urlEvent({ method: 'POST', path: '/v1/queues/critical/pause' }));

    expect([unknown.statusCode, noWorker.statusCode]).toEqual([404, 409]);
    expect(noWorker.json).toEqual({ error: { code: 'conflict', message: 'queue critical has no worker, so there is nothing to pause' } });
  });
});

describe('GET /v1/retries|scheduled|dead', () => {
  function withDead() {
    const fixture = apiFixture();
    for (let i = 0; i < 5; i += 1) fixture.sets.put('dead', { job: job(`d${i}`, i % 2 === 0 ? {} : { jobtype: 'Other', queue: 'critical' }), epochMs: T + i * 1000, reason });
    return fixture;
  }

  it('lists the dead set newest first, with a cursor to the next page', async () => {
    const { call } = withDead();
    const first = await call(urlEvent({ method: 'GET', path: '/v1/dead', query: 'limit=2' }));
    const cursor = text(first.json, 'cursor');

    expect(records(first.json).map((entry) => entry.jid)).toEqual(['d4', 'd3']);
    expect(cursor).toBe(records(first.json)[1]?.id);
    const second = await call(urlEvent({ method: 'GET', path: '/v1/dead', query: `limit=2&cursor=${encodeURIComponent(cursor)}` }));
    expect(records(second.json).map((entry) => entry.jid)).toEqual(['d2', 'd1']);
  });

  it('shows an entry with its id, time, error, retry count and job', async () => {
    const { call } = withDead();
    const body = (await call(urlEvent({ method: 'GET', path: '/v1/dead', query: 'limit=1' }))).json;
    expect(records(body)[0]).toEqual({
      id: `${T + 4000}#d4`, jid: 'd4', jobtype: 'SendEmail', queue: 'default', failed_at: '2026-11-20T00:00:04.000Z',
      error: { errtype: 'Error', message: 'boom' }, retry_count: null, job: expect.objectContaining({ jid: 'd4' }),
    });
  });

  it('filters by jobtype and queue', async () => {
    const { call } = withDead();
    const body = (await call(urlEvent({ method: 'GET', path: '/v1/dead', query: 'jobtype=Other&queue=critical' }))).json;
    expect({ jids: records(body).map((entry) => entry.jid), scanned: field(body, 'scanned'), cursor: field(body, 'cursor') }).toEqual({ jids: ['d3', 'd1'], scanned: 5, cursor: null });
  });

  it('lists the retry set soonest first under /v1/retries', async () => {
    const { call, sets } = apiFixture();
    sets.put('retry', { job: job('late'), epochMs: T + 9000, reason });
    sets.put('retry', { job: job('soon'), epochMs: T + 1000, reason });
    const body = (await call(urlEvent({ method: 'GET', path: '/v1/retries' }))).json;
    expect(records(body).map((entry) => [entry.jid, entry.at])).toEqual([['soon', '2026-11-20T00:00:01.000Z'], ['late', '2026-11-20T00:00:09.000Z']]);
  });

  it.each([
    { query: 'limit=0', parameter: 'limit', message: 'limit must be an integer from 1 to 1000, but "0" was provided' },
    { query: 'limit=abc', parameter: 'limit', message: 'limit must be an integer from 1 to 1000, but "abc" was provided' },
    { query: 'cursor=yesterday', parameter: 'cursor', message: 'cursor must be an entry id, <13-digit epoch ms>#<jid>, as a list returns it, but "yesterday" was provided' },
  ])('answers $query with 400 naming $parameter', async ({ query, parameter, message }) => {
    const { call } = apiFixture();
    const response = await call(urlEvent({ method: 'GET', path: '/v1/scheduled', query }));
    expect({ status: response.statusCode, json: response.json }).toEqual({ status: 400, json: { error: { code: 'bad_parameter', message, parameter } } });
  });
});

describe('one entry', () => {
  it('retries a dead job now: sends it to its queue, keeping its failure, then removes it', async () => {
    const { call, sets, sqs } = apiFixture();
    const entry = sets.put('dead', { job: job('d1', { failure: { retry_count: 25, failed_at: '2026-11-20T00:00:00Z', message: 'boom', errtype: 'Error' } }), epochMs: T, reason });

    const response = await call(urlEvent({ method: 'POST', path: `/v1/dead/${encodeURIComponent(entry.key.sk)}/retry` }));

    expect({ status: response.statusCode, json: response.json }).toEqual({ status: 200, json: { id: entry.key.sk, jid: 'd1', queue: 'default', enqueued: true, removed: true } });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([{ delaySeconds: undefined, body: expect.objectContaining({ jid: 'd1', failure: expect.objectContaining({ retry_count: 25 }) }) }]);
    expect(await sets.getSetEntry('dead', entry.key)).toBeUndefined();
  });

  it('runs a scheduled job now, without its due time', async () => {
    const { call, sets, sqs } = apiFixture();
    const entry = sets.put('scheduled', { job: job('s1', { at: '2026-12-01T00:00:00Z' }), epochMs: Date.UTC(2026, 11, 1) });

    await call(urlEvent({ method: 'POST', path: `/v1/scheduled/${encodeURIComponent(entry.key.sk)}/retry` }));

    expect(sqs.sentTo(QUEUE_URLS.default).map((message) => message.body)).toEqual([expect.not.objectContaining({ at: expect.anything() })]);
  });

  it('reads and runs a scheduled job by its id when it waits under the 16 shards the set had before', async () => {
    const { call, sets, sqs } = apiFixture();
    const jid = Array.from({ length: 200 }, (_, i) => `old${i}`).find((candidate) => shardCandidates('scheduled', candidate).length === 2) ?? '';
    const entry = sets.put('scheduled', { job: job(jid, { at: '2026-12-01T00:00:00Z' }), epochMs: Date.UTC(2026, 11, 1) });
    // Moved to the key it had when the set had 16 shards.
    const stored = sets.items.get(`${entry.key.pk}|${entry.key.sk}`);
    const formerPk = setPartitionKey('scheduled', shardCandidates('scheduled', jid)[1] ?? -1);
    sets.items.delete(`${entry.key.pk}|${entry.key.sk}`);
    if (stored !== undefined) sets.items.set(`${formerPk}|${entry.key.sk}`, { ...stored, item: { ...stored.item, pk: { S: formerPk } } });
    const path = `/v1/scheduled/${encodeURIComponent(entry.key.sk)}`;

    expect((await call(urlEvent({ method: 'GET', path }))).json).toMatchObject({ jid });
    expect((await call(urlEvent({ method: 'POST', path: `${path}/retry` }))).statusCode).toBe(200);
    expect(sqs.sentTo(QUEUE_URLS.default).map((message) => message.body)).toEqual([expect.objectContaining({ jid })]);
  });

  it('refuses to retry an entry that holds no valid job (409) and answers 404 for a missing one', async () => {
    const { call, sets } = apiFixture();
    const raw = sets.put('dead', { raw: 'not json', jid: 'msg-1', epochMs: T, reason });
    const conflict = await call(urlEvent({ method: 'POST', path: `/v1/dead/${encodeURIComponent(raw.key.sk)}/retry` }));
    const missing = await call(urlEvent({ method: 'POST', path: `/v1/dead/${encodeURIComponent(`${T}#nobody`)}/retry` }));

    expect([conflict.statusCode, missing.statusCode]).toEqual([409, 404]);
  });

  it('gets and deletes one entry (204), then answers 404', async () => {
    const { call, sets } = apiFixture();
    const entry = sets.put('retry', { job: job('r1'), epochMs: T, reason });
    const path = `/v1/retries/${encodeURIComponent(entry.key.sk)}`;

    expect((await call(urlEvent({ method: 'GET', path }))).json).toMatchObject({ jid: 'r1' });
    expect((await call(urlEvent({ method: 'DELETE', path }))).statusCode).toBe(204);
    expect((await call(urlEvent({ method: 'DELETE', path }))).statusCode).toBe(404);
  });
});

describe('an entry the team\'s middleware refuses', () => {
  it('answers 422 refused_by_middleware naming the entry and the path, and keeps the entry', async () => {
    const { call, sets } = apiFixture({}, { middleware: { client: [function embargo() { throw new Error('embargoed'); }] } });
    const entry = sets.put('dead', { job: job('d1'), epochMs: T, reason });
    const response = await call(urlEvent({ method: 'POST', path: `/v1/dead/${encodeURIComponent(entry.key.sk)}/retry` }));
    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 422,
      json: { error: { code: 'refused_by_middleware', message: 'client middleware embargo (client[0]) (enqueue via api): threw Error: embargoed', middleware: 'embargo (client[0])', via: 'api' } },
    });
    expect((await call(urlEvent({ method: 'GET', path: `/v1/dead/${encodeURIComponent(entry.key.sk)}` }))).statusCode).toBe(200);
  });
});

describe('bulk', () => {
  it('deletes matching entries a bounded number per call, with a cursor until done', async () => {
    const { call, sets } = apiFixture();
    for (let i = 0; i < 5; i += 1) sets.put('dead', { job: job(`d${i}`, { jobtype: i < 4 ? 'Bad' : 'Good' }), epochMs: T + i, reason });

    const first = await call(urlEvent({ method: 'POST', path: '/v1/dead/delete', body: { jobtype: 'Bad', limit: 3 } }));
    const cursor = text(first.json, 'cursor');
    const second = await call(urlEvent({ method: 'POST', path: '/v1/dead/delete', body: { jobtype: 'Bad', limit: 3, cursor } }));

    expect(first.json).toEqual({ scanned: 3, matched: 2, deleted: 2, skipped: 0, failed: [], cursor: `${T + 2}#d2`, done: false });
    expect(second.json).toEqual({ scanned: 2, matched: 2, deleted: 2, skipped: 0, failed: [], cursor: null, done: true });
    expect((await sets.readSetRange('dead')).entries.map((entry) => entry.jid)).toEqual(['d4']);
  });

  it('retries matching jobs, skipping raw entries', async () => {
    const { call, sets, sqs } = apiFixture();
    sets.put('dead', { job: job('a'), epochMs: T, reason });
    sets.put('dead', { job: job('b'), epochMs: T + 1, reason });
    sets.put('dead', { raw: 'garbage', jid: 'm', epochMs: T + 2, reason });

    const response = await call(urlEvent({ method: 'POST', path: '/v1/dead/retry', body: {} }));

    expect(response.json).toEqual({ scanned: 3, matched: 3, retried: 2, skipped: 1, failed: [], cursor: null, done: true });
    expect(sqs.sentTo(QUEUE_URLS.default).map((message) => field(message.body, 'jid')).sort()).toEqual(['a', 'b']);
  });

  it.each([
    { body: { limit: 0 }, parameter: 'limit' },
    { body: { jobtype: 3 }, parameter: 'jobtype' },
    { body: { cursor: 'x' }, parameter: 'cursor' },
    { body: { colour: 'red' }, parameter: 'colour' },
    { body: [1], parameter: 'body' },
  ])('answers a filter with a bad $parameter with 400', async ({ body, parameter }) => {
    const { call } = apiFixture();
    const response = await call(urlEvent({ method: 'POST', path: '/v1/retries/delete', body }));
    expect({ status: response.statusCode, parameter: field(field(response.json, 'error'), 'parameter') }).toEqual({ status: 400, parameter });
  });
});

describe('GET /v1/stats', () => {
  it('adds the folded totals to the hours since, and shows per-minute history, zero-filled', async () => {
    const { call, stats } = apiFixture();
    const hour = Date.UTC(2026, 10, 22, 12);
    const total = statsTotalKey();
    stats.items = [
      { pk: { S: total.pk }, sk: { S: total.sk }, p: { N: '1000' }, f: { N: '10' }, through: { N: String(hour - 3_600_000) } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(hour - 3_600_000, { kind: 'worker', queue: 'default' }).sk }, p: { N: '50' } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(hour, { kind: 'worker', queue: 'default' }).sk }, p: { N: '7' }, p29: { N: '3' }, p30: { N: '4' } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(hour, { kind: 'retry' }).sk }, p: { N: '2' }, f: { N: '2' }, p30: { N: '2' }, f30: { N: '2' } },
    ];

    const response = await call(urlEvent({ method: 'GET', path: '/v1/stats', query: 'minutes=3' }));

    expect(response.json).toEqual({
      processed: 1059,
      failed: 12,
      history: [
        { at: '2026-11-22T12:28:00.000Z', processed: 0, failed: 0 },
        { at: '2026-11-22T12:29:00.000Z', processed: 3, failed: 0 },
        { at: '2026-11-22T12:30:00.000Z', processed: 6, failed: 2 },
      ],
      step_minutes: 1,
    });
    // 11:00–12:00 ended more than 10 minutes ago: folded into the totals.
    expect(stats.folds).toEqual([{ from: hour - 3_600_000, to: hour, processed: 50, failed: 0 }]);
  });

  it('shows a week per hour, each point starting on the hour and ending with the current one', async () => {
    const { call, stats } = apiFixture();
    const hour = Date.UTC(2026, 10, 22, 12);
    const sixDaysAgo = hour - 6 * 86_400_000;
    stats.items = [
      { pk: { S: 'stats' }, sk: { S: statsHourKey(sixDaysAgo, { kind: 'worker', queue: 'default' }).sk }, p: { N: '9' }, f: { N: '1' }, p05: { N: '4' }, p59: { N: '5' }, f59: { N: '1' } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(hour, { kind: 'worker', queue: 'default' }).sk }, p: { N: '7' }, p29: { N: '3' }, p30: { N: '4' } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(hour, { kind: 'retry' }).sk }, p: { N: '2' }, f: { N: '2' }, p30: { N: '2' }, f30: { N: '2' } },
    ];

    const response = await call(urlEvent({ method: 'GET', path: '/v1/stats', query: 'minutes=10080' }));
    const history = field(response.json, 'history') as { at: string; processed: number; failed: number }[];

    expect(field(response.json, 'step_minutes')).toBe(60);
    expect(history).toHaveLength(168);
    expect(history.at(-1)).toEqual({ at: '2026-11-22T12:00:00.000Z', processed: 9, failed: 2 });
    expect(history.at(0)?.at).toBe('2026-11-15T13:00:00.000Z');
    expect(history.find((point) => point.at === new Date(sixDaysAgo).toISOString())).toEqual({ at: '2026-11-16T12:00:00.000Z', processed: 9, failed: 1 });
    expect(history.reduce((sum, point) => sum + point.processed, 0)).toBe(18);
  });

  it('answers minutes out of range with 400', async () => {
    const { call } = apiFixture();
    expect((await call(urlEvent({ method: 'GET', path: '/v1/stats', query: 'minutes=10081' }))).json).toEqual({
      error: { code: 'bad_parameter', message: 'minutes must be an integer from 1 to 10080, but "10081" was provided', parameter: 'minutes' },
    });
  });
});

describe('GET /v1/stats/cohorts', () => {
  const cohort = (minute: string, fields: Record<string, string>) => ({
    pk: { S: 'cohorts' }, sk: { S: String(Date.parse(minute)).padStart(13, '0') },
    ...Object.fromEntries(Object.entries(fields).map(([name, n]) => [name, { N: n }])),
  });

  it('shows the cohorts of the last minutes, newest first, with pending and latency percentiles', async () => {
    const { call, stats } = apiFixture();
    stats.cohorts = [
      cohort('2026-11-22T12:27:00.000Z', { s: '1', d: '1', h0: '1', mx: '7' }),
      cohort('2026-11-22T12:29:00.000Z', { s: '120', d: '110', x: '2', f: '12', h10: '60', h12: '54', h16: '6', mx: '2400' }),
      cohort('2026-11-22T12:30:00.000Z', { f: '1', x: '1' }),
    ];

    const response = await call(urlEvent({ method: 'GET', path: '/v1/stats/cohorts', query: 'minutes=3' }));

    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({
      cohorts: [
        { minute: '2026-11-22T12:30:00.000Z', started: 0, done: 0, dead: 1, pending: 0, failed: 1, latency_ms: { p50: null, p90: null, p99: null, max: null } },
        { minute: '2026-11-22T12:29:00.000Z', started: 120, done: 110, dead: 2, pending: 8, failed: 12, latency_ms: { p50: 320, p90: 619, p99: 2400, max: 2400 } },
      ],
    });
  });

  it('shows the last 60 minutes by default and answers minutes out of range with 400 naming it', async () => {
    const { call, stats } = apiFixture();
    stats.cohorts = [cohort('2026-11-22T11:31:00.000Z', { s: '1', h0: '1', mx: '3' }), cohort('2026-11-22T11:30:00.000Z', { s: '1', h0: '1', mx: '3' })];
    expect(field(await call(urlEvent({ method: 'GET', path: '/v1/stats/cohorts' })).then((response) => response.json), 'cohorts')).toEqual([
      { minute: '2026-11-22T11:31:00.000Z', started: 1, done: 0, dead: 0, pending: 1, failed: 0, latency_ms: { p50: 3, p90: 3, p99: 3, max: 3 } },
    ]);
    for (const minutes of ['0', '1441', 'ten']) {
      const response = await call(urlEvent({ method: 'GET', path: '/v1/stats/cohorts', query: `minutes=${minutes}` }));
      expect({ status: response.statusCode, error: response.json }).toEqual({
        status: 400,
        error: { error: { code: 'bad_parameter', message: `minutes must be an integer from 1 to 1440, but ${JSON.stringify(minutes)} was provided`, parameter: 'minutes' } },
      });
    }
  });
});

describe('GET /v1/limits', () => {
  it('shows configured quotas with their available points, asked-for tenants and limiters', async () => {
    const { call, limits } = apiFixture({ quotas: (await import('../../lib/quota/index.js')).resolveQuotas({ default: { limit: 60, per: 'minute' }, tenants: { acme: { limit: 10, per: 'second' } } }) });
    // acme's bucket (10 per second, 1 point = 100 ms = 1000 units at scale 10) has 3 points draining.
    limits.set(quotaKey('tenant', 'acme').pk, [{ pk: { S: quotaKey('tenant', 'acme').pk }, sk: { S: 'points' }, t: { N: String(NOW * 10 + 3000) }, s: { N: '10' } }]);
    limits.set('limiter#erp', [{ pk: { S: 'limiter#erp' }, sk: { S: 'concurrent' }, n: { N: '2' }, e_a: { N: String(NOW + 5000) }, e_b: { N: String(NOW - 1) } }]);

    const response = await call(urlEvent({ method: 'GET', path: '/v1/limits', query: 'tenant=beta&limiter=erp' }));

    expect(response.json).toEqual({
      quotas: {
        default: { limit: 60, per_ms: 60_000, burst: 60 },
        buckets: [
          { scope: 'tenant', id: 'acme', rule: { limit: 10, per_ms: 1000, burst: 10 }, state: { type: 'points', busy_until: '2026-11-22T12:30:15.300Z', capacity: 10, available: 7 } },
          { scope: 'tenant', id: 'beta', rule: { limit: 60, per_ms: 60_000, burst: 60 }, state: { type: 'points', available: 60, capacity: 60, busy_until: null } },
        ],
      },
      limiters: [{ name: 'erp', state: [{ type: 'concurrent', in_use: 1, lease_expiries: ['2026-11-22T12:30:20.000Z'] }] }],
    });
  });

  it('sums the shards of a quota of a high rate, and lists a limiter\'s shards with their numbers', async () => {
    const { call, limits } = apiFixture({ quotas: (await import('../../lib/quota/index.js')).resolveQuotas({ queues: { email: { limit: 1_000, per: 'second' } } }) });
    // 1,000 a second is 4 shards of 250 (scale 250: 1 point = 4 ms = 1000 units); shard 2 has 5 points draining.
    const shard2 = `${quotaKey('queue', 'email').pk}#2`;
    limits.set(shard2, [{ pk: { S: shard2 }, sk: { S: 'points#2' }, t: { N: String(NOW * 250 + 5000) }, s: { N: '250' } }]);
    limits.set('limiter#busy#7', [{ pk: { S: 'limiter#busy#7' }, sk: { S: 'bucket#7' }, b: { N: String(NOW) }, i: { N: '1000' }, c: { N: '12' } }]);

    const response = await call(urlEvent({ method: 'GET', path: '/v1/limits', query: 'limiter=busy' }));

    expect(response.json).toMatchObject({
      quotas: { buckets: [{ scope: 'queue', id: 'email', state: { type: 'points', available: 995, capacity: 1_000, shards: 4, busy_until: '2026-11-22T12:30:15.020Z' } }] },
      limiters: [{ name: 'busy', state: [{ type: 'bucket', count: 12, shard: 7 }] }],
    });
  });

  it('answers a malformed limiter name with 400', async () => {
    const { call } = apiFixture();
    expect((await call(urlEvent({ method: 'GET', path: '/v1/limits', query: 'limiter=a%23b' }))).statusCode).toBe(400);
  });
});
