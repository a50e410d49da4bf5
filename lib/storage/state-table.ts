/**
 * DynamoDB access to the sorted sets of the state table (scheduled, retry, dead). Keys come from
 * lib/storage/keys.ts, items from ./set-items.ts.
 *
 * This module loads the DynamoDB SDK: code on a worker's path imports it lazily
 * (`await import('./storage/state-table')`) so that plain jobs never pay for it.
 */
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type BatchWriteItemCommandOutput,
  type DeleteItemCommandOutput,
  type PutItemCommandOutput,
  type QueryCommandOutput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { dynamoClientOf } from '../aws/clients.js';
import type { HopperConfig } from '../config/hopper-config.js';
import type { Job } from '../job/model.js';
import { setEntryKey, setPartitionKey, setPartitionKeys, timeSortKeyBound, type ItemKey, type SortedSetName } from './keys.js';
import { conditionFailureItem, isConditionFailure } from './conditions.js';
import { mergeSorted } from './merge.js';
import { entryJid, fromItem, toItem, type Item, type NewSetEntry, type SetEntry } from './set-items.js';

/** The commands this module sends; a `DynamoDBClient` satisfies it, and so does a test fake. */
export interface DynamoCommands {
  send(command: PutItemCommand): Promise<PutItemCommandOutput>;
  send(command: QueryCommand): Promise<QueryCommandOutput>;
  send(command: DeleteItemCommand): Promise<DeleteItemCommandOutput>;
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
  send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput>;
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

/** Bounds of a streaming read ({@link StateTable.streamSetRange}). */
export interface StreamSetOptions {
  /** Earliest entry time, inclusive. @default 0 */
  readonly fromMs?: number;
  /** Entry time bound, exclusive. @default - no bound */
  readonly untilMs?: number;
  /** Start after this sort key (a page cursor); meaningful when one set is read. @default - from the start */
  readonly after?: string;
  /** Items asked of DynamoDB per query, per shard. Between 1 and 1000. @default 100 */
  readonly pageSize?: number;
}

/** A claim on a sorted-set entry: who holds it, and until when. */
export interface Claim {
  /** Identifies the holder (one sweep invocation, one admin call). */
  readonly owner: string;
  /** The holder's clock: a claim whose `claimed_until` is before this has lapsed. */
  readonly nowMs: number;
  /** When the claim lapses if its holder never finishes (crashed). */
  readonly untilMs: number;
}

/** What {@link StateTable.claimSetEntry} found. */
export type ClaimResult =
  | { readonly status: 'claimed'; readonly entry: SetEntry }
  /** Another holder's claim has not lapsed: it is moving the entry. */
  | { readonly status: 'busy'; readonly entry: SetEntry }
  /** The entry is no longer there (moved or deleted). */
  | { readonly status: 'gone' };

/** The condition under which {@link StateTable.deleteSetEntry} deletes. */
export type DeleteCondition =
  /** The entry exists. */
  | { readonly kind: 'exists' }
  /** `owner` still holds the claim on it (a mover deleting what it sent). */
  | { readonly kind: 'claimed-by'; readonly owner: string };

/** One page of a range read. */
export interface SetPage {
  readonly entries: readonly SetEntry[];
  /** Pass as `after` to read the next page; absent when this page is the last. */
  readonly cursor?: string;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** BatchWriteItem's most requests per call. */
const BATCH_WRITE_MAX = 25;
/** Calls of BatchWriteItem for one chunk: the first and its retries of unprocessed items. */
const BATCH_WRITE_ATTEMPTS = 5;
/** First pause before retrying unprocessed items, doubled each time (AWS's advice: back off). */
const BATCH_WRITE_BACKOFF_MS = 50;

/**
 * The state table's sorted sets.
 *
 * @example
 * const table = await stateTableOf();
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
   * Deletes one entry if it is still there and `condition` holds.
   *
   * @returns the deleted entry, or undefined when it was gone or the condition did not hold.
   */
  async deleteSetEntry(set: SortedSetName, key: ItemKey, condition: DeleteCondition = { kind: 'exists' }): Promise<SetEntry | undefined> {
    try {
      const output = await this.client.send(new DeleteItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        ...deleteCondition(condition),
        ReturnValues: 'ALL_OLD',
      }));
      return output.Attributes === undefined ? undefined : fromItem(set, output.Attributes);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Deletes entries unconditionally, 25 to a BatchWriteItem call, the calls in parallel, retrying
   * what DynamoDB leaves unprocessed with a growing pause. What a sweep does with the entries it
   * has sent: a delete is billed by the size of the item it removes whether or not it carries a
   * condition, and one call removes 25.
   *
   * @returns the keys that could not be deleted (still there, as far as this call knows).
   */
  async deleteSetEntries(keys: readonly ItemKey[]): Promise<ItemKey[]> {
    const chunks: ItemKey[][] = [];
    for (let start = 0; start < keys.length; start += BATCH_WRITE_MAX) chunks.push(keys.slice(start, start + BATCH_WRITE_MAX));
    const left = await Promise.all(chunks.map((chunk) => this.deleteChunk(chunk)));
    return left.flat();
  }

