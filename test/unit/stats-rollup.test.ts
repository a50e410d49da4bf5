import { describe, expect, it } from 'vitest';
import { parseStatsHourKey, statsHourKey } from '../../lib/storage/keys.js';
import { rollupUpdate, StatsAccumulator, STATS_ROLLUP } from '../../lib/stats/rollup.js';
import { createStatsRecorder } from '../../lib/stats/recorder.js';
import { createLogger } from '../../lib/observability/logger.js';
import type { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { StatsItem } from '../../lib/stats/read.js';

const HOUR = Date.UTC(2026, 10, 22, 12);
const worker = { kind: 'worker', queue: 'default' } as const;

describe('stats keys', () => {
  it('files a worker rollup under its hour and queue, and the retry function under its hour', () => {
    expect(statsHourKey(HOUR, worker)).toEqual({ pk: 'stats', sk: '1795348800000#w#default' });
    expect(statsHourKey(HOUR, { kind: 'retry' })).toEqual({ pk: 'stats', sk: '1795348800000#r' });
    expect(parseStatsHourKey('1795348800000#w#default')).toEqual({ hourMs: HOUR, writer: worker });
    expect(parseStatsHourKey('1795348800000#r')).toEqual({ hourMs: HOUR, writer: { kind: 'retry' } });
    expect(parseStatsHourKey('total')).toBeUndefined();
  });
});

describe('StatsAccumulator', () => {
  it('takes the item with the most jobs and keeps the others', () => {
    const stats = new StatsAccumulator();
    stats.add({ writer: { kind: 'worker', queue: 'a' }, processed: 2, failed: 0, atMs: HOUR });
    stats.add({ writer: { kind: 'worker', queue: 'b' }, processed: 9, failed: 0, atMs: HOUR + 5_000 });

    expect(stats.take()?.key.sk).toBe('1795348800000#w#b');
    expect(stats.take()?.key.sk).toBe('1795348800000#w#a');
    expect(stats.size).toBe(0);
  });

  it('writes minutes, hour totals, the latest lag and a TTL in one update', () => {
    const stats = new StatsAccumulator();
    stats.add({ writer: worker, processed: 3, failed: 1, atMs: HOUR + 61_000, lag: { ms: 250, atMs: HOUR + 61_000 } });
    stats.add({ writer: worker, processed: 2, failed: 0, atMs: HOUR + 7 * 60_000, lag: { ms: 40, atMs: HOUR + 7 * 60_000 } });
    const rollup = stats.take();
    if (rollup === undefined) throw new Error('expected a rollup');

    expect(rollupUpdate(rollup)).toEqual({
      Key: { pk: { S: 'stats' }, sk: { S: '1795348800000#w#default' } },
      UpdateExpression: 'SET #ttl = :ttl, #lag = :lag, #lagAt = :lagAt ADD #p :p, #f :f, #p01 :p01, #f01 :f01, #p07 :p07',
      ExpressionAttributeNames: { '#ttl': 'ttl', '#p': 'p', '#f': 'f', '#p01': 'p01', '#f01': 'f01', '#p07': 'p07', '#lag': 'lag', '#lagAt': 'lag_at' },
      ExpressionAttributeValues: {
        ':ttl': { N: String(HOUR / 1000 + 90 * 86_400) },
        ':p': { N: '5' }, ':f': { N: '1' }, ':p01': { N: '3' }, ':f01': { N: '1' }, ':p07': { N: '2' },
        ':lag': { N: '40' }, ':lagAt': { N: String(HOUR + 7 * 60_000) },
      },
    });
  });

  it('splits counts of two hours into two items', () => {
    const stats = new StatsAccumulator();
    stats.add({ writer: worker, processed: 6, failed: 0, atMs: HOUR - 1 });
    stats.add({ writer: worker, processed: 5, failed: 0, atMs: HOUR });

    expect([stats.take()?.key.sk, stats.take()?.key.sk, stats.take()]).toEqual(['1795345200000#w#default', '1795348800000#w#default', undefined]);
  });
});

describe('createStatsRecorder', () => {
  const logger = createLogger({ sink: () => undefined });

  it('writes its first counts at once, then one item per budget of jobs, and keeps the counts when a write fails', async () => {
    const sent: UpdateItemCommand[] = [];
    let fail = true;
    const client = {
      send: async (command: UpdateItemCommand) => {
        if (fail) throw new Error('throttled');
        sent.push(command);
        return { $metadata: {} };
      },
    };
    const recorder = createStatsRecorder({ tableName: 'state', client });
    const processed = () => sent.map((command) => command.input.ExpressionAttributeValues?.[':p']);
    const handle = async (jobs: number) => {
      recorder.record({ writer: worker, processed: jobs, failed: 0, atMs: HOUR });
      recorder.countJobs(jobs);
      await recorder.flush(HOUR, logger);
    };

    // The instance's first flush is due at once; it fails, and the counts wait for the next one.
    await handle(4);
    expect(sent).toEqual([]);
    fail = false;
    await recorder.flush(HOUR, logger);
    expect(processed()).toEqual([{ N: '4' }]);

    // Then a write is due once the instance has handled flushMinJobs jobs per write.
    const budget = STATS_ROLLUP.flushMinJobs;
    await handle(budget);
    expect(processed()).toHaveLength(1);
    await handle(budget - 4);
    expect(processed()).toEqual([{ N: '4' }, { N: String(2 * budget - 4) }]);
    expect(sent[0]?.input.TableName).toBe('state');
  });
});

describe('readQueueReports', () => {
  it('measures each queue\'s drain over the last five full minutes and takes its latest wait', async () => {
    const { readQueueReports } = await import('../../lib/stats/read.js');
    const now = HOUR + 30 * 60_000 + 20_000; // 12:30:20
    const items: StatsItem[] = [
      // Minutes 25–29 count (150 jobs → 0.5/s); 24 is before the window, 30 is unfinished.
      { pk: { S: 'stats' }, sk: { S: statsHourKey(HOUR, worker).sk }, p24: { N: '999' }, p25: { N: '30' }, p29: { N: '120' }, p30: { N: '999' }, lag: { N: '800' }, lag_at: { N: String(now - 5_000) } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(HOUR, { kind: 'worker', queue: 'idle' }).sk }, lag: { N: '5' }, lag_at: { N: String(now - 50_000) } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(HOUR, { kind: 'retry' }).sk }, p29: { N: '7' } },
    ];
    const table = { queryRange: async () => items, fold: async () => true, queryCohorts: async () => [], queryBusy: async () => [] };

    const reports = await readQueueReports(table, now);

    expect(Object.fromEntries(reports)).toEqual({
      default: { drainPerSecond: 0.5, lag: { ms: 800, atMs: now - 5_000 } },
      idle: { drainPerSecond: undefined, lag: { ms: 5, atMs: now - 50_000 } },
    });
  });
});

