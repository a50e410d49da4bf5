import { describe, expect, it } from 'vitest';
import { createGovernorHandler } from '../../lib/governor/handler.js';
import type { GovernorPorts } from '../../lib/governor/round.js';
import { ENV } from '../../lib/config/env.js';
import type { QueueReport } from '../../lib/stats/read.js';

const URL = (tier: string) => `http://sqs.local/000000000000/email-${tier}`;
const ENVIRONMENT = {
  [ENV.queueUrls]: JSON.stringify({ email: URL('default') }),
  [ENV.queueTiers]: JSON.stringify({ email: { defaultTier: 'default', tiers: [
    { name: 'critical', url: URL('critical'), targetSeconds: 5 }, { name: 'default', url: URL('default'), targetSeconds: 60 }, { name: 'bulk', url: URL('bulk'), targetSeconds: 3600 },
  ] } }),
  [ENV.tierMappings]: JSON.stringify({ email: { invocations: 12, perInvocation: 5, mappings: { critical: 'm-critical', default: 'm-default', bulk: 'm-bulk' } } }),
};

/** Ports over in-memory queues and mappings; `busy` mappings refuse updates. */
function fakePorts(backlogs: Record<string, number>, concurrency: Record<string, number>, busy: ReadonlySet<string> = new Set()) {
  const updates: string[] = [];
  const ports: GovernorPorts = {
    backlog: async (url) => backlogs[url.split('email-')[1] ?? ''] ?? 0,
    concurrency: async (uuid) => concurrency[uuid],
    async setConcurrency(uuid, value) {
      if (busy.has(uuid)) return false;
      updates.push(`${uuid}=${value}`);
      concurrency[uuid] = value;
      return true;
    },
    reports: async () => new Map<string, QueueReport>([['email', { drainPerSecond: 10, lag: undefined, tierLags: new Map([['bulk', { ms: 2_000, atMs: 1_000_000 }]]) }]]),
  };
  return { ports, updates, concurrency };
}

describe('the governor handler', () => {
  it('keeps governing for 50 s while jobs wait, a round every half of the tightest target', async () => {
    const fake = fakePorts({ critical: 200, bulk: 4000 }, { 'm-critical': 2, 'm-default': 2, 'm-bulk': 8 });
    const sleeps: number[] = [];
    const handler = createGovernorHandler({ env: ENVIRONMENT, ports: fake.ports, nowMs: () => 1_000_000, log: () => undefined, sleep: async (ms) => { sleeps.push(ms); } });

    const summary = await handler();

    // 20 sleeps of 2.5 s: rounds at 0, 2.5, …, 50 s.
    expect({ rounds: summary.rounds, slept: sleeps.reduce((a, b) => a + b, 0) }).toEqual({ rounds: 21, slept: 50_000 });
  });

  it('lowers bulk before raising critical, then stops once nothing waits', async () => {
    const backlogs: Record<string, number> = { critical: 200, bulk: 4000 };
    const fake = fakePorts(backlogs, { 'm-critical': 2, 'm-default': 2, 'm-bulk': 8 });
    const sleeps: number[] = [];
    const handler = createGovernorHandler({
      env: ENVIRONMENT, ports: fake.ports, nowMs: () => 1_000_000, log: () => undefined,
      // Between rounds the backlogs drain.
      sleep: async (ms) => { sleeps.push(ms); backlogs.critical = 0; backlogs.bulk = 0; },
    });

    const summary = await handler();

    expect(fake.updates.slice(0, 2)).toEqual(['m-bulk=2', 'm-critical=8']);
    expect(summary.rounds).toBe(2);
    // Rounds every half of the tightest target (critical's 5 s).
    expect(sleeps).toEqual([2_500]);
    expect(summary.tiers.map((tier) => [tier.name, tier.next])).toEqual([['critical', 8], ['default', 2], ['bulk', 2]]);
  });

  it('raises a tier only into the room a busy mapping has really given up', async () => {
    const fake = fakePorts({ critical: 200, bulk: 4000 }, { 'm-critical': 2, 'm-default': 2, 'm-bulk': 8 }, new Set(['m-bulk']));
    const handler = createGovernorHandler({ env: ENVIRONMENT, ports: fake.ports, nowMs: () => 1_000_000, log: () => undefined, sleep: async () => undefined });

    const summary = await handler(undefined, { getRemainingTimeInMillis: () => 1_000 });

    // bulk's 8 could not come down: critical stays at 2, and the sum at 12.
    expect(fake.updates).toEqual([]);
    expect(summary.rounds).toBe(1);
    expect(Object.values(fake.concurrency).reduce((a, b) => a + b, 0)).toBe(12);
  });
});
