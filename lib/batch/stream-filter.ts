/**
 * Which state-table stream records the batch function receives: inserts and updates of batch
 * items (`batch#<bid>` / `batch`), whose counters fire callbacks, and of job items
 * (`batch#<bid>#<shard>` / `job#<jid>`) written with a `tally`, whose outcomes it counts in, and of
 * flow items (`flow#<id>` / `flow`), whose changes start flow steps. Add items,
 * sorted sets and locks never invoke it. The construct gives these patterns to Lambda as the event
 * source mapping's filter criteria (records that match none are dropped before invoking, and not
 * billed); local runtimes and tests apply them with {@link matchesBatchStreamFilter}.
 */
import type { ItemRead } from '../aws/dynamo.js';
import { BATCH_KEYS, FLOW_KEYS } from '../storage/keys.js';
import { TALLY_ATTRIBUTE } from './model.js';

/** The Lambda event filter pattern (EventBridge pattern syntax) for batch items. */
export const BATCH_ITEM_STREAM_FILTER = {
  eventName: ['INSERT', 'MODIFY'],
  dynamodb: {
    Keys: {
      pk: { S: [{ prefix: BATCH_KEYS.prefix }] },
      sk: { S: [BATCH_KEYS.batchSortKey] },
    },
  },
} as const;

/** The Lambda event filter pattern for job items whose outcome the batch function counts. */
export const JOB_ITEM_STREAM_FILTER = {
  eventName: ['INSERT', 'MODIFY'],
  dynamodb: {
    Keys: {
      pk: { S: [{ prefix: BATCH_KEYS.prefix }] },
      sk: { S: [{ prefix: BATCH_KEYS.jobSortKeyPrefix }] },
    },
    NewImage: { [TALLY_ATTRIBUTE]: { N: [{ exists: true }] } },
  },
} as const;

/** The Lambda event filter pattern for flow items (lib/flow): their writes start steps and send flow callbacks. */
export const FLOW_ITEM_STREAM_FILTER = {
  eventName: ['INSERT', 'MODIFY'],
  dynamodb: {
    Keys: {
      pk: { S: [{ prefix: FLOW_KEYS.prefix }] },
      sk: { S: [FLOW_KEYS.sortKey] },
    },
  },
} as const;

/** Every pattern: a record matching any invokes the batch function. */
export const BATCH_STREAM_FILTERS = [BATCH_ITEM_STREAM_FILTER, JOB_ITEM_STREAM_FILTER, FLOW_ITEM_STREAM_FILTER] as const;

type StreamRecordLike = { readonly eventName?: string; readonly dynamodb?: { readonly Keys?: ItemRead; readonly NewImage?: ItemRead } };

/** True when a stream record matches {@link BATCH_ITEM_STREAM_FILTER}. */
export function isBatchItemRecord(record: StreamRecordLike): boolean {
  const keys = record.dynamodb?.Keys;
  return isWrite(record) && keys?.pk?.S?.startsWith(BATCH_KEYS.prefix) === true && keys.sk?.S === BATCH_KEYS.batchSortKey;
}

/** True when a stream record matches {@link JOB_ITEM_STREAM_FILTER}. */
export function isTalliedJobRecord(record: StreamRecordLike): boolean {
  const keys = record.dynamodb?.Keys;
  return isWrite(record) && keys?.pk?.S?.startsWith(BATCH_KEYS.prefix) === true && keys.sk?.S?.startsWith(BATCH_KEYS.jobSortKeyPrefix) === true
    && record.dynamodb?.NewImage?.[TALLY_ATTRIBUTE]?.N !== undefined;
}

/** True when a stream record matches {@link FLOW_ITEM_STREAM_FILTER}. */
export function isFlowItemRecord(record: StreamRecordLike): boolean {
  const keys = record.dynamodb?.Keys;
  return isWrite(record) && keys?.pk?.S?.startsWith(FLOW_KEYS.prefix) === true && keys.sk?.S === FLOW_KEYS.sortKey;
}

/** True when a stream record matches {@link BATCH_STREAM_FILTERS}. */
export function matchesBatchStreamFilter(record: StreamRecordLike): boolean {
  return isBatchItemRecord(record) || isTalliedJobRecord(record) || isFlowItemRecord(record);
}

function isWrite(record: StreamRecordLike): boolean {
  return record.eventName === 'INSERT' || record.eventName === 'MODIFY';
}
