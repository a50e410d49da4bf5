/**
 * DynamoDB access to the sorted sets of the state table (scheduled, retry, dead). Keys come from
 * lib/keys.ts, items from ./set-items.ts.
 *
 * This module loads the DynamoDB SDK: code on a worker's path imports it lazily
 * (`await import('./storage/state-table')`) so that plain jobs never pay for it.
 */
import {
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  type DeleteItemCommandOutput,
  type PutItemCommandOutput,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { dynamoClientFromEnv } from '../aws';
import { ENV, requireEnv, type Env } from '../env';
import type { Job } from '../job';
import { setEntryKey, setPartitionKeys, timeSortKeyBound, type ItemKey, type SortedSetName } from '../keys';
import { entryJid, fromItem, toItem, type Item, type NewSetEntry, type SetEntry } from './set-items';

/** The commands this module sends; a `DynamoDBClient` satisfies it, and so does a test fake. */
export interface DynamoCommands {
  send(command: PutItemCommand): Promise<PutItemCommandOutput>;
  send(command: QueryCommand): Promise<QueryCommandOutput>;
  send(command: DeleteItemCommand): Promise<DeleteItemCommandOutput>;
}

/** Bounds of a range read. */
export interface ReadSetOptions {
  /** Earliest entry time, inclusive. @default 0 */
  readonly fromMs?: number;
  /** Entry time bound, exclusive (the scheduler reads "due before now + 1 min"). @default - no bound */
  readonly untilMs?: number;
  /** Most entries returned. Between 1 and 1000. @default 100 */
  readonly limit?: number;
  /** Continue after this entry: the `cursor` of the previous page. @default - from the start */
  readonly after?: string;
  /** Newest first (the dead set is shown this way). @default false */
  readonly newestFirst?: boolean;
}

/** One page of a range read. */
export interface SetPage {
  readonly entries: readonly SetEntry[];
  /** Pass as `after` to read the next page; absent when this page is the last. */
  readonly cursor?: string;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * The state table's sorted sets.
 *
 * @example
 * const table = await stateTableFromEnv();
 * const { entries } = await table.readSetRange('dead', { limit: 50, newestFirst: true });
 */
export class StateTable {
  constructor(
    private readonly client: DynamoCommands,
    /** Name of the DynamoDB table. */
    readonly tableName: string,
  ) {}

  /**
   * Writes one entry. Idempotent: the key and the item are functions of the entry, so writing the
   * same entry twice leaves one identical item.
   *
   * @returns the entry's primary key.
   */
  async putSetEntry(set: SortedSetName, entry: NewSetEntry): Promise<ItemKey> {
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: toItem(set, entry) }));
    return setEntryKey(set, entry.epochMs, entryJid(entry));
  }

  /** Keeps `job` in the scheduled set until `dueMs` (what the client does for far-off jobs). */
  async putScheduled(job: Job, dueMs: number): Promise<void> {
    await this.putSetEntry('scheduled', { job, epochMs: dueMs });
  }

  /**
   * Reads entries of `set` in time order, merging its shards: one query per shard, each asking for
   * at most `limit` items, so a page costs one request per shard.
   */
  async readSetRange(set: SortedSetName, options: ReadSetOptions = {}): Promise<SetPage> {
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}, but ${limit} was provided`);
    }
    const newestFirst = options.newestFirst === true;
    const bounds = rangeBounds(options);
    // DynamoDB rejects BETWEEN with bounds the wrong way round; such a range is simply empty.
    if (bounds.lower !== undefined && bounds.upper !== undefined && bounds.lower > bounds.upper) return { entries: [] };
    // The cursor entry itself matches the inclusive bound; ask for one more and drop it.
    const want = limit + (options.after === undefined ? 0 : 1);
    const shards = await Promise.all(setPartitionKeys(set).map((pk) => this.queryShard(pk, bounds, want, newestFirst)));
    const items = shards
      .flat()
      .map((item) => fromItem(set, item))
      .filter((entry): entry is SetEntry => entry !== undefined && entry.key.sk !== options.after);
    items.sort((a, b) => (a.key.sk < b.key.sk ? -1 : a.key.sk > b.key.sk ? 1 : 0) * (newestFirst ? -1 : 1));
    const entries = items.slice(0, limit);
    const last = entries.at(-1);
    return entries.length === limit && last !== undefined ? { entries, cursor: last.key.sk } : { entries };
  }

  /**
   * Deletes one entry if it is still there.
   *
   * @returns the deleted entry, or undefined when it was already gone (another reader moved it).
   */
  async deleteSetEntry(set: SortedSetName, key: ItemKey): Promise<SetEntry | undefined> {
    try {
      const output = await this.client.send(new DeleteItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        ConditionExpression: 'attribute_exists(pk)',
        ReturnValues: 'ALL_OLD',
      }));
      return output.Attributes === undefined ? undefined : fromItem(set, output.Attributes);
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  private async queryShard(pk: string, bounds: Bounds, want: number, newestFirst: boolean): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    // A query page stops at 1 MB; large jobs can make a page shorter than asked, so keep going.
    do {
      const output = await this.client.send(new QueryCommand({
        TableName: this.tableName,
        ...keyCondition(pk, bounds),
        ScanIndexForward: !newestFirst,
        Limit: want - items.length,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }));
      items.push(...(output.Items ?? []));
      start = output.LastEvaluatedKey;
    } while (start !== undefined && items.length < want);
    return items;
  }
}

/**
 * The state table named by `HOPPER_STATE_TABLE`, with a DynamoDB client for `env` (loaded on
 * first call).
 */
export async function stateTableFromEnv(env: Env = process.env): Promise<StateTable> {
  const tableName = requireEnv(env, ENV.stateTable);
  return new StateTable(await dynamoClientFromEnv(env), tableName);
}

/** Inclusive sort-key bounds of a read. */
interface Bounds {
  readonly lower?: string;
  readonly upper?: string;
}

function rangeBounds(options: ReadSetOptions): Bounds {
  // `timeSortKeyBound(t)` is the bare 13-digit time: it sorts before every `<t>#<jid>` key, so as
  // an inclusive upper bound it excludes time t itself, which makes `untilMs` exclusive.
  let lower = options.fromMs === undefined ? undefined : timeSortKeyBound(options.fromMs);
  let upper = options.untilMs === undefined ? undefined : timeSortKeyBound(options.untilMs);
  const after = options.after;
  if (after !== undefined) {
    if (options.newestFirst === true) upper = upper === undefined || after < upper ? after : upper;
    else lower = lower === undefined || after > lower ? after : lower;
  }
  return { ...(lower === undefined ? {} : { lower }), ...(upper === undefined ? {} : { upper }) };
}

function keyCondition(pk: string, bounds: Bounds): {
  KeyConditionExpression: string;
  ExpressionAttributeValues: Item;
} {
  const values: Item = { ':pk': { S: pk } };
  const { lower, upper } = bounds;
  if (lower !== undefined) values[':lower'] = { S: lower };
  if (upper !== undefined) values[':upper'] = { S: upper };
  const skCondition =
    lower !== undefined && upper !== undefined ? ' AND sk BETWEEN :lower AND :upper'
    : lower !== undefined ? ' AND sk >= :lower'
    : upper !== undefined ? ' AND sk <= :upper'
    : '';
  return { KeyConditionExpression: `pk = :pk${skCondition}`, ExpressionAttributeValues: values };
}
