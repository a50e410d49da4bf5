import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { SORTED_SETS, cronMetaKey, cronTickKey } from '../../lib/storage/keys.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { FakeDynamo } from './storage-fake-dynamo.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const T0 = NOW.getTime();

function makeJob(jid: string): Job {
  return normalizeJob({ jobtype: 'Remind', args: [jid], jid }, { now: NOW });
}

let dynamo: FakeDynamo;
let table: StateTable;

beforeEach(() => {
  dynamo = new FakeDynamo();
  table = new StateTable(dynamo, `state-${randomUUID()}`);
});

describe('claims on sorted-set entries', () => {
  it('claims an entry once: a second claimant finds it busy until the claim lapses', async () => {
    const key = await table.putSetEntry('scheduled', { job: makeJob('a'), epochMs: T0 });

    const first = await table.claimSetEntry('scheduled', key, { owner: 'sweep-1', nowMs: T0, untilMs: T0 + 90_000 });
    const second = await table.claimSetEntry('scheduled', key, { owner: 'sweep-2', nowMs: T0 + 89_999, untilMs: T0 + 180_000 });
    const afterLapse = await table.claimSetEntry('scheduled', key, { owner: 'sweep-3', nowMs: T0 + 90_001, untilMs: T0 + 180_000 });

    expect(first).toMatchObject({ status: 'claimed', entry: { jid: 'a', claimedBy: 'sweep-1', claimedUntilMs: T0 + 90_000 } });
    expect(second).toMatchObject({ status: 'busy', entry: { jid: 'a', claimedBy: 'sweep-1' } });
    expect(afterLapse).toMatchObject({ status: 'claimed', entry: { claimedBy: 'sweep-3' } });
  });

  it('reports an entry that is gone', async () => {
    const key = await table.putSetEntry('scheduled', { job: makeJob('a'), epochMs: T0 });
    await table.deleteSetEntry('scheduled', key);

    expect(await table.claimSetEntry('scheduled', key, { owner: 'x', nowMs: T0, untilMs: T0 + 1 })).toEqual({ status: 'gone' });
  });

  it('lets only one of many concurrent claimants win', async () => {
    const key = await table.putSetEntry('retry', { job: makeJob('a'), epochMs: T0 });

    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => table.claimSetEntry('retry', key, { owner: `s${i}`, nowMs: T0, untilMs: T0 + 60_000 })));

    expect(results.filter((result) => result.status === 'claimed')).toHaveLength(1);
    expect(results.filter((result) => result.status === 'busy')).toHaveLength(7);
  });

  it('deletes on the claim only for its holder', async () => {
    const key = await table.putSetEntry('scheduled', { job: makeJob('a'), epochMs: T0 });
    await table.claimSetEntry('scheduled', key, { owner: 'sweep-1', nowMs: T0, untilMs: T0 + 60_000 });

    const byOther = await table.deleteSetEntry('scheduled', key, { kind: 'claimed-by', owner: 'sweep-2' });
    const byHolder = await table.deleteSetEntry('scheduled', key, { kind: 'claimed-by', owner: 'sweep-1' });

    expect(byOther).toBeUndefined();
    expect(byHolder?.jid).toBe('a');
    expect(dynamo.items.size).toBe(0);
  });

  it('releases a claim so the next claimant need not wait, but not someone else\'s', async () => {
    const key = await table.putSetEntry('scheduled', { job: makeJob('a'), epochMs: T0 });
    await table.claimSetEntry('scheduled', key, { owner: 'sweep-1', nowMs: T0, untilMs: T0 + 60_000 });

    await table.releaseClaim(key, 'sweep-2');
    const stillBusy = await table.claimSetEntry('scheduled', key, { owner: 'sweep-2', nowMs: T0 + 1, untilMs: T0 + 60_000 });
    await table.releaseClaim(key, 'sweep-1');
    const free = await table.claimSetEntry('scheduled', key, { owner: 'sweep-2', nowMs: T0 + 2, untilMs: T0 + 60_000 });

    expect(stillBusy.status).toBe('busy');
    expect(free.status).toBe('claimed');
  });
});

describe('streamSetRange', () => {
  async function collect(iterable: AsyncIterable<{ jid: string }>, max = Number.POSITIVE_INFINITY): Promise<string[]> {
    const jids: string[] = [];
    for await (const entry of iterable) {
      jids.push(entry.jid);
      if (jids.length >= max) break;
    }
    return jids;
  }

  it('merges the shards of several sets in time order, up to the exclusive bound', async () => {
    for (let i = 0; i < 40; i += 1) {
      await table.putSetEntry(i % 3 === 0 ? 'retry' : 'scheduled', { job: makeJob(`j${String(i).padStart(2, '0')}`), epochMs: T0 + i * 1000 });
    }

    const jids = await collect(table.streamSetRange(['scheduled', 'retry'], { untilMs: T0 + 30_000, pageSize: 2 }));

    expect(jids).toEqual(Array.from({ length: 30 }, (_, i) => `j${String(i).padStart(2, '0')}`));
  });

  it('reads about as many items as it yields when the reader stops early', async () => {
    for (let i = 0; i < 400; i += 1) await table.putSetEntry('scheduled', { job: makeJob(`j${i}`), epochMs: T0 + i });

    const jids = await collect(table.streamSetRange(['scheduled'], { pageSize: 5 }), 20);

    const queries = dynamo.sentOf(QueryCommand);
    expect(jids).toHaveLength(20);
    // A first page of 5 per shard, plus a few second pages: far below shards × 20 items.
    expect(queries.length).toBeLessThan(SORTED_SETS.scheduled.shards + 10);
    expect(queries.every((query) => query.input.Limit === 5)).toBe(true);
  });

  it('continues after a cursor without repeating it', async () => {
    for (let i = 0; i < 10; i += 1) await table.putSetEntry('scheduled', { job: makeJob(`j${i}`), epochMs: T0 + i });
    const [, second] = await collect(table.streamSetRange(['scheduled']), 2);
    const cursor = (await table.readSetRange('scheduled', { limit: 2 })).cursor;

    const rest = await collect(table.streamSetRange(['scheduled'], { ...(cursor === undefined ? {} : { after: cursor }) }));

    expect(second).toBe('j1');
    expect(rest).toEqual(['j2', 'j3', 'j4', 'j5', 'j6', 'j7', 'j8', 'j9']);
  });

  it.each([0, 1001])('rejects pageSize %s', async (pageSize) => {
    await expect(collect(table.streamSetRange(['scheduled'], { pageSize }))).rejects.toThrow(`pageSize must be an integer from 1 to 1000, but ${pageSize} was provided`);
  });
});

describe('cron keys', () => {
  it('files a cron\'s run record and its ticks in one partition, ticks by scheduled time', () => {
    expect(cronMetaKey('nightly')).toEqual({ pk: 'cron#nightly', sk: 'meta' });
    expect(cronTickKey('nightly', Date.parse('2026-11-22T03:00:00Z'))).toEqual({ pk: 'cron#nightly', sk: 'tick#2026-11-22T03:00:00.000Z' });
  });
});
