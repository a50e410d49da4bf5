/**
 * The jobs of one batch by status, for the batch page: its job items (`batch#<bid>` / `job#<jid>`,
 * lib/storage/keys.ts) read with a filter on `status`, a page at a time in jid order.
 */
import type { AttributeValue, QueryCommand, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { BATCH_KEYS, batchKey } from '../storage/keys.js';
import { JOB_STATUSES, type JobStatus } from './model.js';

/** One job of a batch. */
export interface BatchMember {
  readonly jid: string;
  readonly status: JobStatus;
  /** ISO-8601: its last change of status. */
  readonly updatedAt: string;
}

/** What the Query needs; a `DynamoDBClient` satisfies it. */
export interface BatchMembersClient {
  send(command: QueryCommand): Promise<QueryCommandOutput>;
}

/** Options of {@link listBatchMembers}. */
export interface BatchMembersOptions {
  readonly statuses: readonly JobStatus[];
  readonly limit: number;
  /** The previous page's cursor (the jid it ended at). */
  readonly cursor?: string;
  /** Pages of 1 MB read at most before a page returns with what it found. @default 4 */
  readonly maxPages?: number;
}

/** A page of batch `bid`'s jobs in `statuses`; `cursor` when there may be more. */
export async function listBatchMembers(client: BatchMembersClient, tableName: string, bid: string, options: BatchMembersOptions): Promise<{ jobs: BatchMember[]; cursor?: string }> {
  const { QueryCommand: Query } = await import('@aws-sdk/client-dynamodb');
  const key = batchKey(bid);
  const names = options.statuses.map((_, index) => `:s${index}`);
  const jobs: BatchMember[] = [];
  let start: Record<string, AttributeValue> | undefined = options.cursor === undefined ? undefined : { pk: { S: key.pk }, sk: { S: `${BATCH_KEYS.jobSortKeyPrefix}${options.cursor}` } };
  for (let page = 0; page < (options.maxPages ?? 4); page += 1) {
    const output = await client.send(new Query({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :job)',
      FilterExpression: `#status IN (${names.join(', ')})`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':pk': { S: key.pk }, ':job': { S: BATCH_KEYS.jobSortKeyPrefix },
        ...Object.fromEntries(options.statuses.map((status, index) => [`:s${index}`, { S: status }])),
      },
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }));
    for (const item of output.Items ?? []) {
      const jid = item.jid?.S;
      const status = item.status?.S;
      if (jid === undefined || status === undefined || !Object.hasOwn(JOB_STATUSES, status)) continue;
      jobs.push({ jid, status: status as JobStatus, updatedAt: item.updated_at?.S ?? '' });
      if (jobs.length === options.limit) return { jobs, cursor: jid };
    }
    if (output.LastEvaluatedKey === undefined) return { jobs };
    start = output.LastEvaluatedKey;
  }
  const last = start?.sk?.S;
  return last === undefined ? { jobs } : { jobs, cursor: last.slice(BATCH_KEYS.jobSortKeyPrefix.length) };
}
