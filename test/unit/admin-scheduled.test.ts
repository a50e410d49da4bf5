import { describe, expect, it } from 'vitest';
import { InvalidEntryIdError, ScheduledJobs } from '../../lib/admin/scheduled.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { createLogger } from '../../lib/observability/logger.js';
import { MiddlewareError } from '../../lib/errors/middleware.js';
import type { ClientMiddleware } from '../../lib/middleware/chain.js';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { StateTable } from '../../lib/storage/state-table.js';
import { setPartitionKey, shardCandidates } from '../../lib/storage/keys.js';
import { toItem } from '../../lib/storage/set-items.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, QUEUE_URLS, memoryLog } from './worker-fakes.js';

const T0 = Date.parse('2026-11-22T12:00:00.000Z');

function makeJob(jid: string, fields: Record<string, unknown> = {}): Job {
  return normalizeJob({ jobtype: 'Remind', args: [jid], jid, ...fields }, { now: new Date(T0) });
}

function setup() {
  const dynamo = new FakeDynamo();
  const table = new StateTable(dynamo, 'state');
  const sqs = new FakeSqs();
  const log = memoryLog();
  const waiting = new ScheduledJobs({ table, sqs, queueUrls: QUEUE_URLS, clock: () => new Date(T0), logger: createLogger({ sink: log.sink }) });
  return { dynamo, table, sqs, waiting, log };
}

async function putMany(table: StateTable): Promise<void> {
  for (let i = 0; i < 12; i += 1) {
    const job = makeJob(`j${String(i).padStart(2, '0')}`, { jobtype: i % 3 === 0 ? 'SendEmail' : 'Remind', queue: i % 2 === 0 ? 'default' : 'critical' });
    await table.putScheduled(job, T0 + 3_600_000 + i * 1000);
  }
}

describe('ScheduledJobs.list', () => {
  it('pages through the set earliest first, without repeats or gaps', async () => {
    const { table, waiting } = setup();
    await putMany(table);

    const first = await waiting.list({ limit: 5 });
    const second = await waiting.list({ limit: 5, ...(first.cursor === undefined ? {} : { cursor: first.cursor }) });
    const third = await waiting.list({ limit: 5, ...(second.cursor === undefined ? {} : { cursor: second.cursor }) });

    expect([...first.jobs, ...second.jobs, ...third.jobs].map((job) => job.jid)).toEqual(Array.from({ length: 12 }, (_, i) => `j${String(i).padStart(2, '0')}`));
    expect(third.cursor).toBeUndefined();
    expect(first.jobs[0]).toMatchObject({ id: `${T0 + 3_600_000}#j00`, set: 'scheduled', at: '2026-11-22T13:00:00.000Z', jobtype: 'SendEmail', queue: 'default', moving: false });
  });

  it('filters by jobtype and queue', async () => {
    const { table, waiting } = setup();
    await putMany(table);

    const emails = await waiting.list({ jobtype: 'SendEmail' });
    const criticalEmails = await waiting.list({ jobtype: 'SendEmail', queue: 'critical' });

    expect(emails.jobs.map((job) => job.jid)).toEqual(['j00', 'j03', 'j06', 'j09']);
    expect(criticalEmails.jobs.map((job) => job.jid)).toEqual(['j03', 'j09']);
  });

  it('lists the retry set when asked', async () => {
    const { table, waiting } = setup();
    await table.putSetEntry('retry', { job: makeJob('r1'), epochMs: T0 + 5000 });

    expect((await waiting.list({ set: 'retry' })).jobs.map((job) => [job.set, job.jid])).toEqual([['retry', 'r1']]);
    expect((await waiting.list()).jobs).toEqual([]);
  });

  it('rejects a malformed cursor and an out-of-range limit', async () => {
    const { waiting } = setup();

    await expect(waiting.list({ cursor: 'nope' })).rejects.toThrow(InvalidEntryIdError);
    await expect(waiting.list({ limit: 0 })).rejects.toThrow('limit must be an integer from 1 to 1000, but 0 was provided');
  });
});

