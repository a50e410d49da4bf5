/**
 * Which state-table stream records the batch function receives: inserts and updates of batch
 * items (`batch#<bid>` / `batch`), not job items, sorted sets or locks. The construct gives this
 * pattern to Lambda as the event source mapping's filter criteria (records that do not match are
 * dropped before invoking, and not billed); local runtimes and tests apply it with
 * {@link matchesBatchStreamFilter}.
 */
import type { ItemRead } from '../aws/dynamo.js';
import { BATCH_KEYS } from '../storage/keys.js';

/** The Lambda event filter pattern (EventBridge pattern syntax) for batch items. */
export const BATCH_STREAM_FILTER = {
  eventName: ['INSERT', 'MODIFY'],
  dynamodb: {
    Keys: {
      pk: { S: [{ prefix: BATCH_KEYS.prefix }] },
      sk: { S: [BATCH_KEYS.batchSortKey] },
    },
  },
} as const;

/** True when a stream record matches {@link BATCH_STREAM_FILTER}. */
export function matchesBatchStreamFilter(record: { readonly eventName?: string; readonly dynamodb?: { readonly Keys?: ItemRead } }): boolean {
  const keys = record.dynamodb?.Keys;
  return (record.eventName === 'INSERT' || record.eventName === 'MODIFY')
    && keys?.pk?.S?.startsWith(BATCH_KEYS.prefix) === true
    && keys.sk?.S === BATCH_KEYS.batchSortKey;
}
