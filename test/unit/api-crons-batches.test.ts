import { describe, expect, it } from 'vitest';
import type { BatchStatus } from '../../lib/batch/status.js';
import { cronJid, resolveCron } from '../../lib/cron/definition.js';
import { ScriptedDynamo, conditionFailed } from './state-fake.js';
import { normalizeJob } from '../../lib/job/model.js';
import { apiFixture, NOW, urlEvent } from './api-fakes.js';
import { field, text } from '../fixtures/json.js';
import { QUEUE_URLS } from './worker-fakes.js';

const T = Date.UTC(2026, 10, 20);
const job = (jid: string, fields: Record<string, unknown> = {}) => normalizeJob({ jobtype: 'SendEmail', jid, ...fields }, { now: new Date(NOW) });

const STATUS: BatchStatus = {
  bid: 'b-1', description: 'import 42', createdAt: '2026-11-22T12:00:00.000Z',
  total: 10, pending: 3, succeeded: 6, failures: 1, dead: 0, complete: false, success: false,
  callbacks: { complete: { configured: true }, success: { configured: true }, death: { configured: false } },
  childBids: ['b-2'], children: { total: 1, complete: 1, succeeded: 1, dead: 0 }, sealed: true, openFills: 0,
};

describe('GET /v1/batches/{bid}', () => {
  it('shows counts, callbacks and children of the batch', async () => {
    const { call, batches } = apiFixture();
    batches.set('b-1', { ...STATUS, callbacks: { ...STATUS.callbacks, complete: { configured: true, firedAt: '2026-11-22T12:10:00.000Z' } } });

    const response = await call(urlEvent({ method: 'GET', path: '/v1/batches/b-1' }));

    expect({ status: response.statusCode, json: response.json }).toEqual({
      status: 200,
      json: {
        bid: 'b-1', description: 'import 42', created_at: '2026-11-22T12:00:00.000Z',
        total: 10, pending: 3, succeeded: 6, failures: 1, dead: 0, complete: false, success: false,
        completed_at: null, succeeded_at: null, died_at: null,
        callbacks: {
          complete: { configured: true, fired_at: '2026-11-22T12:10:00.000Z', sent_at: null },
          success: { configured: true, fired_at: null, sent_at: null },
          death: { configured: false, fired_at: null, sent_at: null },
        },
        parent_bid: null, child_bids: ['b-2'], children: { total: 1, complete: 1, succeeded: 1, dead: 0 }, sealed: true, open_fills: 0,
      },
    });
  });

  it('answers 404 for an unknown batch and 400 naming bid for a malformed one', async () => {
    const { call } = apiFixture();
    const missing = await call(urlEvent({ method: 'GET', path: '/v1/batches/nope' }));
    const malformed = await call(urlEvent({ method: 'GET', path: `/v1/batches/${encodeURIComponent('a b')}` }));

    expect([missing.statusCode, field(missing.json, 'error')]).toEqual([404, { code: 'not_found', message: 'no batch nope (it never existed, or expired after its retention)' }]);
    expect([malformed.statusCode, field(field(malformed.json, 'error'), 'parameter')]).toEqual([400, 'bid']);
  });
});

