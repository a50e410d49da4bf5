/**
 * Recent batches across days: the listing reads a day's partition newest first, moves to the day
 * before when one ends, resumes from a cursor (a batch, or a day when a page stopped between days),
 * and stops at the retention. Over an in-memory index with the Query semantics it relies on
 * (partition equality, descending sort key, Limit counted before the filter, ExclusiveStartKey).
 */
import type { AttributeValue, QueryCommand, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { listRecentBatches } from '../../lib/batch/recent.js';
import { batchKey, recentBatchKeys } from '../../lib/storage/keys.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 6, 10);

class RecentIndex {
  readonly items: Record<string, AttributeValue>[] = [];
  readonly queried: string[] = [];

  add(bid: string, createdMs: number, description?: string): void {
    const keys = recentBatchKeys(bid, createdMs);
    const key = batchKey(bid);
    this.items.push({ pk: { S: key.pk }, sk: { S: key.sk }, rpk: { S: keys.rpk }, rsk: { S: keys.rsk }, bid: { S: bid }, ...(description === undefined ? {} : { description: { S: description } }) });
  }

  async send(command: QueryCommand): Promise<QueryCommandOutput> {
    const input = command.input;
    const day = input.ExpressionAttributeValues?.[':day']?.S ?? '';
    const text = input.ExpressionAttributeValues?.[':text']?.S;
    const after = input.ExclusiveStartKey?.rsk?.S;
    this.queried.push(day.slice('batches#'.length));
    const inDay = this.items
      .filter((item) => item.rpk?.S === day && (after === undefined || (item.rsk?.S ?? '') < after))
      .sort((a, b) => (b.rsk?.S ?? '').localeCompare(a.rsk?.S ?? ''));
    const evaluated = inDay.slice(0, input.Limit ?? inDay.length);
    const items = evaluated.filter((item) => text === undefined || (item.bid?.S ?? '').includes(text) || (item.description?.S ?? '').includes(text));
    const last = evaluated.at(-1);
    const more = inDay.length > evaluated.length && last !== undefined;
    return { $metadata: {}, Items: items, ...(more ? { LastEvaluatedKey: { pk: last.pk!, sk: last.sk!, rpk: last.rpk!, rsk: last.rsk! } } : {}) };
  }
}

describe('listRecentBatches', () => {
  function indexOfTwoDays() {
    const index = new RecentIndex();
    index.add('today-1', NOW - 3_000, 'import a');
    index.add('today-2', NOW - 2_000, 'export b');
    index.add('yesterday-1', NOW - DAY - 1_000, 'import c');
    index.add('four-days-ago', NOW - 4 * DAY, 'import d');
    return index;
  }

  it('goes newest first from today back over the days, page by page, each batch once', async () => {
    const index = indexOfTwoDays();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listRecentBatches(index, 'state', { limit: 2, nowMs: NOW, retentionDays: 30, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.batches.map((batch) => batch.bid));
      cursor = page.cursor;
    } while (cursor !== undefined);

    expect(seen).toEqual(['today-2', 'today-1', 'yesterday-1', 'four-days-ago']);
  });

  it('keeps what the text matches across days, and stops at the retention', async () => {
    const index = indexOfTwoDays();
    index.add('too-old', NOW - 40 * DAY, 'import e');

    const page = await listRecentBatches(index, 'state', { limit: 10, nowMs: NOW, retentionDays: 30, text: 'import' });

    expect(page).toEqual({ batches: [
      { bid: 'today-1', createdMs: NOW - 3_000, description: 'import a' },
      { bid: 'yesterday-1', createdMs: NOW - DAY - 1_000, description: 'import c' },
      { bid: 'four-days-ago', createdMs: NOW - 4 * DAY, description: 'import d' },
    ] });
    // Today and the 30 days before it, and not one more.
    expect(index.queried).toHaveLength(31);
    expect(index.queried.at(-1)).toBe(new Date(NOW - 30 * DAY).toISOString().slice(0, 10));
  });

  it('returns a day cursor when it stops at its query budget between days, and goes on from that day', async () => {
    const index = indexOfTwoDays();

    const first = await listRecentBatches(index, 'state', { limit: 10, nowMs: NOW, retentionDays: 30, maxQueries: 3 });
    const rest = await listRecentBatches(index, 'state', { limit: 10, nowMs: NOW, retentionDays: 30, maxQueries: 40, ...(first.cursor === undefined ? {} : { cursor: first.cursor }) });

    // Today, yesterday and the day before: three queries, then a cursor naming the next day.
    expect(first.batches.map((batch) => batch.bid)).toEqual(['today-2', 'today-1', 'yesterday-1']);
    expect(first.cursor).toBe(String(Math.floor((NOW - 3 * DAY) / DAY) * DAY).padStart(13, '0'));
    expect(rest).toEqual({ batches: [{ bid: 'four-days-ago', createdMs: NOW - 4 * DAY, description: 'import d' }] });
  });

  it('refuses a cursor it did not make', async () => {
    await expect(listRecentBatches(new RecentIndex(), 'state', { limit: 1, nowMs: NOW, retentionDays: 30, cursor: 'x' })).rejects.toThrow('not a cursor of recent batches: x');
  });
});
