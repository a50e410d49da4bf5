/**
 * Debounce items, as request inputs. Pure: ./store.ts sends them.
 *
 * A job with `custom.debounce: { key, period }` is enqueued due `period` seconds later, after a put
 * of the key's item (`debounce#<key>` / `debounce`) naming its jid: the last writer wins. When it
 * comes due, the worker reads the item (strongly consistent): it runs only if the item still names
 * it, and after a success deletes the item on condition that it still does. A failure keeps the
 * item, so the job's retries run (unless a newer job took the key meanwhile).
 */
import type { AttributeValue, DeleteItemCommandInput, GetItemCommandInput, PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { DEAD_TTL_DAYS } from '../config/env.js';
import type { DebounceSpec } from '../job/debounce.js';
import type { Job } from '../job/model.js';
import { debounceKey, STATE_TABLE } from '../storage/keys.js';

/**
 * Days a debounce item outlives its job's due time: as long as the job can still run — its retries
 * and then the dead set (180 days by default), from which it can be retried by hand — and a month
 * more. Only keys whose last job has not succeeded keep an item that long: a success deletes it.
 */
export const DEBOUNCE_ITEM_DAYS = DEAD_TTL_DAYS + 30;

/** What a job's run finds in its key's item. */
export const DEBOUNCE_VERDICT = {
  /** The item names this job: it is the last of its key, and runs. */
  run: 'run',
  /** The item names another job, or is gone (the key's job ran to success): not run. */
  superseded: 'superseded',
} as const;

export type DebounceVerdict = keyof typeof DEBOUNCE_VERDICT;

/** The key's item as a put leaves it; `ReturnValues: 'ALL_OLD'` gives back the one it replaced. */
export function planMark(job: Job, spec: DebounceSpec, context: { readonly tableName: string; readonly nowMs: number; readonly dueMs: number }): PutItemCommandInput {
  const key = debounceKey(spec.key);
  const ttl = Math.ceil(context.dueMs / 1000) + DEBOUNCE_ITEM_DAYS * 86_400;
  return {
    TableName: context.tableName,
    Item: {
      [STATE_TABLE.partitionKey]: { S: key.pk },
      [STATE_TABLE.sortKey]: { S: key.sk },
      jid: { S: job.jid },
      jobtype: { S: job.jobtype },
      queue: { S: job.queue },
      marked_at: { S: new Date(context.nowMs).toISOString() },
      due_at: { S: new Date(context.dueMs).toISOString() },
      [STATE_TABLE.ttlAttribute]: { N: String(ttl) },
    },
    ReturnValues: 'ALL_OLD',
  };
}

/**
 * Undoes `job`'s mark when the job could not be sent: the item it replaced goes back (`previous`),
 * or the item goes, in both cases only while it still names `job` (a newer job's mark is left alone).
 */
export function planRestore(
  job: Job, spec: DebounceSpec, previous: Readonly<Record<string, AttributeValue>> | undefined, tableName: string,
): { readonly put: PutItemCommandInput } | { readonly delete: DeleteItemCommandInput } {
  if (previous === undefined) return { delete: planSettle(job, spec, tableName) };
  return { put: { TableName: tableName, Item: { ...previous }, ...heldBy(job) } };
}

/** Reads which job the key's item names, strongly consistent: a mark written a moment ago counts. */
export function planRead(spec: DebounceSpec, tableName: string): GetItemCommandInput {
  const key = debounceKey(spec.key);
  return {
    TableName: tableName,
    Key: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk } },
    ConsistentRead: true,
    ProjectionExpression: '#jid',
    ExpressionAttributeNames: { '#jid': 'jid' },
  };
}

/** What the item read by {@link planRead} means for `job`. */
export function verdictOf(job: Job, item: Readonly<Record<string, AttributeValue>> | undefined): DebounceVerdict {
  return item?.jid?.S === job.jid ? DEBOUNCE_VERDICT.run : DEBOUNCE_VERDICT.superseded;
}

/** Deletes the key's item after `job` succeeded, only while it names `job` (a newer job's is kept). */
export function planSettle(job: Job, spec: DebounceSpec, tableName: string): DeleteItemCommandInput {
  const key = debounceKey(spec.key);
  return {
    TableName: tableName,
    Key: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk } },
    ...heldBy(job),
  };
}

/** The condition that the key's item still names `job`. */
function heldBy(job: Job): Pick<DeleteItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  return { ConditionExpression: '#jid = :jid', ExpressionAttributeNames: { '#jid': 'jid' }, ExpressionAttributeValues: { ':jid': { S: job.jid } } };
}
