import { describe, expect, it } from 'vitest';
import { checkBacklog } from '../../lib/api/backlog.js';

const NOW = Date.UTC(2026, 10, 22, 12);

describe('checkBacklog', () => {
  it.each([
    { name: 'under both limits', limit: { maxBacklog: 100, maxLatency: 60 }, activity: { visible: 50, drainPerSecond: 1, lag: undefined }, expected: { over: false } },
    { name: 'at maxBacklog exactly', limit: { maxBacklog: 50 }, activity: { visible: 50, drainPerSecond: undefined, lag: undefined }, expected: { over: false } },
    {
      name: 'over maxBacklog, with a drain rate',
      limit: { maxBacklog: 50 }, activity: { visible: 80, drainPerSecond: 4, lag: undefined },
      expected: { over: true, reason: 'max_backlog', retryAfterSeconds: 8, message: 'queue q holds 80 waiting jobs, over its maxBacklog of 50' },
    },
    {
      name: 'over maxLatency by backlog ÷ rate',
      limit: { maxLatency: 60 }, activity: { visible: 300, drainPerSecond: 2, lag: undefined },
      expected: { over: true, reason: 'max_latency', retryAfterSeconds: 90, message: 'a job sent to queue q now would wait about 150 s, over its maxLatency of 60 s' },
    },
    {
      name: 'over maxLatency by a fresh reported wait when no rate is known',
      limit: { maxLatency: 60 }, activity: { visible: 3, drainPerSecond: undefined, lag: { ms: 90_000, atMs: NOW - 30_000 } },
      expected: { over: true, reason: 'max_latency', retryAfterSeconds: 30, message: 'a job sent to queue q now would wait about 90 s, over its maxLatency of 60 s' },
    },
    { name: 'a stale reported wait', limit: { maxLatency: 60 }, activity: { visible: 3, drainPerSecond: undefined, lag: { ms: 90_000, atMs: NOW - 600_000 } }, expected: { over: false } },
    {
      name: 'a Retry-After capped at 15 minutes',
      limit: { maxBacklog: 10 }, activity: { visible: 10_010, drainPerSecond: 1, lag: undefined },
      expected: { over: true, reason: 'max_backlog', retryAfterSeconds: 900, message: 'queue q holds 10010 waiting jobs, over its maxBacklog of 10' },
    },
    {
      name: 'at maxBacklog with what was accepted since the reading and the request',
      limit: { maxBacklog: 5 }, activity: { visible: 2, acceptedSince: 3, requested: 1, drainPerSecond: 1, lag: undefined },
      expected: { over: true, reason: 'max_backlog', retryAfterSeconds: 1, message: 'queue q would hold 6 waiting jobs (2 when SQS was last read, 3 accepted since, 1 in this request), over its maxBacklog of 5' },
    },
    { name: 'a request that fills the queue to maxBacklog exactly', limit: { maxBacklog: 5 }, activity: { visible: 2, acceptedSince: 1, requested: 2, drainPerSecond: 1, lag: undefined }, expected: { over: false } },
  ])('$name', ({ limit, activity, expected }) => {
    expect(checkBacklog('q', limit, activity, NOW)).toEqual(expected);
  });
});