describe('ScheduledJobs.runNow and delete', () => {
  it('runs a job now: on its queue with no delay, gone from the set', async () => {
    const { table, sqs, waiting } = setup();
    await table.putScheduled(makeJob('a', { queue: 'critical' }), T0 + 86_400_000);
    const [job] = (await waiting.list()).jobs;
    if (job === undefined) throw new Error('not listed');

    const result = await waiting.runNow('scheduled', job.id);

    expect(result).toBe('done');
    expect(sqs.sentTo(QUEUE_URLS.critical)).toEqual([{ delaySeconds: 0, body: expect.objectContaining({ jid: 'a', enqueued_at: '2026-11-22T12:00:00.000Z' }) }]);
    expect((await waiting.list()).jobs).toEqual([]);
    expect(await waiting.runNow('scheduled', job.id)).toBe('gone');
  });

  it('runs the client middleware on a job run now (run-now) or retried from the dead set (dead-retry), and leaves a refused one where it was', async () => {
    const table = new StateTable(new FakeDynamo(), 'state');
    const sqs = new FakeSqs();
    const stamp: ClientMiddleware = (given, ctx) => ({ ...given, custom: { ...given.custom, via: ctx.via } });
    const waiting = new ScheduledJobs({ table, sqs, queueUrls: QUEUE_URLS, clock: () => new Date(T0), middleware: { client: [stamp] } });
    await table.putScheduled(makeJob('later'), T0 + 86_400_000);
    await table.putSetEntry('dead', { job: makeJob('dead'), epochMs: T0 - 1000 });
    await waiting.runNow('scheduled', `${T0 + 86_400_000}#later`);
    await waiting.runNow('dead', `${T0 - 1000}#dead`);
    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => sent.body)).toEqual([
      expect.objectContaining({ jid: 'later', custom: { via: 'run-now' } }),
      expect.objectContaining({ jid: 'dead', custom: { via: 'dead-retry' } }),
    ]);

    const refusing = new ScheduledJobs({ table, sqs: new FakeSqs(), queueUrls: QUEUE_URLS, clock: () => new Date(T0), middleware: { client: [() => { throw new Error('not today'); }] } });
    await table.putSetEntry('dead', { job: makeJob('kept'), epochMs: T0 - 2000 });
    await expect(refusing.runNow('dead', `${T0 - 2000}#kept`)).rejects.toThrow(MiddlewareError);
    // Its claim was given back: the entry is there to retry once the middleware lets it.
    expect(await waiting.runNow('dead', `${T0 - 2000}#kept`)).toBe('done');
  });

  it('deletes a job without running it', async () => {
    const { table, sqs, waiting, log } = setup();
    await table.putScheduled(makeJob('a'), T0 + 86_400_000);
    const [job] = (await waiting.list()).jobs;
    if (job === undefined) throw new Error('not listed');

    expect(await waiting.delete('scheduled', job.id)).toBe('done');
    expect(await waiting.delete('scheduled', job.id)).toBe('gone');
    expect(sqs.batches).toEqual([]);
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'waiting job deleted', jid: 'a', set: 'scheduled' }));
  });

  it('neither runs nor deletes a job a sweep is moving, and says so', async () => {
    const { table, sqs, waiting } = setup();
    await table.putScheduled(makeJob('a'), T0 + 30_000);
    const [job] = (await waiting.list()).jobs;
    if (job === undefined) throw new Error('not listed');
    const key = (await table.readSetRange('scheduled')).entries[0]?.key;
    if (key === undefined) throw new Error('not stored');
    await table.claimSetEntry('scheduled', key, { owner: 'sweep-1', nowMs: T0, untilMs: T0 + 60_000 });

    expect((await waiting.list()).jobs[0]?.moving).toBe(true);
    expect(await waiting.runNow('scheduled', job.id)).toBe('moving');
    expect(await waiting.delete('scheduled', job.id)).toBe('moving');
    expect(sqs.batches).toEqual([]);
  });

  it('names a malformed id', async () => {
    const { waiting } = setup();

    await expect(waiting.delete('scheduled', 'j1')).rejects.toThrow('id must be <13-digit due time in epoch ms>#<jid> (as list returns it), but "j1" was provided');
  });
});

describe('an entry written when the scheduled set had 16 shards', () => {
  /** A jid whose shard among 64 is not its shard among 16, and its entry put under the former. */
  async function former(dynamo: FakeDynamo, table: StateTable, index: number) {
    const jid = Array.from({ length: 200 }, (_, i) => `old-${index}-${i}`).find((candidate) => shardCandidates('scheduled', candidate).length === 2) ?? '';
    const item = toItem('scheduled', { job: makeJob(jid), epochMs: T0 + 60_000 });
    const [, before] = shardCandidates('scheduled', jid);
    item.pk = { S: setPartitionKey('scheduled', before ?? -1) };
    await dynamo.send(new PutItemCommand({ TableName: table.tableName, Item: item }));
    return { jid, id: item.sk?.S ?? '' };
  }

  it('is listed, run now and deleted by its id, as one under the 64 shards', async () => {
    const { dynamo, table, sqs, waiting } = setup();
    const listed = await former(dynamo, table, 1);
    const deleted = await former(dynamo, table, 2);

    expect((await waiting.list()).jobs.map((job) => job.jid).sort()).toEqual([listed.jid, deleted.jid].sort());
    await expect(waiting.runNow('scheduled', listed.id)).resolves.toBe('done');
    await expect(waiting.delete('scheduled', deleted.id)).resolves.toBe('done');

    expect(sqs.batches.flatMap((batch) => batch.entries.map((entry) => JSON.parse(entry.MessageBody ?? "{}").jid))).toEqual([listed.jid]);
    expect((await waiting.list()).jobs).toEqual([]);
    await expect(waiting.delete('scheduled', deleted.id)).resolves.toBe('gone');
  });
});

