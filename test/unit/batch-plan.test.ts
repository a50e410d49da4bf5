import { batchJobKey } from '../../lib/storage/keys.js';
import { describe, expect, it } from 'vitest';
import { TRANSITIONS, tallyDeltas, type BatchState, type Counter } from '../../lib/batch/model.js';
import {
  JOBS_PER_REGISTRATION, counterUpdate, paddedSequence, planClaim, planCreateChild, planOutcome, planRegister, planTally, planUnsent, registrationsOf, type PlanContext,
} from '../../lib/batch/plan.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const CONTEXT: PlanContext = { tableName: 'state', now: NOW, ttl: 1_800_000_000 };

describe('the transition table', () => {
  it.each([
    ['pending', 'succeeded', { pending: -1, succeeded: 1 }],
    ['failed', 'succeeded', { failures: -1, succeeded: 1 }],
    ['dead', 'succeeded', { failures: -1, dead: -1, succeeded: 1 }],
    ['pending', 'failed', { pending: -1, failures: 1 }],
    ['pending', 'dead', { pending: -1, failures: 1, dead: 1 }],
    ['failed', 'dead', { dead: 1 }],
  ] as const)('%s → %s moves %j', (from, to, deltas) => {
    expect(TRANSITIONS[to][from]).toEqual(deltas);
  });

  it.each([
    ['succeeded', 'succeeded'], ['succeeded', 'failed'], ['succeeded', 'dead'], ['failed', 'failed'], ['dead', 'dead'], ['dead', 'failed'],
  ] as const)('%s → %s moves nothing (a duplicate or a late report)', (from, to) => {
    expect(TRANSITIONS[to][from]).toBeUndefined();
  });

  it('keeps total = pending + succeeded + failures for every change', () => {
    for (const [, byFrom] of Object.entries(TRANSITIONS)) {
      for (const deltas of Object.values(byFrom)) {
        expect((deltas.pending ?? 0) + (deltas.succeeded ?? 0) + (deltas.failures ?? 0)).toBe(0);
      }
    }
  });
});

describe('registrationsOf', () => {
  it('gives the same registrations for the same jobs in any order, one per 1,000 jobs', () => {
    const jids = Array.from({ length: 2_500 }, (_, index) => `j${index}`);
    const forward = registrationsOf(jids);
    const backward = registrationsOf([...jids].reverse().concat(['j7']));

    expect(forward.map((registration) => registration.jids.length)).toEqual([JOBS_PER_REGISTRATION, JOBS_PER_REGISTRATION, 500]);
    expect(backward).toEqual(forward);
    expect(new Set(forward.map((registration) => registration.digest)).size).toBe(3);
    expect(registrationsOf(['j1', 'j2'])[0]?.digest).not.toBe(registrationsOf(['j1', 'j3'])[0]?.digest);
  });
});

