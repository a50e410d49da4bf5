/**
 * `GET /v1/sets/counts`: how many entries each set holds, for the dashboard's cards and badges,
 * counted at most once per 30 seconds per API instance.
 */
import { describe, expect, it } from 'vitest';
import { normalizeJob } from '../../lib/job/model.js';
import { SET_COUNTS } from '../../lib/api/routes/sets.js';
import { apiFixture, urlEvent } from './api-fakes.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

describe('GET /v1/sets/counts', () => {
  it('counts each set, and keeps the count for 30 seconds', async () => {
    const { call, sets, setNow } = apiFixture();
    setNow(NOW);
    const job = (jid: string) => normalizeJob({ jid, jobtype: 'Import' }, { now: new Date(NOW) });
    sets.put('dead', { job: job('d1'), epochMs: NOW - 1000, reason: { errtype: 'Error', message: 'x' } });
    sets.put('dead', { job: job('d2'), epochMs: NOW - 2000, reason: { errtype: 'Error', message: 'x' } });
    sets.put('retry', { job: job('r1'), epochMs: NOW + 60_000 });

    const first = await call(urlEvent({ method: 'GET', path: '/v1/sets/counts' }));
    expect(first.json).toEqual({
      retries: { count: 1, capped: false }, scheduled: { count: 0, capped: false }, dead: { count: 2, capped: false }, counted_at: new Date(NOW).toISOString(),
    });

    sets.put('scheduled', { job: job('s1'), epochMs: NOW + 3_600_000 });
    setNow(NOW + SET_COUNTS.keepMs - 1);
    expect((await call(urlEvent({ method: 'GET', path: '/v1/sets/counts' }))).json).toEqual(first.json);
    setNow(NOW + SET_COUNTS.keepMs);
    expect((await call(urlEvent({ method: 'GET', path: '/v1/sets/counts' }))).json).toMatchObject({ scheduled: { count: 1, capped: false } });
  });
});
