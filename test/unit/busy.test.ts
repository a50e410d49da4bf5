import { DeleteItemCommand, type UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUSY, BusyBoard, busyUpdate, dueReports, readBusyReports } from '../../lib/stats/busy.js';
import { createStatsRecorder, type StatsWriterClient } from '../../lib/stats/recorder.js';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { FakeSqs, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const START = Date.parse('2026-12-06T09:00:00.000Z');
const FIFTEEN_MINUTES = 15 * 60_000;

/** A write of a busy report as the table would keep it. */
function stored(command: UpdateItemCommand): Record<string, NonNullable<UpdateItemCommand['input']['ExpressionAttributeValues']>[string]> {
  const values = command.input.ExpressionAttributeValues ?? {};
  const key = command.input.Key ?? {};
  return { pk: key.pk!, sk: key.sk!, at: values[':at']!, j: values[':j']!, n: values[':n']!, ttl: values[':ttl']! };
}

describe('the busy board and its reports', () => {
  it('lists only jobs that have run past the threshold, per queue, longest first, with their progress', () => {
    const board = new BusyBoard();
    const early = board.begin({ jid: 'a', jobtype: 'Export', queue: 'default', startedMs: START, attempt: 1 });
    board.begin({ jid: 'b', jobtype: 'Import', queue: 'default', startedMs: START + 5_000, attempt: 3 });
    const short = board.begin({ jid: 'c', jobtype: 'Ping', queue: 'critical', startedMs: START + 14_000, attempt: 1 });
    early.progress(40, 'x'.repeat(200));

    const long = board.longRunning(START + 15_000);

    expect([...long.keys()]).toEqual(['default']);
    expect(long.get('default')?.map((job) => job.jid)).toEqual(['a', 'b']);
    expect(long.get('default')?.[0]?.progress).toEqual({ percent: 40, message: 'x'.repeat(BUSY.maxMessage) });
    short.end();
    early.end();
    expect(board.size).toBe(1);

    // Progress a report could not hold is ignored or bounded, never written as it came.
    const odd = board.begin({ jid: 'd', jobtype: 'Odd', queue: 'default', startedMs: START, attempt: 1 });
    odd.progress(Number.NaN, 'lost');
    expect(board.longRunning(START + 15_000).get('default')?.find((job) => job.jid === 'd')?.progress).toBeUndefined();
    odd.progress(250, 42 as unknown as string);
    expect(board.longRunning(START + 15_000).get('default')?.find((job) => job.jid === 'd')?.progress).toEqual({ percent: 100 });
  });

  it('is due at once, then every report interval, and clears a queue once nothing long runs on it', () => {
    const jobs = [{ jid: 'a', jobtype: 'Export', queue: 'default', startedMs: START, attempt: 1 }];
    const long = new Map([['default', jobs]]);

    expect(dueReports(long, new Map(), START)).toEqual([{ queue: 'default', jobs }]);
    expect(dueReports(long, new Map([['default', START]]), START + BUSY.reportEveryMs - 1)).toEqual([]);
    expect(dueReports(long, new Map([['default', START]]), START + BUSY.reportEveryMs)).toEqual([{ queue: 'default', jobs }]);
    expect(dueReports(new Map(), new Map([['default', START]]), START + 1)).toEqual([{ queue: 'default', jobs: [] }]);
    expect(dueReports(new Map(), new Map(), START)).toEqual([]);
  });

  it('keeps at most maxJobs jobs in a report, counts all of them, and reads them back for the page', () => {
    const jobs = Array.from({ length: 13 }, (_, index) => ({ jid: `j${index}`, jobtype: 'Export', queue: 'default', startedMs: START + index, attempt: 1 }));
    const update = busyUpdate('default', '2026/12/06/[$LATEST]abc', jobs, START + 20_000);
    const item = { pk: update.Key.pk!, sk: update.Key.sk!, at: update.ExpressionAttributeValues[':at']!, j: update.ExpressionAttributeValues[':j']!, n: update.ExpressionAttributeValues[':n']! };

    expect(item.j.L).toHaveLength(BUSY.maxJobs);
    // The item's size stays well under one 1 KB write unit per two jobs (AWS bills per KB).
    expect(Buffer.byteLength(JSON.stringify(item))).toBeLessThan(2_048);

    const read = readBusyReports([item], START + 25_000);
    expect(read.running).toEqual({ default: 13 });
    expect(read.jobs[0]).toEqual({
      queue: 'default', jid: 'j0', jobtype: 'Export', started_at: new Date(START).toISOString(), elapsed_ms: 25_000, attempt: 1,
      instance: '2026/12/06/[$LATEST]abc', reported_at: new Date(START + 20_000).toISOString(),
    });
    expect(read.jobs.map((job) => job.elapsed_ms)).toEqual([...read.jobs.map((job) => job.elapsed_ms)].sort((a, b) => b - a));
  });

  it('leaves out cleared reports and counts stale ones (an instance killed before it could clear)', () => {
    const cleared = busyUpdate('default', 'i1', [], START);
    const old = busyUpdate('default', 'i2', [{ jid: 'x', jobtype: 'T', queue: 'default', startedMs: START - 60_000, attempt: 1 }], START);
    const asItem = (update: ReturnType<typeof busyUpdate>) => ({ sk: update.Key.sk!, at: update.ExpressionAttributeValues[':at']!, j: update.ExpressionAttributeValues[':j']!, n: update.ExpressionAttributeValues[':n']! });

    const read = readBusyReports([asItem(cleared), asItem(old)], START + BUSY.staleAfterMs + 1);

    expect(read).toEqual({ jobs: [], running: {}, stale: 1 });
  });
});

describe('a worker reports its long-running jobs', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(START);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(jobs: Readonly<Record<string, JobHandler>>) {
    const writes: UpdateItemCommand[] = [];
    const deletes: DeleteItemCommand[] = [];
    const client = {
      send: async (command: UpdateItemCommand | DeleteItemCommand) => {
        if (command instanceof DeleteItemCommand) deletes.push(command);
        else writes.push(command);
        return { $metadata: {} };
      },
    } as unknown as StatsWriterClient;
    const stats = createStatsRecorder({ tableName: 'state', client, instance: '2026/12/06/[$LATEST]i-1' });
    const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs: new FakeSqs() }, log: memoryLog().sink, stats });
    const busyWrites = () => writes.filter((command) => command.input.Key?.pk?.S === 'busy').map((command) => ({ at: (Number(command.input.ExpressionAttributeValues?.[':at']?.N) - START) / 1000, n: Number(command.input.ExpressionAttributeValues?.[':n']?.N) }));
    return { handler, writes, deletes, busyWrites };
  }

  it('writes nothing for short jobs, however many', async () => {
    const { handler, busyWrites, writes, deletes } = setup({ Quick: () => new Promise((resolve) => setTimeout(resolve, 200)) });

    for (let batch = 0; batch < 20; batch += 1) {
      const done = handler(sqsEvent(Array.from({ length: 10 }, () => sqsRecord({ body: { jobtype: 'Quick' } }))), lambdaContext(() => FIFTEEN_MINUTES));
      await vi.advanceTimersByTimeAsync(1_000);
      await done;
    }

    expect(busyWrites()).toEqual([]);
    // Only the stats flushes wrote, as before busy reports.
    expect(writes.every((command) => command.input.Key?.pk?.S !== 'busy')).toBe(true);
    expect(deletes).toEqual([]);
  });

  it('reports a long job once it has run ten seconds, every ten seconds after, with its progress, and clears the report when it ends', async () => {
    const { handler, writes, deletes, busyWrites } = setup({
      Export: async (_args, ctx) => {
        for (let step = 1; step <= 4; step += 1) {
          await new Promise((resolve) => setTimeout(resolve, 8_000));
          await ctx.progress(step * 25, `part ${step} of 4`);
        }
      },
    });

    const done = handler(sqsEvent([sqsRecord({ body: { jobtype: 'Export', jid: 'export-1' } })]), lambdaContext(() => FIFTEEN_MINUTES));
    await vi.advanceTimersByTimeAsync(9_000);
    expect(busyWrites()).toEqual([]);
    await vi.advanceTimersByTimeAsync(23_000);
    await done;

    expect(busyWrites()).toEqual([{ at: 10, n: 1 }, { at: 20, n: 1 }, { at: 30, n: 1 }]);
    // At its end the report is deleted: the partition keeps only live reports.
    expect(deletes.map((command) => command.input.Key)).toEqual([{ pk: { S: 'busy' }, sk: { S: 'default#2026/12/06/[$LATEST]i-1' } }]);
    const report = readBusyReports([stored(writes.filter((command) => command.input.Key?.pk?.S === 'busy')[2]!)], START + 31_000);
    expect(report.jobs).toEqual([expect.objectContaining({
      queue: 'default', jid: 'export-1', jobtype: 'Export', elapsed_ms: 31_000, instance: '2026/12/06/[$LATEST]i-1', progress: { percent: 75, message: 'part 3 of 4' },
    })]);
  });
});
