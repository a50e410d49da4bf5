import { describe, expect, it } from 'vitest';
import { apiFixture, NOW, urlEvent } from './api-fakes.js';
import { QUEUE_URLS } from './worker-fakes.js';

const BULK = 'https://sqs.us-east-1.amazonaws.com/123456789012/App-JobsQueueDefaultBulk-E5';
const TIERED = {
  queueTiers: { default: { names: ['now', 'bulk'], defaultTier: 'now', tiers: [{ name: 'now', url: QUEUE_URLS.default, targetSeconds: 5 }, { name: 'bulk', url: BULK, targetSeconds: 60 }] } },
  tierMappings: { default: { invocations: 10, perInvocation: 5, mappings: { now: 'uuid-default', bulk: 'uuid-bulk' } } },
};

describe('GET /v1/queues with tiers', () => {
  it("shows each tier's counts, age against its target and concurrency, and the queue's counts as their sums", async () => {
    const { call, backend } = apiFixture(TIERED);
    backend.counts_[QUEUE_URLS.default] = { visible: 3, inFlight: 10, delayed: 0 };
    backend.counts_[BULK] = { visible: 900, inFlight: 10, delayed: 2 };
    backend.scaling = { 'uuid-default': 2, 'uuid-bulk': 8 };
    // bulk's last started job waited 70 s and started 50 s ago: 70 + (50 - 20 fresh) = 100 s.
    backend.reports_.set('default', { drainPerSecond: 4, lag: undefined, tierLags: new Map([['now', { ms: 1_500, atMs: NOW - 5_000 }], ['bulk', { ms: 70_000, atMs: NOW - 50_000 }]]) });

    const response = await call(urlEvent({ method: 'GET', path: '/v1/queues' }));

    const [queue] = (response.json as { queues: { size: number; in_flight: number; delayed: number; tiers?: unknown }[] }).queues;
    expect({ size: queue?.size, in_flight: queue?.in_flight, delayed: queue?.delayed }).toEqual({ size: 903, in_flight: 20, delayed: 2 });
    expect(queue?.tiers).toEqual([
      { name: 'now', size: 3, in_flight: 10, delayed: 0, age: 1.5, target_age: 5, late: false, concurrency: 2, max_jobs: 10 },
      { name: 'bulk', size: 900, in_flight: 10, delayed: 2, age: 100, target_age: 60, late: true, concurrency: 8, max_jobs: 40 },
    ]);
  });
});

describe('POST /v1/queues/{queue}/pause with tiers', () => {
  it("pauses every tier's mapping", async () => {
    const { call, backend } = apiFixture(TIERED);
    await call(urlEvent({ method: 'POST', path: '/v1/queues/default/pause' }));
    expect(backend.updates).toEqual([{ uuid: 'uuid-default', enabled: false }, { uuid: 'uuid-bulk', enabled: false }]);
  });
});

describe('backlog limits of a queue with tiers', () => {
  it('count what waits on every tier\'s queue', async () => {
    const { call, backend } = apiFixture({ ...TIERED, backlogLimits: { default: { maxBacklog: 500 } } });
    backend.counts_[QUEUE_URLS.default] = { visible: 3, inFlight: 0, delayed: 0 };
    backend.counts_[BULK] = { visible: 498, inFlight: 0, delayed: 0 };

    const refused = await call(urlEvent({ method: 'POST', path: '/v1/jobs', body: { jobtype: 'Report', args: [], queue: 'default', custom: { tier: 'now' } } }));

    expect({ status: refused.statusCode, message: (refused.json as { error: { message: string } }).error.message }).toEqual({
      status: 503, message: 'queue default would hold 502 waiting jobs (501 when SQS was last read, 0 accepted since, 1 in this request), over its maxBacklog of 500; retry after 30 s',
    });
  });
});