  private async deleteChunk(chunk: readonly ItemKey[]): Promise<ItemKey[]> {
    let pending: readonly ItemKey[] = chunk;
    for (let attempt = 0; attempt < BATCH_WRITE_ATTEMPTS && pending.length > 0; attempt += 1) {
      if (attempt > 0) await pause(BATCH_WRITE_BACKOFF_MS * 2 ** (attempt - 1));
      let output: BatchWriteItemCommandOutput;
      try {
        output = await this.client.send(new BatchWriteItemCommand({
          RequestItems: { [this.tableName]: pending.map((key) => ({ DeleteRequest: { Key: { pk: { S: key.pk }, sk: { S: key.sk } } } })) },
        }));
      } catch {
        // The SDK has retried the call itself already; what it could not do stays for the next sweep.
        return [...pending];
      }
      pending = (output.UnprocessedItems?.[this.tableName] ?? []).flatMap((request) => {
        const key = request.DeleteRequest?.Key;
        const pk = key?.pk?.S;
        const sk = key?.sk?.S;
        return pk === undefined || sk === undefined ? [] : [{ pk, sk }];
      });
    }
    return [...pending];
  }

  /**
   * Claims one entry for `claim.owner` unless another holder's claim is still running. The first
   * step of every move out of a set: claim, send, then delete on the claim, so that two movers
   * never both send an entry and a mover that crashes leaves it to be claimed again once the claim
   * lapses.
   */
  async claimSetEntry(set: SortedSetName, key: ItemKey, claim: Claim): Promise<ClaimResult> {
    try {
      const output = await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: 'SET claimed_until = :until, claimed_by = :owner',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)',
        ExpressionAttributeValues: { ':until': { N: String(claim.untilMs) }, ':owner': { S: claim.owner }, ':now': { N: String(claim.nowMs) } },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      const entry = output.Attributes === undefined ? undefined : fromItem(set, output.Attributes);
      return entry === undefined ? { status: 'gone' } : { status: 'claimed', entry };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = conditionFailureItem(error);
      const entry = old === undefined ? undefined : fromItem(set, old);
      return entry === undefined ? { status: 'gone' } : { status: 'busy', entry };
    }
  }

