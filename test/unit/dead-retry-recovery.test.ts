/**
 * Recovery after an outage: the dead set retried in bulk (`POST /v1/dead/retry`, what
 * `hopper dead retry --all` calls) over the real StateTable and ScheduledJobs on an in-memory
 * DynamoDB. Two operators (or a retried CLI run) retrying at once, and a call that dies half-way,
 * must still send each job exactly once.
 */
import { describe, expect, it } from 'vitest';
import { ScheduledJobs } from '../../lib/admin/scheduled.js';
import { createApiHandler } from '../../lib/api/handler.js';
import type { ApiContext, SetStore } from '../../lib/api/context.js';
import { Client } from '../../lib/client/client.js';
import { normalizeJob } from '../../lib/job/model.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createLogger } from '../../lib/observability/logger.js';
import { apiFixture, NOW, urlEvent } from './api-fakes.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, QUEUE_URLS, memoryLog } from './worker-fakes.js';

const DEAD = 120;
const reason = { errtype: 'Error', message: 'the outage' };

async function setup() {
  let nowMs = NOW;
  const clock = () => new Date(nowMs);
  const dynamo = new FakeDynamo();
  const table = new StateTable(dynamo, 'state');
  const sqs = new FakeSqs();
  const log = memoryLog();
  const logger = createLogger({ sink: log.sink, now: clock });
  const sets: SetStore = {
    readSetRange: (set, options) => table.readSetRange(set, options),
    deleteSetEntry: (set, key) => table.deleteSetEntry(set, key),
    async getSetEntry(set, key) {
      for await (const entry of table.streamSetRange([set])) if (entry.key.sk === key.sk) return entry;
      return undefined;
    },
    async countSet(set) {
      let count = 0;
      for await (const _entry of table.streamSetRange([set])) count += 1;
      return { count, capped: false };
    },
    async findJob(set, jid) {
      const entries = [];
      for await (const entry of table.streamSetRange([set])) if (entry.jid === jid) entries.push(entry);
      return { entries, complete: true };
    },
  };
  const context: ApiContext = {
    ...apiFixture().context,
    now: () => nowMs,
    client: new Client({ queueUrls: QUEUE_URLS, sqs, env: {}, now: clock }),
    sets,
    waiting: new ScheduledJobs({ table, sqs, queueUrls: QUEUE_URLS, clock, logger }),
    logger,
  };
  const handler = createApiHandler({ context: () => context, log: log.sink });
  const retryAll = async (limit = 50): Promise<{ retried: number; failed: number }> => {
    let cursor: string | null = null;
    let retried = 0;
    let failed = 0;
    do {
      const response = await handler(urlEvent({ method: 'POST', path: '/v1/dead/retry', body: { limit, ...(cursor === null ? {} : { cursor }) } }));
      const body: unknown = JSON.parse(response.body);
      if (typeof body !== 'object' || body === null || !('retried' in body) || !('cursor' in body) || !('failed' in body)) throw new Error(`unexpected answer ${response.body}`);
      retried += Number(body.retried);
      failed += Array.isArray(body.failed) ? body.failed.length : 0;
      cursor = typeof body.cursor === 'string' ? body.cursor : null;
    } while (cursor !== null);
    return { retried, failed };
  };
  for (let i = 0; i < DEAD; i += 1) {
    const job = normalizeJob({ jobtype: 'Import', args: [i], jid: `dead-${String(i).padStart(3, '0')}`, failure: { retry_count: 25, failed_at: '2026-11-22T11:00:00Z', message: 'the outage', errtype: 'Error' } }, { now: new Date(NOW - 3_600_000) });
    await table.putSetEntry('dead', { job, epochMs: NOW - 3_600_000 + i, reason });
  }
  const sentJids = () => sqs.sentTo(QUEUE_URLS.default).map(({ body }) => (typeof body === 'object' && body !== null && 'jid' in body ? String(body.jid) : '?'));
  const remaining = async () => (await table.readSetRange('dead', { limit: 1000 })).entries.length;
  return { sqs, retryAll, sentJids, remaining, advance: (ms: number) => { nowMs += ms; } };
}

describe('retrying the whole dead set', () => {
  it('sends each job once when two retry-alls run at the same time', async () => {
    const { retryAll, sentJids, remaining } = await setup();

    const [first, second] = await Promise.all([retryAll(), retryAll()]);

    expect(first.retried + second.retried).toBe(DEAD);
    expect(sentJids()).toHaveLength(DEAD);
    expect(new Set(sentJids()).size).toBe(DEAD);
    expect(await remaining()).toBe(0);
  });

  it('sends each job once when a call dies after claiming, and the next runs after the claims lapse', async () => {
    const { sqs, retryAll, sentJids, remaining, advance } = await setup();
    // SQS is unreachable: the first call claims entries but cannot send them.
    sqs.failQueues.set(QUEUE_URLS.default, Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    const failedCall = await retryAll();
    expect(failedCall.retried).toBe(0);
    expect(failedCall.failed).toBe(DEAD);
    expect(sentJids()).toEqual([]);

    sqs.failQueues.clear();
    advance(120_000);
    const recovery = await retryAll();
    const again = await retryAll();

    expect(recovery.retried).toBe(DEAD);
    expect(again.retried).toBe(0);
    expect(new Set(sentJids()).size).toBe(DEAD);
    expect(sentJids()).toHaveLength(DEAD);
    expect(await remaining()).toBe(0);
  });
});
