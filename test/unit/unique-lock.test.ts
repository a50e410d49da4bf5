import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { lockKeyOf, planAcquire, planRelease, uniqueDigest, uniqueSpecOf } from '../../lib/unique/lock.js';

const NOW_MS = Date.parse('2026-11-22T12:00:00.000Z');

function job(fields: { jid?: string; args?: unknown[]; queue?: string; custom?: Record<string, unknown> } = {}): Job {
  return normalizeJob({ jobtype: 'Sync', args: fields.args ?? [{ account: 7, full: true }], jid: fields.jid ?? 'j1', queue: fields.queue, custom: fields.custom ?? { unique_for: 3600 } }, { now: new Date(NOW_MS) });
}

describe('unique lock keys', () => {
  it('digests the canonical JSON of [jobtype, queue, args] with SHA-256', () => {
    const expected = createHash('sha256').update('["Sync","default",[{"account":7,"full":true}]]').digest('hex');

    expect(uniqueDigest(job())).toBe(expected);
    expect(lockKeyOf(job())).toEqual({ pk: `unique#${expected}`, sk: 'lock' });
  });

  it('does not depend on the order of keys in args, nor on the jid', () => {
    expect(uniqueDigest(job({ args: [{ full: true, account: 7 }], jid: 'other' }))).toBe(uniqueDigest(job()));
  });

  it.each([
    { change: 'args', other: job({ args: [{ account: 8, full: true }] }) },
    { change: 'queue', other: job({ queue: 'critical' }) },
    { change: 'jobtype', other: { ...job(), jobtype: 'Sync2' } },
  ])('differs when $change differs', ({ other }) => {
    expect(uniqueDigest(other)).not.toBe(uniqueDigest(job()));
  });
});

describe('uniqueSpecOf', () => {
  it('defaults unique_until to success', () => {
    expect(uniqueSpecOf(job())).toEqual({ forSeconds: 3600, until: 'success' });
    expect(uniqueSpecOf(job({ custom: { unique_for: 60, unique_until: 'start' } }))).toEqual({ forSeconds: 60, until: 'start' });
    expect(uniqueSpecOf(job({ custom: {} }))).toBeUndefined();
  });
});

describe('planAcquire', () => {
  it('puts the lock unless a live lock of another job is there, asking for the holder back', () => {
    const plan = planAcquire(job(), { forSeconds: 3600, until: 'success' }, { tableName: 'state', nowMs: NOW_MS, dueMs: NOW_MS });

    expect(plan).toMatchObject({
      TableName: 'state',
      ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now OR #jid = :jid',
      ExpressionAttributeValues: { ':now': { N: String(NOW_MS / 1000) }, ':jid': { S: 'j1' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(plan.Item).toMatchObject({ jid: { S: 'j1' }, ttl: { N: String(NOW_MS / 1000 + 3600) }, expires_at: { S: '2026-11-22T13:00:00.000Z' } });
  });

  it("holds a scheduled job's lock from its due time on", () => {
    const due = NOW_MS + 2 * 3600_000;
    const plan = planAcquire(job(), { forSeconds: 600, until: 'success' }, { tableName: 'state', nowMs: NOW_MS, dueMs: due });

    expect(plan.Item?.ttl).toEqual({ N: String(due / 1000 + 600) });
  });
});

describe('planRelease', () => {
  it('deletes the lock only while this job holds it', () => {
    expect(planRelease(job({ jid: 'j9' }), 'state')).toMatchObject({
      Key: { pk: { S: lockKeyOf(job()).pk }, sk: { S: 'lock' } },
      ConditionExpression: '#jid = :jid',
      ExpressionAttributeValues: { ':jid': { S: 'j9' } },
    });
  });
});