describe('GET /v1/batches', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 10, 22, 11, minute)).toISOString();
  function seeded() {
    const fixture = apiFixture();
    fixture.batches.set('b-old', { ...STATUS, bid: 'b-old', description: 'import 40', createdAt: at(1), pending: 0, complete: true, success: true });
    fixture.batches.set('b-dead', { ...STATUS, bid: 'b-dead', description: 'export 41', createdAt: at(2), pending: 0, dead: 2, complete: true, success: false });
    fixture.batches.set('b-new', { ...STATUS, bid: 'b-new', description: 'import 42', createdAt: at(3) });
    return fixture;
  }
  const bids = (json: unknown) => (field(json, 'batches') as { bid: string }[]).map((batch) => batch.bid);

  it('lists recent batches newest first, each with its status, and pages along the cursor', async () => {
    const { call } = seeded();
    const first = await call(urlEvent({ method: 'GET', path: '/v1/batches', query: 'limit=2' }));
    const second = await call(urlEvent({ method: 'GET', path: '/v1/batches', query: `limit=2&cursor=${encodeURIComponent(String(field(first.json, 'cursor')))}` }));

    expect([first.statusCode, bids(first.json), field(first.json, 'scanned')]).toEqual([200, ['b-new', 'b-dead'], 2]);
    expect((field(first.json, 'batches') as Record<string, unknown>[])[1]).toMatchObject({ bid: 'b-dead', description: 'export 41', dead: 2, complete: true, success: false });
    expect([bids(second.json), field(second.json, 'cursor')]).toEqual([['b-old'], null]);
  });

  it('filters by text in the bid or description, and by state', async () => {
    const { call } = seeded();
    const get = async (query: string) => bids((await call(urlEvent({ method: 'GET', path: '/v1/batches', query }))).json);

    expect(await get('q=import')).toEqual(['b-new', 'b-old']);
    expect(await get('q=b-dead')).toEqual(['b-dead']);
    expect(await get('state=running')).toEqual(['b-new']);
    expect(await get('state=failed')).toEqual(['b-dead']);
    expect(await get('state=succeeded')).toEqual(['b-old']);
  });

  it.each([
    ['state=done', 'state', 'state must be one of running, succeeded, failed, but "done" was provided'],
    ['limit=0', 'limit', 'limit must be an integer from 1 to 100, but "0" was provided'],
    ['cursor=abc', 'cursor', 'cursor must be the cursor of a previous page, but "abc" was provided'],
    [`q=${'x'.repeat(129)}`, 'q', 'q must be at most 128 characters, but 129 characters was provided'],
  ])('answers %s with 400 naming %s', async (query, parameter, message) => {
    const { call } = seeded();
    const response = await call(urlEvent({ method: 'GET', path: '/v1/batches', query }));
    expect([response.statusCode, field(response.json, 'error')]).toEqual([400, { code: 'bad_parameter', message, parameter }]);
  });
});

describe('GET /v1/batches/{bid}/jobs', () => {
  it('lists the failing and dead jobs by default, in jid order, paged, and any statuses asked for', async () => {
    const { call, batches, batchJobs } = apiFixture();
    batches.set('b-1', STATUS);
    batchJobs.set('b-1', [
      { jid: 'j3', status: 'dead', updatedAt: '2026-11-22T12:03:00.000Z' },
      { jid: 'j1', status: 'failed', updatedAt: '2026-11-22T12:01:00.000Z' },
      { jid: 'j2', status: 'succeeded', updatedAt: '2026-11-22T12:02:00.000Z' },
    ]);
    const get = async (query: string) => (await call(urlEvent({ method: 'GET', path: '/v1/batches/b-1/jobs', query }))).json;

    expect(await get('')).toEqual({ jobs: [{ jid: 'j1', status: 'failed', updated_at: '2026-11-22T12:01:00.000Z' }, { jid: 'j3', status: 'dead', updated_at: '2026-11-22T12:03:00.000Z' }], cursor: null });
    expect(await get('limit=1')).toEqual({ jobs: [{ jid: 'j1', status: 'failed', updated_at: '2026-11-22T12:01:00.000Z' }], cursor: 'j1' });
    expect(await get('limit=1&cursor=j1')).toEqual({ jobs: [{ jid: 'j3', status: 'dead', updated_at: '2026-11-22T12:03:00.000Z' }], cursor: null });
    expect(field(await get('status=succeeded,dead'), 'jobs')).toEqual([expect.objectContaining({ jid: 'j2' }), expect.objectContaining({ jid: 'j3' })]);
  });

  it('answers 404 for an unknown batch and 400 naming a bad status', async () => {
    const { call, batches } = apiFixture();
    batches.set('b-1', STATUS);
    const missing = await call(urlEvent({ method: 'GET', path: '/v1/batches/nope/jobs' }));
    const bad = await call(urlEvent({ method: 'GET', path: '/v1/batches/b-1/jobs', query: 'status=failed,lost' }));
    const pending = await call(urlEvent({ method: 'GET', path: '/v1/batches/b-1/jobs', query: 'status=pending' }));

    expect(missing.statusCode).toBe(404);
    const listed = "a comma-separated list of failed, succeeded, dead (a pending job has no item until its first outcome; the batch's pending counts them)";
    expect([bad.statusCode, field(bad.json, 'error')]).toEqual([400, { code: 'bad_parameter', message: `status must be ${listed}, but "failed,lost" was provided`, parameter: 'status' }]);
    expect([pending.statusCode, field(pending.json, 'error')]).toEqual([400, { code: 'bad_parameter', message: `status must be ${listed}, but "pending" was provided`, parameter: 'status' }]);
  });
});

