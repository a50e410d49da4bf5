import { describe, expect, it } from 'vitest';
import { BatchContentionError, BatchFinishedError, BatchNotFoundError } from '../../lib/errors/batch.js';
import type { BatchState, Counter } from '../../lib/batch/model.js';
import { BatchStore } from '../../lib/batch/store.js';
import { ScriptedDynamo, cancelled } from './state-fake.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function setup() {
  const dynamo = new ScriptedDynamo();
  const store = new BatchStore({ tableName: 'state', client: dynamo, now: () => NOW, random: () => 0 });
  const transactions = () => dynamo.transactions();
  return { dynamo, store, transactions };
}

const OK = 'None';
const job = (status: string) => ({ item: { pk: { S: 'batch#b1' }, sk: { S: 'job#j1' }, status: { S: status } } });

describe('BatchStore.record', () => {
  it('records a success in one transaction', async () => {
    const { store, transactions } = setup();

    const result = await store.record('b1', [{ jid: 'j1', to: 'succeeded' }, { jid: 'j2', to: 'succeeded' }]);

    expect(result).toEqual({ applied: [{ jid: 'j1', from: 'pending', to: 'succeeded' }, { jid: 'j2', from: 'pending', to: 'succeeded' }], ignored: [], batchMissing: false });
    expect(transactions()).toHaveLength(1);
    expect(transactions()[0]?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_pending': { N: '-2' }, ':c_succeeded': { N: '2' } });
  });

  it('plans again from the status DynamoDB returned when the guess was wrong', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled(OK, job('failed')));

    const result = await store.record('b1', [{ jid: 'j1', to: 'succeeded' }]);

    expect(result.applied).toEqual([{ jid: 'j1', from: 'failed', to: 'succeeded' }]);
    expect(transactions()[1]?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_succeeded': { N: '1' }, ':c_failures': { N: '-1' } });
  });

  it('ignores the same success delivered twice: nothing moves the second time', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled(OK, job('succeeded')));

    const result = await store.record('b1', [{ jid: 'j1', to: 'succeeded' }]);

    expect(result).toEqual({ applied: [], ignored: [{ jid: 'j1', status: 'succeeded' }], batchMissing: false });
    expect(transactions()).toHaveLength(1);
  });

  it('keeps the other jobs of a transaction when one was a duplicate', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled(OK, OK, job('succeeded')));

    const result = await store.record('b1', [{ jid: 'j0', to: 'succeeded' }, { jid: 'j1', to: 'succeeded' }]);

    expect(result.applied.map((change) => change.jid)).toEqual(['j0']);
    expect(transactions()[1]).toHaveLength(2);
  });

  it('ignores a job that is not in the batch, and a batch that is gone', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(cancelled(OK, { item: undefined }));
    expect((await store.record('b1', [{ jid: 'j1', to: 'failed' }])).ignored).toEqual([{ jid: 'j1', status: 'not-in-batch' }]);

    dynamo.script.push(cancelled({ item: undefined }, OK));
    expect((await store.record('b1', [{ jid: 'j1', to: 'failed' }])).batchMissing).toBe(true);
  });

  it('retries a transaction cancelled by a concurrent one, then gives up with a typed error', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled('TransactionConflict', OK));
    expect((await store.record('b1', [{ jid: 'j1', to: 'succeeded' }])).applied).toHaveLength(1);
    expect(transactions()).toHaveLength(2);

    for (let i = 0; i < 8; i += 1) dynamo.script.push(cancelled('TransactionConflict', OK));
    await expect(store.record('b1', [{ jid: 'j2', to: 'succeeded' }])).rejects.toMatchObject({ name: 'BatchContentionError', bid: 'b1', attempts: 8 });
    expect(BatchContentionError.name).toBe('BatchContentionError');
  });

  it('rethrows a cancellation that is neither a condition nor contention', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(cancelled('ValidationError', OK));

    await expect(store.record('b1', [{ jid: 'j1', to: 'succeeded' }])).rejects.toMatchObject({ name: 'TransactionCanceledException' });
  });

  it('sends 99 jobs per transaction', async () => {
    const { store, transactions } = setup();

    await store.record('b1', Array.from({ length: 150 }, (_, i) => ({ jid: `j${i}`, to: 'succeeded' as const })));

    expect(transactions().map((items) => items.length)).toEqual([100, 52]);
  });
});

describe('BatchStore.register', () => {
  it('counts jobs already in the batch once, adding the others', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled(OK, OK, job('pending')));

    const result = await store.register('b1', ['j0', 'j1']);

    expect(result).toEqual({ added: ['j0'], alreadyIn: ['j1'] });
    expect(transactions()[1]?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_total': { N: '1' }, ':c_pending': { N: '1' } });
  });

  it('refuses new jobs for a batch that succeeded or does not exist', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(cancelled({ item: { bid: { S: 'b1' }, success_at: { S: 't' } } }, OK));
    await expect(store.register('b1', ['j9'])).rejects.toBeInstanceOf(BatchFinishedError);

    dynamo.script.push(cancelled({ item: undefined }, OK));
    await expect(store.register('b1', ['j9'])).rejects.toBeInstanceOf(BatchNotFoundError);
  });

  it('accepts adding again jobs that are all in a batch that succeeded (a job that ran twice)', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(cancelled({ item: { bid: { S: 'b1' }, success_at: { S: 't' } } }, job('succeeded')));

    await expect(store.register('b1', ['j1'])).resolves.toEqual({ added: [], alreadyIn: ['j1'] });
  });
});

describe('BatchStore.claim', () => {
  const counters: Record<Counter, number> = { total: 1, pending: 0, succeeded: 1, failures: 0, dead: 0, open: 0, children: 0, children_complete: 0, children_succeeded: 0, children_dead: 0 };
  const state: BatchState = { bid: 'b1', createdAt: 'x', childBids: [], counters, sealed: true, callbacks: {}, claimedAt: {}, sentAt: {}, callbackParent: {} };

  it('claims what an earlier claim left, from the item DynamoDB returned', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled({ item: { bid: { S: 'b1' }, complete_at: { S: 't' } } }));

    await expect(store.claim(state, ['complete', 'success'])).resolves.toEqual(['success']);
    expect(transactions()[1]?.[0]?.Update).toMatchObject({ ExpressionAttributeNames: { '#at0': 'success_at' } });
  });

  it('claims nothing twice', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(cancelled({ item: { bid: { S: 'b1' }, complete_at: { S: 't' }, success_at: { S: 't' } } }));

    await expect(store.claim(state, ['complete', 'success'])).resolves.toEqual([]);
  });

  it('claims without the parent when the parent is gone', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled(OK, { item: undefined }));

    await expect(store.claim({ ...state, parent: 'p1' }, ['complete'])).resolves.toEqual(['complete']);
    expect(transactions().map((items) => items.length)).toEqual([2, 1]);
  });
});
