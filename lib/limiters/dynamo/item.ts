/**
 * Reading limiter items (as DynamoDB returns them in `ALL_OLD`) and writing their attribute values.
 * Items arrive as untyped JSON from a failed conditional write, so they are read as `unknown`
 * and checked attribute by attribute. Pure: no SDK is loaded here.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isRecord } from '../../job/model.js';
import type { BucketState } from '../bucket.js';
import type { EntrySetState } from '../entry-set.js';
import type { GcraState } from '../gcra.js';
import { LIMITER_ATTRIBUTES as A, entryIdOf } from '../keys.js';

/** An item in the low-level attribute-value format, not yet checked. */
export type RawItem = Readonly<Record<string, unknown>>;

/**
 * What a store knows of an item before a write: nothing (`unread`), that it does not exist
 * (`absent`), or its attributes as returned by a failed conditional write.
 */
export type Known = 'unread' | 'absent' | RawItem;

/**
 * How long past the last moment a limiter item matters DynamoDB's TTL waits before it may delete
 * it: a margin for clock skew between callers (TTL deletion itself lags by hours or days).
 */
export const TTL_MARGIN_SECONDS = 3_600;

/** The TTL value (epoch seconds) of an item whose state says nothing after `epochMs`. */
export function ttlAfter(epochMs: number): number {
  return Math.ceil(epochMs / 1000) + TTL_MARGIN_SECONDS;
}

/** A DynamoDB number. Integers only: limiter state is exact. */
export function num(value: number | bigint): AttributeValue {
  return { N: value.toString() };
}

function numberText(item: RawItem, attribute: string): string | undefined {
  const value = item[attribute];
  return isRecord(value) && typeof value.N === 'string' && /^-?\d+$/.test(value.N) ? value.N : undefined;
}

/** A safe-integer number attribute, or undefined when absent or malformed. */
export function readInteger(item: RawItem, attribute: string): number | undefined {
  const text = numberText(item, attribute);
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** An integer attribute of any size, or undefined when absent or malformed. */
export function readBigInt(item: RawItem, attribute: string): bigint | undefined {
  const text = numberText(item, attribute);
  return text === undefined ? undefined : BigInt(text);
}

/** The entries of a concurrent or window item. */
export function readEntrySet(item: RawItem): EntrySetState {
  const entries: Record<string, number> = {};
  for (const attribute of Object.keys(item)) {
    const id = entryIdOf(attribute);
    const value = id === undefined ? undefined : readInteger(item, attribute);
    if (id !== undefined && value !== undefined) entries[id] = value;
  }
  return { entries };
}

/** The bucket of a bucket item, or undefined when it holds none. */
export function readBucket(item: RawItem): BucketState | undefined {
  const startMs = readInteger(item, A.bucketStart);
  const intervalMs = readInteger(item, A.bucketInterval);
  const count = readInteger(item, A.bucketCount);
  return startMs === undefined || intervalMs === undefined || count === undefined ? undefined : { startMs, intervalMs, count };
}

/** The TAT of a leaky or points item, or undefined when it holds none. */
export function readGcra(item: RawItem): GcraState | undefined {
  const tat = readBigInt(item, A.tat);
  const scale = readBigInt(item, A.scale);
  return tat === undefined || scale === undefined ? undefined : { tat, scale };
}