describe('GET /v1/crons', () => {
  it('lists every cron with its definition, last run and next run from now', async () => {
    const { call, cronRuns } = apiFixture();
    cronRuns.set('nightly', {
      name: 'nightly', schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna', jobtype: 'Report', queue: 'critical',
      lastRunAt: '2026-11-22T02:00:00.000Z', lastJid: 'cron:nightly:20261122T020000Z', nextRunAt: '2026-11-23T02:00:00.000Z', updatedAt: '2026-11-22T02:00:01.000Z',
    });

    const response = await call(urlEvent({ method: 'GET', path: '/v1/crons' }));

    expect(response.json).toEqual({
      crons: [
        {
          name: 'nightly', schedule: '0 3 * * *', schedule_expression: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna', jobtype: 'Report', queue: 'critical', args: ['daily'],
          last_run_at: '2026-11-22T02:00:00.000Z', last_jid: 'cron:nightly:20261122T020000Z', next_run_at: '2026-11-23T02:00:00.000Z',
        },
        {
          name: 'hourly', schedule: 'cron(0 * * * ? *)', schedule_expression: 'cron(0 * * * ? *)', timezone: 'UTC', jobtype: 'Ping', queue: 'default', args: [],
          last_run_at: null, last_jid: null, next_run_at: '2026-11-22T13:00:00.000Z',
        },
      ],
    });
  });

  it('answers an empty list for a JobSystem without crons', async () => {
    const { call } = apiFixture({ crons: [] });
    expect((await call(urlEvent({ method: 'GET', path: '/v1/crons' }))).json).toEqual({ crons: [] });
  });
});

describe('POST /v1/crons/{name}/trigger', () => {
  it('enqueues a fresh job of the cron now, with a jid no tick can have', async () => {
    const { call, sqs } = apiFixture();

    const first = await call(urlEvent({ method: 'POST', path: '/v1/crons/nightly/trigger' }));
    const second = await call(urlEvent({ method: 'POST', path: '/v1/crons/nightly/trigger' }));
    const jid = text(first.json, 'jid');

    expect({ status: first.statusCode, json: first.json }).toEqual({ status: 202, json: { cron: 'nightly', jid, jobtype: 'Report', queue: 'critical' } });
    expect(jid).toMatch(/^cron:nightly:manual:[0-9a-f-]{36}$/);
    expect(jid).not.toBe(text(second.json, 'jid'));
    expect(jid).not.toBe(cronJid('nightly', NOW));
    expect(sqs.sentTo(QUEUE_URLS.critical).map((message) => message.body)).toEqual([
      expect.objectContaining({ jid, jobtype: 'Report', args: ['daily'], queue: 'critical', retry: 25 }),
      expect.objectContaining({ jid: text(second.json, 'jid') }),
    ]);
  });

  it('answers 404 naming the declared crons for an unknown one, and 405 for GET', async () => {
    const { call } = apiFixture();
    const unknown = await call(urlEvent({ method: 'POST', path: '/v1/crons/weekly/trigger' }));
    const wrongMethod = await call(urlEvent({ method: 'GET', path: '/v1/crons/nightly/trigger' }));

    expect([unknown.statusCode, field(field(unknown.json, 'error'), 'message')]).toEqual([404, 'no cron "weekly"; declared crons: nightly, hourly']);
    expect(wrongMethod.statusCode).toBe(405);
  });

  it('answers 409 not_unique when the cron\'s job is unique and its lock is held', async () => {
    const dynamo = new ScriptedDynamo();
    dynamo.script.push(conditionFailed({ jid: { S: 'earlier-run' } }));
    const { call } = apiFixture({ crons: [resolveCron({ name: 'sync', schedule: '*/5 * * * *', job: { jobtype: 'Sync', custom: { unique_for: 300 } } })] }, { dynamo });

    const response = await call(urlEvent({ method: 'POST', path: '/v1/crons/sync/trigger' }));

    expect({ status: response.statusCode, code: field(field(response.json, 'error'), 'code'), holder: field(field(response.json, 'error'), 'existing_jid') }).toEqual({ status: 409, code: 'not_unique', holder: 'earlier-run' });
  });
});