describe('planRegister', () => {
  it('counts the jobs in the batch before they are sent, with one add item standing for them', () => {
    const registration = registrationsOf(['j1', 'j2'])[0];
    if (registration === undefined) throw new Error('no registration');
    const items = planRegister('b1', registration, CONTEXT);

    expect(items).toHaveLength(2);
    expect(items[0]?.Update).toMatchObject({
      Key: { pk: { S: 'batch#b1' }, sk: { S: 'batch' } },
      UpdateExpression: 'ADD #c_total :c_total, #c_pending :c_pending',
      ExpressionAttributeValues: { ':c_total': { N: '2' }, ':c_pending': { N: '2' } },
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#success_at)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(items[1]?.Put).toMatchObject({
      Item: { pk: { S: 'batch#b1' }, sk: { S: `add#${registration.digest}` }, jobs: { N: '2' }, v: { N: '0' }, ttl: { N: '1800000000' } },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });
});

describe('planUnsent', () => {
  it('takes unsent jobs out of the counters and into the add item, conditional on its version', () => {
    const [counters, add] = planUnsent('b1', 'd1', { jids: ['j2'], direction: 'out', version: 3 }, CONTEXT);

    expect(counters?.Update).toMatchObject({ ExpressionAttributeValues: { ':c_total': { N: '-1' }, ':c_pending': { N: '-1' } }, ConditionExpression: 'attribute_exists(pk)' });
    expect(add?.Update).toMatchObject({
      Key: { pk: { S: 'batch#b1' }, sk: { S: 'add#d1' } },
      UpdateExpression: 'SET #v = :next ADD #unsent :jids',
      ConditionExpression: '#v = :v',
      ExpressionAttributeValues: { ':v': { N: '3' }, ':next': { N: '4' }, ':jids': { SS: ['j2'] } },
    });
  });

  it('counts them in again, refused once the batch succeeded', () => {
    const [counters, add] = planUnsent('b1', 'd1', { jids: ['j2'], direction: 'in', version: 4 }, CONTEXT);

    expect(counters?.Update?.ConditionExpression).toBe('attribute_exists(pk) AND attribute_not_exists(#success_at)');
    expect(add?.Update?.UpdateExpression).toBe('SET #v = :next DELETE #unsent :jids');
  });
});

describe('planOutcome', () => {
  it.each([
    ['succeeded', ['pending', 'failed', 'dead']],
    ['failed', ['pending']],
    ['dead', ['pending', 'failed']],
  ] as const)('writes %s over a missing item or %j, incrementing the tally', (to, from) => {
    const update = planOutcome('b1', 'j1', to, CONTEXT);

    expect(update).toMatchObject({
      Key: { pk: { S: batchJobKey('b1', 'j1').pk }, sk: { S: 'job#j1' } },
      UpdateExpression: 'SET #status = :to, #jid = :jid, #updated_at = :now, #created_at = if_not_exists(#created_at, :now), #ttl = if_not_exists(#ttl, :ttl) ADD #tally :one',
      ExpressionAttributeNames: expect.objectContaining({ '#tally': 'tally' }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(update.ConditionExpression).toBe(`attribute_not_exists(#status) OR #status IN (${from.map((_, index) => `:from${index}`).join(', ')})`);
    expect(from.map((_, index) => update.ExpressionAttributeValues?.[`:from${index}`])).toEqual(from.map((status) => ({ S: status })));
  });
});

describe('planTally', () => {
  it('moves the counters and each shard\'s tallied sequence number, unless a record of a shard from its first on was counted', () => {
    const update = planTally('b1', { pending: -2, succeeded: 2 }, [
      { guard: 'tallied_seq_0', first: '000000000000000000011', last: '000000000000000000019' },
      { guard: 'tallied_seq', first: '000000000000000000012', last: '000000000000000000012' },
    ], CONTEXT);

    expect(update).toMatchObject({
      Key: { pk: { S: 'batch#b1' }, sk: { S: 'batch' } },
      UpdateExpression: 'SET #seq0 = :last0, #seq1 = :last1 ADD #c_pending :c_pending, #c_succeeded :c_succeeded',
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#seq0) OR #seq0 < :first0) AND (attribute_not_exists(#seq1) OR #seq1 < :first1)',
      ExpressionAttributeNames: { '#seq0': 'tallied_seq_0', '#seq1': 'tallied_seq', '#c_pending': 'pending', '#c_succeeded': 'succeeded' },
    });
    expect(update.ExpressionAttributeValues?.[':first0']).toEqual({ S: paddedSequence('11') });
    expect(update.ExpressionAttributeValues?.[':last1']).toEqual({ S: paddedSequence('12') });
  });

  it('pads sequence numbers of 21 to 40 digits so that they compare as strings', () => {
    expect(paddedSequence('999999999999999999999') < paddedSequence('1000000000000000000000')).toBe(true);
    expect(paddedSequence('1'.repeat(40))).toBe('1'.repeat(40));
  });
});

describe('tallyDeltas', () => {
  const item = (status: string | undefined, tally: number | undefined) => ({
    ...(status === undefined ? {} : { status: { S: status } }),
    ...(tally === undefined ? {} : { tally: { N: String(tally) } }),
  });

  it('counts a write that incremented the tally by the change of status it made', () => {
    expect(tallyDeltas(undefined, item('succeeded', 1))).toEqual({ pending: -1, succeeded: 1 });
    expect(tallyDeltas(item('failed', 1), item('succeeded', 2))).toEqual({ failures: -1, succeeded: 1 });
    expect(tallyDeltas(item('pending', undefined), item('succeeded', 1))).toEqual({ pending: -1, succeeded: 1 });
    expect(tallyDeltas(item('failed', 1), item('dead', 2))).toEqual({ dead: 1 });
  });

  it('counts nothing for a write that left the tally alone, or a change that moves nothing', () => {
    expect(tallyDeltas(undefined, item('pending', undefined))).toBeUndefined();
    expect(tallyDeltas(item('pending', undefined), item('succeeded', undefined))).toBeUndefined();
    expect(tallyDeltas(item('succeeded', 1), item('succeeded', 1))).toBeUndefined();
    expect(tallyDeltas(item('dead', 2), item('failed', 3))).toBeUndefined();
  });
});

describe('counterUpdate', () => {
  it('leaves out counters that do not move', () => {
    expect(counterUpdate({ dead: 1, failures: 0 })).toEqual({ expression: 'ADD #c_dead :c_dead', names: { '#c_dead': 'dead' }, values: { ':c_dead': { N: '1' } } });
  });
});

function batch(fields: Partial<BatchState> = {}): BatchState {
  const counters: Record<Counter, number> = { total: 1, pending: 0, succeeded: 1, failures: 0, dead: 0, open: 0, children: 0, children_complete: 0, children_succeeded: 0, children_dead: 0 };
  return { bid: 'c1', createdAt: 'x', childBids: [], counters, sealed: true, callbacks: {}, claimedAt: {}, sentAt: {}, callbackParent: {}, ...fields };
}

describe('planClaim', () => {
  it('claims several events at once, on condition that none was claimed', () => {
    const [claim, ...rest] = planClaim(batch(), ['complete', 'success'], CONTEXT, { withParent: false });

    expect(rest).toEqual([]);
    expect(claim?.Update).toMatchObject({
      Key: { pk: { S: 'batch#c1' }, sk: { S: 'batch' } },
      UpdateExpression: 'SET #at0 = :now, #at1 = :now',
      ConditionExpression: 'attribute_not_exists(#at0) AND attribute_not_exists(#at1)',
      ExpressionAttributeNames: { '#at0': 'complete_at', '#at1': 'success_at' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('counts a child\'s events in its parent and adds its callback jobs to the parent, atomically', () => {
    const child = batch({ parent: 'p1', callbacks: { success: { jobtype: 'ChildDone' } } });

    const items = planClaim(child, ['complete', 'success'], CONTEXT, { withParent: true });

    expect(items).toHaveLength(3);
    expect(items[0]?.Update).toMatchObject({ UpdateExpression: 'SET #at0 = :now, #at1 = :now, #parent1 = :parent', ExpressionAttributeValues: { ':parent': { S: 'p1' } } });
    expect(items[1]?.Update).toMatchObject({
      Key: { pk: { S: 'batch#p1' }, sk: { S: 'batch' } },
      UpdateExpression: 'ADD #c_total :c_total, #c_pending :c_pending, #c_children_complete :c_children_complete, #c_children_succeeded :c_children_succeeded',
      ExpressionAttributeValues: { ':c_total': { N: '1' }, ':c_pending': { N: '1' }, ':c_children_complete': { N: '1' }, ':c_children_succeeded': { N: '1' } },
    });
    expect(items[2]?.Put?.Item).toMatchObject({ pk: { S: batchJobKey('p1', 'c1-success').pk }, sk: { S: 'job#c1-success' }, status: { S: 'pending' } });
  });
});

describe('planCreateChild', () => {
  it('creates the child and counts it in a parent that exists and has not succeeded', () => {
    const [parent, child] = planCreateChild({ bid: 'c1', parent: 'p1', callbacks: {} }, CONTEXT);

    expect(parent?.Update).toMatchObject({
      Key: { pk: { S: 'batch#p1' }, sk: { S: 'batch' } },
      UpdateExpression: 'ADD #children :one, #child_bids :child',
      ExpressionAttributeValues: { ':one': { N: '1' }, ':child': { SS: ['c1'] } },
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#success_at)',
    });
    expect(child?.Put?.Item).toMatchObject({ bid: { S: 'c1' }, parent: { S: 'p1' }, total: { N: '0' }, pending: { N: '0' } });
  });
});
