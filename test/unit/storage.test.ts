import { randomUUID } from 'node:crypto';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { BatchWriteItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../lib/errors/base.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { setEntryKey, shardOf } from '../../lib/storage/keys.js';
import { fromItem, toItem } from '../../lib/storage/set-items.js';
import { StateTable, stateTableOf } from '../../lib/storage/state-table.js';
import { FakeDynamo } from './storage-fake-dynamo.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const T0 = NOW.getTime();

function makeJob(fields: Record<string, unknown> = {}): Job {
  return normalizeJob({ jobtype: 'SendEmail', args: ['a@example.com', 42], jid: `job-${randomUUID()}`, ...fields }, { now: NOW });
}

const FAILURE = { retry_count: 25, failed_at: NOW.toISOString(), message: 'smtp timeout', errtype: 'TimeoutError', backtrace: ['at send (mail.ts:10:5)'] };

describe('toItem', () => {
  it('lays out a dead job with its failure, reason and TTL', () => {
    const job = makeJob({ jid: 'abc123', queue: 'critical', failure: FAILURE });

    const item = toItem('dead', { job, epochMs: T0, reason: { errtype: 'TimeoutError', message: 'smtp timeout' }, ttl: 1_795_000_000 });

    const key = setEntryKey('dead', T0, 'abc123');
    expect(item).toEqual({
      pk: { S: key.pk },
      sk: { S: '1795348800000#abc123' },
      jid: { S: 'abc123' },
      queue: { S: 'critical' },
      jobtype: { S: 'SendEmail' },
      job: { S: JSON.stringify(job) },
      retry_count: { N: '25' },
      errtype: { S: 'TimeoutError' },
      error: { S: 'smtp timeout' },
      failed_at: { S: '2026-11-22T12:00:00.000Z' },
      ttl: { N: '1795000000' },
    });
    expect(key.pk).toBe(`dead#${shardOf('dead', 'abc123')}`);
  });

  it('gives retry and scheduled entries their due time as `at` and no TTL', () => {
    const job = makeJob({ jid: 'abc123' });

    const item = toItem('retry', { job, epochMs: T0 + 3_600_000 });

    expect(item.at).toEqual({ S: '2026-11-22T13:00:00.000Z' });
    expect(item.failed_at).toBeUndefined();
    expect(item.ttl).toBeUndefined();
    expect(item.pk?.S).toMatch(/^retry#\d+$/);
  });

  it('keeps a body that was not a job as `raw`, filed under the message id', () => {
    const item = toItem('dead', { raw: '{not json', jid: 'msg-1', queue: 'default', epochMs: T0, reason: { errtype: 'InvalidJobError', message: 'body is not JSON' } });

    expect(item).toMatchObject({ jid: { S: 'msg-1' }, queue: { S: 'default' }, raw: { S: '{not json' }, errtype: { S: 'InvalidJobError' } });
    expect(item.job).toBeUndefined();
    expect(item.jobtype).toBeUndefined();
  });

  it('is a function of the entry: the same failure gives the same key and item', () => {
    const job = makeJob({ failure: FAILURE });
    const entry = { job, epochMs: T0, reason: { errtype: 'TimeoutError', message: 'smtp timeout' }, ttl: 1 };

    expect(toItem('dead', entry)).toEqual(toItem('dead', { ...entry, job: normalizeJob(JSON.parse(JSON.stringify(job)), { now: new Date() }) }));
  });
});

describe('fromItem', () => {
  it('reads back what toItem wrote', () => {
    const job = makeJob({ jid: 'abc123', failure: FAILURE });

    const entry = fromItem('dead', toItem('dead', { job, epochMs: T0, reason: { errtype: 'TimeoutError', message: 'smtp timeout' }, ttl: 99 }));

    expect(entry).toEqual({
      set: 'dead',
      key: setEntryKey('dead', T0, 'abc123'),
      epochMs: T0,
      jid: 'abc123',
      queue: 'default',
      jobtype: 'SendEmail',
      job,
      reason: { errtype: 'TimeoutError', message: 'smtp timeout' },
      ttl: 99,
    });
  });

  it('keeps an unreadable stored job as raw text instead of failing the read', () => {
    const entry = fromItem('dead', { pk: { S: 'dead#0' }, sk: { S: `${T0}#x` }, job: { S: '{"args":[]}' } });

    expect(entry).toMatchObject({ jid: 'x', raw: '{"args":[]}' });
    expect(entry?.job).toBeUndefined();
  });

  it('skips items that are not sorted-set entries', () => {
    expect(fromItem('dead', { pk: { S: 'dead#0' }, sk: { S: 'lock#x' } })).toBeUndefined();
  });
});

describe('StateTable', () => {
  let dynamo: FakeDynamo;
  let table: StateTable;

  beforeEach(() => {
    dynamo = new FakeDynamo();
    table = new StateTable(dynamo, `state-${randomUUID()}`);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  /** Twenty jobs, one second apart, spread over the shards by their jids. */
  async function putTwenty(set: 'retry' | 'dead'): Promise<Job[]> {
    const jobs = Array.from({ length: 20 }, (_, i) => makeJob({ jid: `job-${String(i).padStart(2, '0')}` }));
    // Written out of order, so that order on read comes from the sort keys.
    for (const [i, job] of [...jobs.entries()].reverse()) await table.putSetEntry(set, { job, epochMs: T0 + i * 1000 });
    return jobs;
  }

  it('writes one item per entry, into the table it was given', async () => {
    const job = makeJob();

    const key = await table.putSetEntry('dead', { job, epochMs: T0 });
    await table.putSetEntry('dead', { job, epochMs: T0 });

    expect(key).toEqual(setEntryKey('dead', T0, job.jid));
    expect(dynamo.items.size).toBe(1);
    expect(dynamo.sentOf(PutItemCommand).map((command) => command.input.TableName)).toEqual([table.tableName, table.tableName]);
  });

  it('puts far-off jobs in the scheduled set with putScheduled', async () => {
    const job = makeJob();

    await table.putScheduled(job, T0 + 86_400_000);

    const { entries } = await table.readSetRange('scheduled');
    expect(entries.map((entry) => [entry.jid, entry.epochMs])).toEqual([[job.jid, T0 + 86_400_000]]);
  });

  it('merges every shard in time order', async () => {
    const jobs = await putTwenty('retry');

    const { entries, cursor } = await table.readSetRange('retry');

    expect(new Set(jobs.map((job) => shardOf('retry', job.jid))).size).toBeGreaterThan(4);
    expect(entries.map((entry) => entry.jid)).toEqual(jobs.map((job) => job.jid));
    expect(entries[0]?.job).toEqual(jobs[0]);
    expect(cursor).toBeUndefined();
    expect(dynamo.sentOf(QueryCommand)).toHaveLength(16);
  });

  it('pages with limit and cursor, without repeats or gaps', async () => {
    const jobs = await putTwenty('retry');

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await table.readSetRange('retry', { limit: 7, ...(after === undefined ? {} : { after }) });
      seen.push(...page.entries.map((entry) => entry.jid));
      after = page.cursor;
      pages += 1;
    } while (after !== undefined);

    expect(seen).toEqual(jobs.map((job) => job.jid));
    expect(pages).toBe(3);
  });

  it('pages one shard with readShardPage, without repeats or gaps, also when the cursor entry is gone', async () => {
    const jobs = Array.from({ length: 200 }, (_, i) => makeJob({ jid: `job-${String(i).padStart(3, '0')}` })).filter((job) => shardOf('retry', job.jid) === 3).slice(0, 5);
    for (const [i, job] of jobs.entries()) await table.putSetEntry('retry', { job, epochMs: T0 + i * 1000 });
    expect(jobs).toHaveLength(5);

    const first = await table.readShardPage('retry', 3, { limit: 2 });
    expect(first.entries.map((entry) => entry.jid)).toEqual([jobs[0]?.jid, jobs[1]?.jid]);
    const cursorEntry = first.entries[1];
    if (first.cursor === undefined || cursorEntry === undefined) throw new Error('expected a cursor after a full page');
    await table.deleteSetEntries([cursorEntry.key]);
    const second = await table.readShardPage('retry', 3, { limit: 2, after: first.cursor });
    expect(second.entries.map((entry) => entry.jid)).toEqual([jobs[2]?.jid, jobs[3]?.jid]);
    const third = await table.readShardPage('retry', 3, { limit: 2, ...(second.cursor === undefined ? {} : { after: second.cursor }) });
    expect(third.entries.map((entry) => entry.jid)).toEqual([jobs[4]?.jid]);
    expect(third.cursor).toBeUndefined();
  });

  it('reads newest first, also across pages', async () => {
    const jobs = await putTwenty('dead');

    const first = await table.readSetRange('dead', { limit: 15, newestFirst: true });
    const second = await table.readSetRange('dead', { limit: 15, newestFirst: true, ...(first.cursor === undefined ? {} : { after: first.cursor }) });

    expect([...first.entries, ...second.entries].map((entry) => entry.jid)).toEqual(jobs.map((job) => job.jid).reverse());
    expect(second.cursor).toBeUndefined();
  });

  it('reads [fromMs, untilMs): the lower bound inclusive, the upper exclusive', async () => {
    const jobs = await putTwenty('retry');

    const { entries } = await table.readSetRange('retry', { fromMs: T0 + 5000, untilMs: T0 + 8000 });

    expect(entries.map((entry) => entry.jid)).toEqual(jobs.slice(5, 8).map((job) => job.jid));
  });

  it('keeps querying a shard whose pages come back short (the 1 MB page limit)', async () => {
    const jobs = Array.from({ length: 5 }, () => makeJob({ jid: 'same-shard' }));
    for (const [i, job] of jobs.entries()) await table.putSetEntry('retry', { job, epochMs: T0 + i });
    dynamo.pageSize = 2;

    const { entries } = await table.readSetRange('retry', { limit: 4 });

    expect(entries.map((entry) => entry.epochMs)).toEqual([T0, T0 + 1, T0 + 2, T0 + 3]);
  });

  it('answers an empty range without querying', async () => {
    const { entries } = await table.readSetRange('retry', { fromMs: T0 + 10, untilMs: T0 });

    expect(entries).toEqual([]);
    expect(dynamo.sent).toHaveLength(0);
  });

  it.each([0, 1001, 2.5])('rejects limit %s', async (limit) => {
    await expect(table.readSetRange('dead', { limit })).rejects.toThrow(`limit must be an integer from 1 to 1000, but ${limit} was provided`);
  });

  it('deletes an entry once and reports it gone the second time', async () => {
    const job = makeJob();
    const key = await table.putSetEntry('retry', { job, epochMs: T0 });

    const first = await table.deleteSetEntry('retry', key);
    const second = await table.deleteSetEntry('retry', key);

    expect(first?.job).toEqual(job);
    expect(second).toBeUndefined();
    expect(dynamo.items.size).toBe(0);
  });

  it('deletes many entries 25 to a call, retrying what comes back unprocessed, and names what it could not delete', async () => {
    const jobs = Array.from({ length: 60 }, (_, i) => makeJob({ jid: `job-${String(i).padStart(2, '0')}` }));
    const keys = await Promise.all(jobs.map((job, i) => table.putSetEntry('retry', { job, epochMs: T0 + i })));
    // First calls: 3 of the first chunk's 25 unprocessed, then 1 of its retry; the others processed.
    dynamo.unprocessed.push(3, 0, 0, 1);
    vi.useFakeTimers();

    const deleting = table.deleteSetEntries(keys);
    await vi.runAllTimersAsync();
    const left = await deleting;

    const calls = dynamo.sentOf(BatchWriteItemCommand).map((command) => Object.values(command.input.RequestItems ?? {}).flat().length);
    expect(calls.slice(0, 3).sort()).toEqual([10, 25, 25]);
    expect(calls.slice(3)).toEqual([3, 1]);
    expect(left).toEqual([]);
    expect(dynamo.items.size).toBe(0);
  });

  it('gives back the keys DynamoDB keeps leaving unprocessed after its retries', async () => {
    const keys = await Promise.all([0, 1, 2].map((i) => table.putSetEntry('retry', { job: makeJob({ jid: `j${i}` }), epochMs: T0 + i })));
    dynamo.unprocessed.push(1, 1, 1, 1, 1);
    vi.useFakeTimers();

    const deleting = table.deleteSetEntries(keys);
    // The pauses between the retries (50, 100, 200, 400 ms) pass on the fake clock.
    await vi.runAllTimersAsync();
    const left = await deleting;

    expect(dynamo.sentOf(BatchWriteItemCommand)).toHaveLength(5);
    expect(left).toEqual([keys[2]]);
    expect(dynamo.items.size).toBe(1);
  });

  it('streams one shard in time order, page by page, within [fromMs, untilMs)', async () => {
    await putTwenty('retry');
    dynamo.pageSize = 2;

    const byShard = await Promise.all(Array.from({ length: 16 }, async (_, shard) => {
      const entries: string[] = [];
      for await (const entry of table.streamShardRange('retry', shard, { untilMs: T0 + 15_000, pageSize: 2 })) entries.push(entry.jid);
      return entries;
    }));

    const all = byShard.flat();
    expect(all.sort()).toEqual(Array.from({ length: 15 }, (_, i) => `job-${String(i).padStart(2, '0')}`));
    for (const entries of byShard) expect(entries).toEqual([...entries].sort());
  });
});

describe('stateTableOf', () => {
  it('names the missing variable', async () => {
    await expect(stateTableOf(HopperConfig.of({}))).rejects.toThrow(ConfigurationError);
    await expect(stateTableOf(HopperConfig.of({}))).rejects.toThrow(/HOPPER_STATE_TABLE/);
  });

  it('uses the table the environment names', async () => {
    const table = await stateTableOf(HopperConfig.of({ HOPPER_STATE_TABLE: 'hopper-state', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' }));

    expect(table.tableName).toBe('hopper-state');
  });
});