describe('scheduled and retry entries go through ScheduledJobs', () => {
  it('runs a scheduled job now and deletes a retry with claims, answering 409 while a sweep holds the entry', async () => {
    const { call, sets, waiting, sqs } = apiFixture();
    const scheduled = sets.put('scheduled', { job: job('s1'), epochMs: T });
    const retry = sets.put('retry', { job: job('r1'), epochMs: T });
    const held = sets.put('scheduled', { job: job('s2'), epochMs: T + 1 });
    waiting.moving.add(held.key.sk);

    const ran = await call(urlEvent({ method: 'POST', path: `/v1/scheduled/${encodeURIComponent(scheduled.key.sk)}/retry` }));
    const deleted = await call(urlEvent({ method: 'DELETE', path: `/v1/retries/${encodeURIComponent(retry.key.sk)}` }));
    const busyRun = await call(urlEvent({ method: 'POST', path: `/v1/scheduled/${encodeURIComponent(held.key.sk)}/retry` }));
    const busyDelete = await call(urlEvent({ method: 'DELETE', path: `/v1/scheduled/${encodeURIComponent(held.key.sk)}` }));

    expect([ran.statusCode, deleted.statusCode, busyRun.statusCode, busyDelete.statusCode]).toEqual([200, 204, 409, 409]);
    expect(field(busyRun.json, 'error')).toEqual({ code: 'conflict', message: `entry ${held.key.sk} is being moved to its queue by a sweep or another call right now` });
    expect(waiting.calls.map(({ action, set }) => `${action} ${set}`)).toEqual(['runNow scheduled', 'delete retry', 'runNow scheduled', 'delete scheduled']);
    expect(sqs.sentTo(QUEUE_URLS.default).map((message) => field(message.body, 'jid'))).toEqual(['s1']);
  });

  it('answers 404 when the entry is gone before the claim', async () => {
    const { call } = apiFixture();
    expect((await call(urlEvent({ method: 'DELETE', path: `/v1/scheduled/${encodeURIComponent(`${T}#gone`)}` }))).statusCode).toBe(404);
  });

  it('retries every matching retry in bulk through claims, skipping those a sweep holds', async () => {
    const { call, sets, waiting, sqs } = apiFixture();
    for (const jid of ['a', 'b', 'c']) sets.put('retry', { job: job(jid), epochMs: T });
    const held = sets.put('retry', { job: job('d'), epochMs: T + 1 });
    waiting.moving.add(held.key.sk);

    const response = await call(urlEvent({ method: 'POST', path: '/v1/retries/retry', body: {} }));

    expect(response.json).toEqual({ scanned: 4, matched: 4, retried: 3, skipped: 1, failed: [], cursor: null, done: true });
    expect(sqs.sentTo(QUEUE_URLS.default).map((message) => field(message.body, 'jid')).sort()).toEqual(['a', 'b', 'c']);
    expect((await sets.readSetRange('retry')).entries.map((entry) => entry.jid)).toEqual(['d']);
  });
});