  /**
   * Gives up `owner`'s claim (the move failed), so that the next mover need not wait for it to
   * lapse. Does nothing when the claim is no longer `owner`'s or the entry is gone.
   */
  async releaseClaim(key: ItemKey, owner: string): Promise<void> {
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: 'REMOVE claimed_until, claimed_by',
        ConditionExpression: 'claimed_by = :owner',
        ExpressionAttributeValues: { ':owner': { S: owner } },
      }));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Streams the entries of `sets` in time order, merging every shard of every set while reading
   * each shard one page at a time: a reader that stops after N entries has read about N items,
   * not a page from every shard for each page it uses.
   */
  async *streamSetRange(sets: readonly SortedSetName[], options: StreamSetOptions = {}): AsyncGenerator<SetEntry> {
    const pageSize = checkedPageSize(options.pageSize);
    const bounds = rangeBounds(options);
    if (bounds.lower !== undefined && bounds.upper !== undefined && bounds.lower > bounds.upper) return;
    const shards = sets.flatMap((set) => setPartitionKeys(set).map((pk) => this.shardEntries(set, pk, bounds, pageSize, options.after)));
    yield* mergeSorted(shards, (a, b) => (a.key.sk < b.key.sk ? -1 : a.key.sk > b.key.sk ? 1 : 0));
  }

  /**
   * Reads one page of one shard of `set` in time order: at most `limit` entries from `after` (or the
   * start) within the bounds, and the cursor to continue from when DynamoDB says more may follow.
   */
  async readShardPage(set: SortedSetName, shard: number, options: StreamSetOptions & { readonly limit: number }): Promise<SetPage> {
    const limit = checkedPageSize(options.limit);
    const bounds = rangeBounds(options);
    if (bounds.lower !== undefined && bounds.upper !== undefined && bounds.lower > bounds.upper) return { entries: [] };
    // The cursor entry itself matches the inclusive bound: ask for one more and drop it.
    const page = await this.shardPage(set, setPartitionKey(set, shard), bounds, limit + (options.after === undefined ? 0 : 1), undefined, options.after);
    const entries = page.entries.slice(0, limit);
    const last = entries.at(-1);
    return page.next !== undefined && last !== undefined ? { entries, cursor: last.key.sk } : { entries };
  }

  /**
   * Streams the entries of one shard of `set` in time order, one page at a time: what a sweep
   * reads when it works through the shards side by side instead of merging them.
   */
  async *streamShardRange(set: SortedSetName, shard: number, options: StreamSetOptions = {}): AsyncGenerator<SetEntry> {
    const pageSize = checkedPageSize(options.pageSize);
    const bounds = rangeBounds(options);
    if (bounds.lower !== undefined && bounds.upper !== undefined && bounds.lower > bounds.upper) return;
    yield* this.shardEntries(set, setPartitionKey(set, shard), bounds, pageSize, options.after);
  }

  private async *shardEntries(set: SortedSetName, pk: string, bounds: Bounds, pageSize: number, after: string | undefined): AsyncGenerator<SetEntry> {
    let start: Item | undefined;
    do {
      const page = await this.shardPage(set, pk, bounds, pageSize, start, after);
      yield* page.entries;
      start = page.next;
    } while (start !== undefined);
  }

  /** One query of a shard in time order: its entries (but the one at `after`) and where the next page starts. */
  private async shardPage(set: SortedSetName, pk: string, bounds: Bounds, limit: number, start: Item | undefined, after: string | undefined): Promise<{ readonly entries: SetEntry[]; readonly next?: Item }> {
    const output = await this.client.send(new QueryCommand({
      TableName: this.tableName,
      ...keyCondition(pk, bounds),
      Limit: limit,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }));
    const entries = (output.Items ?? [])
      .map((item) => fromItem(set, item))
      .filter((entry): entry is SetEntry => entry !== undefined && entry.key.sk !== after);
    return output.LastEvaluatedKey === undefined ? { entries } : { entries, next: output.LastEvaluatedKey };
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
 * The state table named by `HOPPER_STATE_TABLE`, with a DynamoDB client for `config` (loaded on
 * first call).
 */
export async function stateTableOf(config: HopperConfig): Promise<StateTable> {
  const tableName = config.stateTable;
  return new StateTable(await dynamoClientOf(config), tableName);
}

function checkedPageSize(pageSize: number = DEFAULT_LIMIT): number {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_LIMIT) {
    throw new RangeError(`pageSize must be an integer from 1 to ${MAX_LIMIT}, but ${pageSize} was provided`);
  }
  return pageSize;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function deleteCondition(condition: DeleteCondition): { ConditionExpression: string; ExpressionAttributeValues?: Item } {
  switch (condition.kind) {
    case 'exists':
      return { ConditionExpression: 'attribute_exists(pk)' };
    case 'claimed-by':
      return { ConditionExpression: 'claimed_by = :owner', ExpressionAttributeValues: { ':owner': { S: condition.owner } } };
  }
}

/** Inclusive sort-key bounds of a read. */
interface Bounds {
  readonly lower?: string;
  readonly upper?: string;
}

function rangeBounds(options: ReadSetOptions | StreamSetOptions): Bounds {
  // `timeSortKeyBound(t)` is the bare 13-digit time: it sorts before every `<t>#<jid>` key, so as
  // an inclusive upper bound it excludes time t itself, which makes `untilMs` exclusive.
  let lower = options.fromMs === undefined ? undefined : timeSortKeyBound(options.fromMs);
  let upper = options.untilMs === undefined ? undefined : timeSortKeyBound(options.untilMs);
  const after = options.after;
  if (after !== undefined) {
    if ('newestFirst' in options && options.newestFirst === true) upper = upper === undefined || after < upper ? after : upper;
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
