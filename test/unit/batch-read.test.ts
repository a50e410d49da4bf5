/**
 * `readBatches`: a page of the batch list reads its batches with BatchGetItem (100 keys a request),
 * asking again for what DynamoDB leaves unprocessed.
 */
import type { BatchGetItemCommand, BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { readBatches } from '../../lib/batch/store.js';
import { batchKey } from '../../lib/storage/keys.js';

type Key = { pk: { S: string }; sk: { S: string } };

/** A table of batch items answering BatchGetItem; `throttle` keys are left unprocessed that many times. */
function table(bids: readonly string[], throttle: Map<string, number> = new Map()) {
  const requests: number[] = [];
  return {
    requests,
    async send(command: BatchGetItemCommand): Promise<BatchGetItemCommandOutput> {
      const request = command.input.RequestItems?.jobs;
      const keys = (request?.Keys ?? []) as Key[];
      expect(request?.ConsistentRead).toBe(true);
      requests.push(keys.length);
      const unprocessed: Key[] = [];
      const items = [];
      for (const key of keys) {
        const bid = key.pk.S.replace(/^batch#/, '');
        const left = throttle.get(bid) ?? 0;
        if (left > 0) {
          throttle.set(bid, left - 1);
          unprocessed.push(key);
        } else if (bids.includes(bid)) {
          items.push({ ...key, bid: { S: bid }, created_at: { S: '2026-12-06T08:00:00.000Z' }, total: { N: '2' }, pending: { N: '2' } });
        }
      }
      return { $metadata: {}, Responses: { jobs: items }, ...(unprocessed.length === 0 ? {} : { UnprocessedKeys: { jobs: { Keys: unprocessed } } }) };
    },
  };
}

const noWait = async (): Promise<void> => undefined;

describe('readBatches', () => {
  it('reads 250 bids in three requests of at most 100 keys, leaving out those that do not exist', async () => {
    const bids = Array.from({ length: 250 }, (_, index) => `b${index}`);
    const client = table(bids.filter((_, index) => index % 5 !== 0));

    const found = await readBatches(client, 'jobs', [...bids, 'b1'], noWait);

    expect(client.requests).toEqual([100, 100, 50]);
    expect(found.size).toBe(200);
    expect(found.get('b1')).toMatchObject({ bid: 'b1', createdAt: '2026-12-06T08:00:00.000Z' });
    expect(found.has('b0')).toBe(false);
    expect(batchKey('b1').pk).toBe('batch#b1');
  });

  it('asks again for keys DynamoDB left unprocessed, and fails after five tries', async () => {
    const client = table(['a', 'b'], new Map([['b', 2]]));
    const found = await readBatches(client, 'jobs', ['a', 'b'], noWait);
    expect([...found.keys()].sort()).toEqual(['a', 'b']);
    expect(client.requests).toEqual([2, 1, 1]);

    const stuck = table(['a'], new Map([['a', 99]]));
    await expect(readBatches(stuck, 'jobs', ['a'], noWait)).rejects.toThrow('DynamoDB left 1 batch item(s) of jobs unprocessed after 5 tries');
  });
});
