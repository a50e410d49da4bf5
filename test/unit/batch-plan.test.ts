import { describe, expect, it } from 'vitest';
import { TRANSITIONS, type BatchState, type Counter } from '../../lib/batch/model.js';
import { JOBS_PER_TRANSACTION, counterUpdate, planClaim, planCreateChild, planRegister, planTransitions, type PlanContext } from '../../lib/batch/plan.js';

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

describe('planRegister', () => {
  it('counts the jobs in the batch before they are sent, in the same transaction as their items', () => {
    const items = planRegister('b1', ['j1', 'j2'], CONTEXT);

    expect(items).toHaveLength(3);
    expect(items[0]?.Update).toMatchObject({
      Key: { pk: { S: 'batch#b1' }, sk: { S: 'batch' } },
      UpdateExpression: 'ADD #c_total :c_total, #c_pending :c_pending',
      ExpressionAttributeValues: { ':c_total': { N: '2' }, ':c_pending': { N: '2' } },
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#success_at)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(items[1]?.Put).toMatchObject({
      Item: { pk: { S: 'batch#b1' }, sk: { S: 'job#j1' }, jid: { S: 'j1' }, status: { S: 'pending' }, ttl: { N: '1800000000' } },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('fits a transaction: the batch item and 99 jobs', () => {
    expect(JOBS_PER_TRANSACTION).toBe(99);
  });
});

describe('planTransitions', () => {
  it('moves the counters once by the sum of the changes, each job conditional on its previous status', () => {
    const items = planTransitions('b1', [
      { jid: 'j1', from: 'pending', to: 'succeeded' },
      { jid: 'j2', from: 'pending', to: 'succeeded' },
      { jid: 'j3', from: 'failed', to: 'succeeded' },
    ], CONTEXT);

    expect(items[0]?.Update).toMatchObject({
      UpdateExpression: 'ADD #c_pending :c_pending, #c_succeeded :c_succeeded, #c_failures :c_failures',
      ExpressionAttributeValues: { ':c_pending': { N: '-2' }, ':c_succeeded': { N: '3' }, ':c_failures': { N: '-1' } },
      ConditionExpression: 'attribute_exists(pk)',
    });
    expect(items.slice(1).map((item) => item.Update?.ExpressionAttributeValues)).toEqual([
      { ':to': { S: 'succeeded' }, ':from': { S: 'pending' }, ':now': { S: NOW.toISOString() } },
      { ':to': { S: 'succeeded' }, ':from': { S: 'pending' }, ':now': { S: NOW.toISOString() } },
      { ':to': { S: 'succeeded' }, ':from': { S: 'failed' }, ':now': { S: NOW.toISOString() } },
    ]);
    expect(items[3]?.Update?.ConditionExpression).toBe('#status = :from');
    expect(items[3]?.Update?.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('refuses a change that moves nothing', () => {
    expect(() => planTransitions('b1', [{ jid: 'j1', from: 'succeeded', to: 'succeeded' }], CONTEXT)).toThrow('job j1 cannot go from succeeded to succeeded');
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
    expect(items[2]?.Put?.Item).toMatchObject({ pk: { S: 'batch#p1' }, sk: { S: 'job#c1-success' }, status: { S: 'pending' } });
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
