/**
 * Recent batches, newest first, read from the state table's `recent` index (lib/storage/keys.ts):
 * one day's partition at a time, from the day of the cursor (or today) back to the oldest day a
 * batch can still exist. A page's cursor is the index sort key of its last batch, so the next page
 * starts right after it, on its day.
 */
import type { AttributeValue, QueryCommand, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { batchKey, RECENT_BATCHES, recentBatchKeys, recentBatchesDay, timeSortKeyBound } from '../storage/keys.js';

/** A batch as the index lists it. */
export interface RecentBatch {
  readonly bid: string;
  /** Epoch ms of its creation. */
  readonly createdMs: number;
  readonly description?: string;
  readonly parent?: string;
}

/** Options of {@link listRecentBatches}. */
export interface RecentBatchesOptions {
  /** Batches per page. */
  readonly limit: number;
  /** The previous page's cursor. @default - from the newest */
  readonly cursor?: string;
  /** Only batches whose bid or description contains this text (case-sensitive, as DynamoDB's `contains`). */
  readonly text?: string;
  readonly nowMs: number;
  /** Days a batch is kept: older days' partitions are not read. */
  readonly retentionDays: number;
  /** Day partitions read at most per page; a page that stops there returns a cursor. @default 40 */
  readonly maxQueries?: number;
}

/** What the index's Query needs; a `DynamoDBClient` satisfies it. */
export interface RecentBatchesClient {
  send(command: QueryCommand): Promise<QueryCommandOutput>;
}

/**
 * A cursor is the index sort key of the page's last batch, `<13-digit ms>#<bid>` (go on after it),
 * or `<13-digit ms>` (go on from the newest batch of that day, when a page stopped between days).
 */
const CURSOR = /^(\d{13})(?:#([A-Za-z0-9][A-Za-z0-9._:-]{0,127}))?$/;

/** Whether `cursor` is one {@link listRecentBatches} returned. */
export function isRecentBatchesCursor(cursor: string): boolean {
  return CURSOR.test(cursor);
}

const DAY_MS = 86_400_000;

/** A page of recent batches, newest first; `cursor` when there may be more. */
export async function listRecentBatches(client: RecentBatchesClient, tableName: string, options: RecentBatchesOptions): Promise<{ batches: RecentBatch[]; cursor?: string }> {
  const { QueryCommand: Query } = await import('@aws-sdk/client-dynamodb');
  const match = options.cursor === undefined ? undefined : CURSOR.exec(options.cursor);
  if (options.cursor !== undefined && match === null) throw new Error(`not a cursor of recent batches: ${options.cursor}`);
  const oldestDay = Math.floor((options.nowMs - options.retentionDays * DAY_MS) / DAY_MS) * DAY_MS;
  let dayMs = Math.floor((match?.[1] === undefined ? options.nowMs : Number(match[1])) / DAY_MS) * DAY_MS;
  let start: Record<string, AttributeValue> | undefined = match?.[1] === undefined || match[2] === undefined ? undefined : startKey(match[2], Number(match[1]));
  const batches: RecentBatch[] = [];
  const maxQueries = options.maxQueries ?? 40;
  for (let queries = 0; queries < maxQueries && dayMs >= oldestDay; queries += 1) {
    const text = options.text === undefined || options.text === '' ? undefined : options.text;
    const output = await client.send(new Query({
      TableName: tableName,
      IndexName: RECENT_BATCHES.indexName,
      KeyConditionExpression: '#pk = :day',
      ...(text === undefined
        ? { ExpressionAttributeNames: { '#pk': RECENT_BATCHES.partitionKey }, ExpressionAttributeValues: { ':day': { S: recentBatchesDay(dayMs) } } }
        : {
          FilterExpression: 'contains(#bid, :text) OR contains(#description, :text)',
          ExpressionAttributeNames: { '#pk': RECENT_BATCHES.partitionKey, '#bid': 'bid', '#description': 'description' },
          ExpressionAttributeValues: { ':day': { S: recentBatchesDay(dayMs) }, ':text': { S: text } },
        }),
      ScanIndexForward: false,
      Limit: options.limit - batches.length,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }));
    for (const item of output.Items ?? []) {
      const batch = recentBatchOf(item);
      if (batch !== undefined) batches.push(batch);
    }
    const last = batches.at(-1);
    if (batches.length >= options.limit && last !== undefined) return { batches, cursor: recentBatchKeys(last.bid, last.createdMs).rsk };
    if (output.LastEvaluatedKey !== undefined) {
      start = output.LastEvaluatedKey;
      continue;
    }
    start = undefined;
    dayMs -= DAY_MS;
  }
  // Stopped at the query budget with days left: the next page goes on where this one stopped.
  if (dayMs < oldestDay) return { batches };
  const from = start?.[RECENT_BATCHES.sortKey]?.S;
  return { batches, cursor: from !== undefined && CURSOR.test(from) ? from : timeSortKeyBound(dayMs) };
}

/** The index's ExclusiveStartKey after the batch `bid` created at `createdMs`. */
function startKey(bid: string, createdMs: number): Record<string, AttributeValue> {
  const key = batchKey(bid);
  const recent = recentBatchKeys(bid, createdMs);
  return { pk: { S: key.pk }, sk: { S: key.sk }, [RECENT_BATCHES.partitionKey]: { S: recent.rpk }, [RECENT_BATCHES.sortKey]: { S: recent.rsk } };
}

function recentBatchOf(item: Record<string, AttributeValue>): RecentBatch | undefined {
  const match = CURSOR.exec(item[RECENT_BATCHES.sortKey]?.S ?? '');
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return {
    bid: match[2],
    createdMs: Number(match[1]),
    ...(item.description?.S === undefined ? {} : { description: item.description.S }),
    ...(item.parent?.S === undefined ? {} : { parent: item.parent.S }),
  };
}
