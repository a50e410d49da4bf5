import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { BatchFinishedError, BatchNotFoundError } from '../../lib/errors/batch.js';
import type { BatchState, Counter } from '../../lib/batch/model.js';
import { paddedSequence, registrationsOf } from '../../lib/batch/plan.js';
import { BatchStore } from '../../lib/batch/store.js';
import { ScriptedDynamo, cancelled, conditionFailed } from './state-fake.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function setup() {
  const dynamo = new ScriptedDynamo();
  const store = new BatchStore({ tableName: 'state', client: dynamo, now: () => NOW, random: () => 0 });
  const transactions = () => dynamo.transactions();
  return { dynamo, store, transactions };
}

const OK = 'None';

describe('BatchStore.record', () => {
  it('writes one conditional update per job, no transaction and no batch item', async () => {
    const { dynamo, store, transactions } = setup();

    const result = await store.record('b1', [{ jid: 'j1', to: 'succeeded' }, { jid: 'j2', to: 'succeeded' }, { jid: 'j1', to: 'succeeded' }]);

    expect(result).toEqual({ applied: [{ jid: 'j1', to: 'succeeded' }, { jid: 'j2', to: 'succeeded' }], ignored: [] });
    expect(transactions()).toEqual([]);
    expect(dynamo.sentOf(UpdateItemCommand).map((command) => command.input.Key?.sk)).toEqual([{ S: 'job#j1' }, { S: 'job#j2' }]);
  });

  it('ignores the same success delivered twice, with the status DynamoDB returned', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(conditionFailed({ status: { S: 'succeeded' } }));

    const result = await store.record('b1', [{ jid: 'j1', to: 'succeeded' }]);

    expect(result).toEqual({ applied: [], ignored: [{ jid: 'j1', status: 'succeeded' }] });
  });

  it('waits out throttling, then gives up with a typed error', async () => {
    const { dynamo, store } = setup();
    const throttled = () => ({ error: Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }) });
    dynamo.script.push(throttled());
    expect((await store.record('b1', [{ jid: 'j1', to: 'succeeded' }])).applied).toHaveLength(1);

    for (let i = 0; i < 8; i += 1) dynamo.script.push(throttled());
    await expect(store.record('b1', [{ jid: 'j2', to: 'succeeded' }])).rejects.toMatchObject({ name: 'BatchContentionError', bid: 'b1', attempts: 8 });
  });

  it('rethrows what is neither a failed condition nor throttling', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push({ error: Object.assign(new Error('bad'), { name: 'ValidationException' }) });

    await expect(store.record('b1', [{ jid: 'j1', to: 'succeeded' }])).rejects.toMatchObject({ name: 'ValidationException' });
  });
});