describe('tier lags', () => {
  it("write each tier's latest wait on the queue's own item: no request more", () => {
    const accumulator = new StatsAccumulator();
    const hourMs = Date.UTC(2026, 11, 8, 10);
    const writer = { kind: 'worker', queue: 'email' } as const;
    accumulator.add({ writer, processed: 3, failed: 0, atMs: hourMs + 1_000, lag: { ms: 40, atMs: hourMs + 1_000 }, tierLags: new Map([['bulk', { ms: 40, atMs: hourMs + 1_000 }]]) });
    accumulator.add({ writer, processed: 1, failed: 0, atMs: hourMs + 2_000, tierLags: new Map([['critical', { ms: 7, atMs: hourMs + 2_000 }], ['bulk', { ms: 30, atMs: hourMs + 500 }]]) });
    expect(accumulator.size).toBe(1);
    const rollup = accumulator.take();
    if (rollup === undefined) throw new Error('nothing pending');
    const update = rollupUpdate(rollup);
    expect(update.UpdateExpression).toBe('SET #ttl = :ttl, #lag = :lag, #lagAt = :lagAt, #tl0 = :tl0, #tl1 = :tl1 ADD #p :p, #p00 :p00');
    expect(update.ExpressionAttributeNames).toMatchObject({ '#tl0': 'tlag.bulk', '#tl1': 'tlag.critical' });
    expect(update.ExpressionAttributeValues[':tl0']).toEqual({ L: [{ N: '40' }, { N: String(hourMs + 1_000) }] });
    expect(update.ExpressionAttributeValues[':tl1']).toEqual({ L: [{ N: '7' }, { N: String(hourMs + 2_000) }] });
  });
});

describe('readQueueReports with tiers', () => {
  it("reads each tier's latest wait, across the hours' items", async () => {
    const { readQueueReports } = await import('../../lib/stats/read.js');
    const now = HOUR + 30 * 60_000;
    const email = { kind: 'worker', queue: 'email' } as const;
    const items: StatsItem[] = [
      { pk: { S: 'stats' }, sk: { S: statsHourKey(HOUR - 3_600_000, email).sk }, 'tlag.bulk': { L: [{ N: '90000' }, { N: String(now - 3_000_000) }] } },
      { pk: { S: 'stats' }, sk: { S: statsHourKey(HOUR, email).sk }, 'tlag.bulk': { L: [{ N: '1200' }, { N: String(now - 4_000) }] }, 'tlag.critical': { L: [{ N: '300' }, { N: String(now - 9_000) }] } },
    ];
    const table = { queryRange: async () => items, fold: async () => true, queryCohorts: async () => [], queryBusy: async () => [] };

    const reports = await readQueueReports(table, now);

    expect(Object.fromEntries(reports.get('email')?.tierLags ?? [])).toEqual({ bulk: { ms: 1200, atMs: now - 4_000 }, critical: { ms: 300, atMs: now - 9_000 } });
  });
});
