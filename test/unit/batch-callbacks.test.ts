import { describe, expect, it } from 'vitest';
import { batchCallbackArgs, callbackJob, callbackJid, dueEvents, eventsClaimedBetween, isComplete, isSuccess } from '../../lib/batch/callbacks.js';
import { UnrecoverableJobError } from '../../lib/errors/base.js';
import { readBatchItem, type BatchState, type Counter } from '../../lib/batch/model.js';

const ZERO: Record<Counter, number> = {
  total: 0, pending: 0, succeeded: 0, failures: 0, dead: 0, open: 0, children: 0, children_complete: 0, children_succeeded: 0, children_dead: 0,
};

function state(counters: Partial<Record<Counter, number>>, extra: Partial<BatchState> = {}): BatchState {
  return { bid: 'b1', createdAt: '2026-11-22T12:00:00.000Z', childBids: [], counters: { ...ZERO, ...counters }, sealed: true, callbacks: {}, claimedAt: {}, sentAt: {}, callbackParent: {}, ...extra };
}

describe('when callbacks are due', () => {
  it.each([
    { name: 'an empty batch (still being set up)', counters: {}, due: [] },
    { name: 'jobs still pending', counters: { total: 3, pending: 1, succeeded: 2 }, due: [] },
    { name: 'every job ran, all succeeded', counters: { total: 3, succeeded: 3 }, due: ['complete', 'success'] },
    { name: 'every job ran, one failed', counters: { total: 3, succeeded: 2, failures: 1 }, due: ['complete'] },
    { name: 'every job ran, one dead', counters: { total: 3, succeeded: 2, failures: 1, dead: 1 }, due: ['complete', 'death'] },
    { name: 'a job dead while others are pending', counters: { total: 3, pending: 2, failures: 1, dead: 1 }, due: ['death'] },
    { name: 'a fill still open (or the batch not sealed yet)', counters: { total: 3, succeeded: 3, open: 1 }, due: [] },
    { name: 'a child not complete yet', counters: { total: 1, succeeded: 1, children: 2, children_complete: 1, children_succeeded: 1 }, due: [] },
    { name: 'children complete, one failed', counters: { total: 1, succeeded: 1, children: 2, children_complete: 2, children_succeeded: 1 }, due: ['complete'] },
    { name: 'only children, all succeeded', counters: { children: 2, children_complete: 2, children_succeeded: 2 }, due: ['complete', 'success'] },
    { name: 'a child with a dead job', counters: { children: 1, children_dead: 1 }, due: ['death'] },
  ] as const)('$name → $due', ({ counters, due }) => {
    expect(dueEvents(state(counters))).toEqual(due);
  });

  it('never lists an event claimed before', () => {
    const claimed = state({ total: 3, succeeded: 2, failures: 1, dead: 1 }, { claimedAt: { complete: '2026-11-22T12:01:00.000Z', death: '2026-11-22T12:00:30.000Z' } });

    expect(dueEvents(claimed)).toEqual([]);
  });

  it('treats a pending count gone negative as no pending, never as more work', () => {
    expect(isComplete({ ...ZERO, total: 2, pending: -1, succeeded: 3 })).toBe(true);
    expect(isSuccess({ ...ZERO, total: 2, succeeded: 2, failures: 1 })).toBe(false);
  });
});

describe('eventsClaimedBetween', () => {
  it('lists the events whose claim the write made', () => {
    const before = state({ total: 1, succeeded: 1 });
    const after = state({ total: 1, succeeded: 1 }, { claimedAt: { complete: 't', success: 't' } });

    expect(eventsClaimedBetween(before, after)).toEqual(['complete', 'success']);
    expect(eventsClaimedBetween(after, after)).toEqual([]);
  });
});

describe('callbackJob', () => {
  const done = state({ total: 50, succeeded: 47, failures: 3, dead: 1 }, {
    description: 'import 42',
    callbacks: { complete: { jobtype: 'ImportDone', args: [42], queue: 'critical', custom: { bid: 'not-mine', tenant: 'acme' } } },
  });

  it('has a fixed jid, the batch status first, the callback args after, and names its batch and event', () => {
    expect(callbackJob(done, 'complete')).toEqual({
      jobtype: 'ImportDone',
      queue: 'critical',
      jid: 'b1-complete',
      args: [{ bid: 'b1', event: 'complete', description: 'import 42', total: 50, pending: 0, succeeded: 47, failures: 3, dead: 1, children: 0, created_at: '2026-11-22T12:00:00.000Z' }, 42],
      custom: { tenant: 'acme', callback: { bid: 'b1', event: 'complete' } },
    });
    expect(callbackJid('b1', 'success')).toBe('b1-success');
  });

  it('belongs to the parent batch when the claim added it there', () => {
    const child = { ...done, parent: 'p1', callbackParent: { complete: 'p1' } };

    expect(callbackJob(child, 'complete')?.custom).toEqual({ tenant: 'acme', bid: 'p1', callback: { bid: 'b1', event: 'complete' } });
    expect(callbackJob(child, 'complete')?.args?.[0]).toMatchObject({ parent_bid: 'p1' });
  });

  it('is undefined for an event without a callback', () => {
    expect(callbackJob(done, 'success')).toBeUndefined();
  });

  it('gives a handler the status and the callback\'s own args back, as batchCallbackArgs reads them', () => {
    const args = callbackJob(done, 'complete')?.args ?? [];

    expect(batchCallbackArgs(args)).toEqual({
      status: { bid: 'b1', event: 'complete', description: 'import 42', total: 50, pending: 0, succeeded: 47, failures: 3, dead: 1, children: 0, created_at: '2026-11-22T12:00:00.000Z' },
      args: [42],
    });
    expect(() => batchCallbackArgs([42])).toThrow(UnrecoverableJobError);
    expect(() => batchCallbackArgs([{ bid: 'b1', event: 'finished', total: 1 }])).toThrow('args[0] is not a batch status: this job is not a batch callback (a callback receives [status, ...its args])');
  });
});

describe('readBatchItem', () => {
  it('reads counters, callbacks, claims and children from an item', () => {
    const read = readBatchItem({
      bid: { S: 'b1' }, created_at: { S: 'c' }, total: { N: '2' }, pending: { N: '1' }, succeeded: { N: '1' },
      callbacks: { S: '{"success":{"jobtype":"Done"},"bogus":{"jobtype":"X"}}' },
      complete_at: { S: 't1' }, complete_sent_at: { S: 't2' }, success_parent: { S: 'p' }, child_bids: { SS: ['c2', 'c1'] },
    });

    expect(read).toMatchObject({
      bid: 'b1',
      counters: { ...ZERO, total: 2, pending: 1, succeeded: 1 },
      callbacks: { success: { jobtype: 'Done' } },
      claimedAt: { complete: 't1' },
      sentAt: { complete: 't2' },
      callbackParent: { success: 'p' },
      childBids: ['c1', 'c2'],
    });
    expect(readBatchItem({ pk: { S: 'batch#x' } })).toBeUndefined();
  });

  it('reads a batch as sealed unless it says it is not (batches from before sealing are sealed)', () => {
    const sealedOf = (item: Parameters<typeof readBatchItem>[0]) => readBatchItem({ bid: { S: 'b1' }, ...item })?.sealed;
    expect([sealedOf({ sealed: { BOOL: false } }), sealedOf({ sealed: { BOOL: true } }), sealedOf({})]).toEqual([false, true, true]);
  });
});
