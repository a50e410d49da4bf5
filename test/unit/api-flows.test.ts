/** `GET /v1/flows/{id}` and `POST /v1/flows/{id}/retry`, over flows moved by the flow engine itself. */
import { describe, expect, it } from 'vitest';
import { compileFlow } from '../../lib/flow/compile.js';
import { settleStep, startFlow } from '../../lib/flow/engine.js';
import { job, type FlowProgress, type FlowState } from '../../lib/flow/model.js';
import { field } from '../fixtures/json.js';
import { apiFixture, urlEvent } from './api-fakes.js';
import { QUEUE_URLS } from './worker-fakes.js';

const t = (second: number) => new Date(Date.UTC(2026, 10, 22, 12, 0, second));

/** fetch → parse → index, with parse failed at second 5: the flow failed and settled. */
function failedFlow(): FlowState {
  const { plan } = compileFlow({ id: 'f-1', steps: { fetch: job('Fetch'), parse: job('Parse').after('fetch'), index: job('Index').after('parse') } }, { queueUrls: QUEUE_URLS, defaultRetry: 25 }, t(0));
  const settle = (progress: FlowProgress | undefined, step: string, outcome: 'succeeded' | 'failed', second: number): FlowProgress => {
    const next = progress === undefined ? undefined : settleStep(plan, progress, step, 1, outcome, t(second));
    if (next === undefined) throw new Error(`${step} did not settle`);
    return next;
  };
  const progress = settle(settle(startFlow(plan, t(0)), 'fetch', 'succeeded', 2), 'parse', 'failed', 5);
  return { id: 'f-1', createdAt: t(0).toISOString(), plan, version: 2, ...progress };
}

describe('GET /v1/flows/{id}', () => {
  it('shows each step with its state, edges and timing', async () => {
    const { call, flows } = apiFixture();
    flows.set('f-1', failedFlow());

    const response = await call(urlEvent({ method: 'GET', path: '/v1/flows/f-1' }));

    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({
      id: 'f-1', description: null, status: 'failed', settled: true, failed_step: 'parse', retries: 0,
      created_at: '2026-11-22T12:00:00.000Z', finished_at: '2026-11-22T12:00:05.000Z',
      steps: [
        { name: 'fetch', jobtype: 'Fetch', status: 'succeeded', attempt: 1, bid: 'f-1.fetch.1', after: [], started_at: '2026-11-22T12:00:00.000Z', ended_at: '2026-11-22T12:00:02.000Z', duration_ms: 2000 },
        { name: 'parse', jobtype: 'Parse', status: 'failed', attempt: 1, bid: 'f-1.parse.1', after: [{ step: 'fetch', on_failure: 'fail' }], started_at: '2026-11-22T12:00:02.000Z', ended_at: '2026-11-22T12:00:05.000Z', duration_ms: 3000 },
        { name: 'index', jobtype: 'Index', status: 'cancelled', attempt: 0, bid: null, after: [{ step: 'parse', on_failure: 'fail' }], started_at: null, ended_at: null, duration_ms: null },
      ],
    });
  });

  it('answers 404 for an unknown flow and 400 naming id for a malformed one', async () => {
    const { call } = apiFixture();
    const missing = await call(urlEvent({ method: 'GET', path: '/v1/flows/nope' }));
    const malformed = await call(urlEvent({ method: 'GET', path: '/v1/flows/a.b' }));

    expect([missing.statusCode, field(missing.json, 'error')]).toEqual([404, { code: 'not_found', message: 'no flow nope (it never existed, or expired after its retention)' }]);
    expect([malformed.statusCode, field(field(malformed.json, 'error'), 'parameter')]).toEqual([400, 'id']);
  });
});

describe('POST /v1/flows/{id}/retry', () => {
  it('starts the failed step again, as attempt 2, and waits the cancelled ones; a second retry is a 409', async () => {
    const { call, flows } = apiFixture();
    flows.set('f-1', failedFlow());

    const retried = await call(urlEvent({ method: 'POST', path: '/v1/flows/f-1/retry' }));
    const again = await call(urlEvent({ method: 'POST', path: '/v1/flows/f-1/retry' }));

    expect(retried.statusCode).toBe(200);
    expect(field(retried.json, 'status')).toBe('running');
    expect(field(retried.json, 'retries')).toBe(1);
    const steps = field(retried.json, 'steps');
    expect(Array.isArray(steps) ? steps.map((step) => [field(step, 'name'), field(step, 'status'), field(step, 'attempt')]) : steps).toEqual([
      ['fetch', 'succeeded', 1], ['parse', 'started', 2], ['index', 'waiting', 0],
    ]);
    expect([again.statusCode, field(field(again.json, 'error'), 'code')]).toEqual([409, 'conflict']);
    expect(field(field(again.json, 'error'), 'message')).toBe('flow "f-1" cannot be retried: it is running (only a failed flow whose steps all settled can)');
  });
});