describe('BatchStore.register', () => {
  it('counts a new registration with its add item, one transaction per 1,000 jobs', async () => {
    const { store, transactions } = setup();

    const result = await store.register('b1', Array.from({ length: 1_200 }, (_, i) => `j${i}`));

    expect(result.added).toHaveLength(1_200);
    expect(transactions().map((items) => items[0]?.Update?.ExpressionAttributeValues?.[':c_total'])).toEqual([{ N: '1000' }, { N: '200' }]);
  });

  it('counts nothing for jobs registered before, and counts again those taken out as unsent', async () => {
    const { dynamo, store, transactions } = setup();
    dynamo.script.push(cancelled(OK, { item: { v: { N: '1' }, unsent: { SS: ['j1'] } } }));

    const result = await store.register('b1', ['j0', 'j1']);

    expect(result).toEqual({ added: ['j1'], alreadyIn: ['j0'] });
    expect(transactions()[1]?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_total': { N: '1' }, ':c_pending': { N: '1' } });
    expect(transactions()[1]?.[1]?.Update?.ExpressionAttributeValues).toMatchObject({ ':v': { N: '1' }, ':jids': { SS: ['j1'] } });
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
    dynamo.script.push(cancelled({ item: { bid: { S: 'b1' }, success_at: { S: 't' } } }, { item: { v: { N: '0' } } }));

    await expect(store.register('b1', ['j1'])).resolves.toEqual({ added: [], alreadyIn: ['j1'] });
  });
});

describe('BatchStore.unregister', () => {
  it('takes the unsent jobs of their registration out, planning again from the version DynamoDB returned', async () => {
    const { dynamo, store, transactions } = setup();
    // Another caller took j1 out first (version 1): only j2 is left to move.
    dynamo.script.push(cancelled(OK, { item: { v: { N: '1' }, unsent: { SS: ['j1'] } } }));

    await store.unregister('b1', ['j0', 'j1', 'j2'], ['j1', 'j2']);

    const [first, second] = transactions();
    expect(first?.[1]?.Update?.Key?.sk).toEqual({ S: `add#${registrationsOf(['j0', 'j1', 'j2'])[0]?.digest}` });
    expect(first?.[1]?.Update?.ExpressionAttributeValues).toMatchObject({ ':v': { N: '0' }, ':jids': { SS: ['j1', 'j2'] } });
    expect(second?.[0]?.Update?.ExpressionAttributeValues).toEqual({ ':c_total': { N: '-1' }, ':c_pending': { N: '-1' } });
    expect(second?.[1]?.Update?.ExpressionAttributeValues).toMatchObject({ ':v': { N: '1' }, ':jids': { SS: ['j2'] } });
  });
});

describe('BatchStore.tally', () => {
  const entry = (sequence: number, deltas: Partial<Record<Counter, number>>, guard = 'tallied_seq_3') => ({ sequenceNumber: String(sequence).padStart(21, '0'), guard, deltas });

  it('counts the records in with one update', async () => {
    const { dynamo, store } = setup();

    await expect(store.tally('b1', [entry(5, { pending: -1, succeeded: 1 }), entry(9, { pending: -1, failures: 1 })])).resolves.toEqual({ counted: 2, batchMissing: false });

    const [update] = dynamo.sentOf(UpdateItemCommand);
    expect(update?.input.ExpressionAttributeValues).toMatchObject({ ':c_pending': { N: '-2' }, ':c_succeeded': { N: '1' }, ':c_failures': { N: '1' }, ':last0': { S: paddedSequence('9') } });
    expect(update?.input.ExpressionAttributeNames).toMatchObject({ '#seq0': 'tallied_seq_3' });
  });

  it('guards each shard of the job items by its own sequence numbers, in one update', async () => {
    const { dynamo, store } = setup();
    // Shard 4's record 6 was counted; shard 3's records and shard 4's record 8 were not.
    dynamo.script.push(conditionFailed({ bid: { S: 'b1' }, tallied_seq_3: { S: paddedSequence('2') }, tallied_seq_4: { S: paddedSequence('6') } }));

    await expect(store.tally('b1', [entry(5, { succeeded: 1 }), entry(6, { succeeded: 1 }, 'tallied_seq_4'), entry(7, { failures: 1 }), entry(8, { succeeded: 1 }, 'tallied_seq_4')])).resolves.toEqual({ counted: 3, batchMissing: false });

    const [first, retried] = dynamo.sentOf(UpdateItemCommand).map((command) => command.input);
    expect(first?.ExpressionAttributeNames).toMatchObject({ '#seq0': 'tallied_seq_3', '#seq1': 'tallied_seq_4' });
    expect(first?.ExpressionAttributeValues).toMatchObject({ ':first0': { S: paddedSequence('5') }, ':last0': { S: paddedSequence('7') }, ':first1': { S: paddedSequence('6') }, ':last1': { S: paddedSequence('8') }, ':c_succeeded': { N: '3' } });
    expect(retried?.ExpressionAttributeValues).toMatchObject({ ':first1': { S: paddedSequence('8') }, ':c_succeeded': { N: '2' }, ':c_failures': { N: '1' } });
  });

  it('drops records an earlier delivery counted, from the sequence number DynamoDB returned', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(conditionFailed({ bid: { S: 'b1' }, tallied_seq_3: { S: paddedSequence('7') } }));

    await expect(store.tally('b1', [entry(5, { succeeded: 1 }), entry(7, { succeeded: 1 }), entry(9, { failures: 1 })])).resolves.toEqual({ counted: 1, batchMissing: false });

    const retried = dynamo.sentOf(UpdateItemCommand)[1]?.input;
    expect(retried?.ExpressionAttributeValues).toMatchObject({ ':c_failures': { N: '1' }, ':first0': { S: paddedSequence('9') } });
    expect(retried?.ExpressionAttributeValues?.[':c_succeeded']).toBeUndefined();
  });

  it('writes nothing more when every record was counted, and tells a batch that is gone', async () => {
    const { dynamo, store } = setup();
    dynamo.script.push(conditionFailed({ bid: { S: 'b1' }, tallied_seq_3: { S: paddedSequence('9') } }));
    await expect(store.tally('b1', [entry(9, { succeeded: 1 })])).resolves.toEqual({ counted: 0, batchMissing: false });
    expect(dynamo.sentOf(UpdateItemCommand)).toHaveLength(1);

    dynamo.script.push(conditionFailed());
    await expect(store.tally('b1', [entry(10, { succeeded: 1 })])).resolves.toEqual({ counted: 0, batchMissing: true });
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
