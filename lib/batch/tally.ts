/**
 * Counting job outcomes into their batches, from the state table's stream: the batch function's
 * first step for each event. Each job record whose write incremented its `tally` (./model.ts
 * `tallyDeltas`) moves its batch's counters by the change of status its old and new images show;
 * the records of one batch in an event are counted with one conditional update (./store.ts
 * `BatchStore.tally`) guarded per shard of its job items, so a batch's counters cost one write per
 * invocation, not one per job.
 */
import type { DynamoDBRecord } from 'aws-lambda';
import type { ItemRead } from '../aws/dynamo.js';
import type { Logger } from '../observability/logger.js';
import { parseBatchJobPartitionKey } from '../storage/keys.js';
import { talliedSeqAttribute, tallyDeltas } from './model.js';
import type { BatchStore, TallyEntry } from './store.js';
import { isTalliedJobRecord } from './stream-filter.js';

/**
 * Counts the job records of `records` into their batches, all batches side by side.
 *
 * @returns the index of the first record of a batch whose count failed (the event's length when
 *   none did): the handler reports that record failed, so Lambda retries from it; counts that were
 *   written are not written again (their records are at or before their shard's guard).
 */
export async function tallyJobRecords(store: BatchStore, records: readonly DynamoDBRecord[], logger: Logger): Promise<number> {
  const groups = new Map<string, { firstIndex: number; entries: TallyEntry[] }>();
  records.forEach((record, index) => {
    if (!isTalliedJobRecord(record)) return;
    const pk = record.dynamodb?.Keys?.pk?.S ?? '';
    const sequenceNumber = record.dynamodb?.SequenceNumber;
    const deltas = tallyDeltas(record.dynamodb?.OldImage as ItemRead | undefined, record.dynamodb?.NewImage as ItemRead | undefined);
    if (sequenceNumber === undefined || deltas === undefined) return;
    const { bid, shard } = parseBatchJobPartitionKey(pk);
    const group = groups.get(bid) ?? { firstIndex: index, entries: [] };
    group.entries.push({ sequenceNumber, guard: talliedSeqAttribute(shard), deltas });
    groups.set(bid, group);
  });
  let failedAt = records.length;
  await Promise.all([...groups].map(async ([bid, group]) => {
    try {
      const { batchMissing } = await store.tally(bid, group.entries);
      if (batchMissing) logger.warn('batch no longer exists; job outcomes not counted', { bid, jobs: group.entries.length });
    } catch (error) {
      logger.error('job outcomes not counted in their batch; retried from their first record', { bid, jobs: group.entries.length, error });
      failedAt = Math.min(failedAt, group.firstIndex);
    }
  }));
  return failedAt;
}
