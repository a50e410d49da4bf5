/**
 * The jobs of one batch by status, for the batch page: its job items (`batch#<bid>#<shard>` /
 * `job#<jid>`, lib/storage/keys.ts) read with a filter on `status`, a page at a time in jid order.
 */
import type { AttributeValue, QueryCommand, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { BATCH_KEYS, batchJobPartitionKeys } from '../storage/keys.js';
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
  /** Pages of at most `limit` items read per shard before a page returns with what it found. @default 4 */
  readonly maxPages?: number;
}

/** What one partition key of the job items gave for a page. */
interface ShardRead {
  readonly jobs: BatchMember[];
  /** The sort key the shard was read up to, when it may hold more after it. */
  readonly readTo?: string;
}

/**
 * A page of batch `bid`'s jobs in `statuses`, in jid order; `cursor` when there may be more. The job
 * items are spread over the batch's shards (lib/storage/keys.ts `batchJobPartitionKeys`): each is
 * read from the cursor on, side by side, and the page holds the jobs up to the first point a shard
 * was not read past, so no job is skipped.
 */
export async function listBatchMembers(client: BatchMembersClient, tableName: string, bid: string, options: BatchMembersOptions): Promise<{ jobs: BatchMember[]; cursor?: string }> {
  const { QueryCommand: Query } = await import('@aws-sdk/client-dynamodb');
  const names = options.statuses.map((_, index) => `:s${index}`);
  const readShard = async (pk: string): Promise<ShardRead> => {
    const jobs: BatchMember[] = [];
    let start: Record<string, AttributeValue> | undefined = options.cursor === undefined ? undefined : { pk: { S: pk }, sk: { S: `${BATCH_KEYS.jobSortKeyPrefix}${options.cursor}` } };
    for (let page = 0; page < (options.maxPages ?? 4); page += 1) {
      const output = await client.send(new Query({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :job)',
        FilterExpression: `#status IN (${names.join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':pk': { S: pk }, ':job': { S: BATCH_KEYS.jobSortKeyPrefix },
          ...Object.fromEntries(options.statuses.map((status, index) => [`:s${index}`, { S: status }])),
        },
        // A page of the shard no larger than the page asked for: each shard is read only as far as
        // the page can reach (the bound below keeps the merge from skipping what was not read).
        Limit: options.limit,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }));
      for (const item of output.Items ?? []) {
        const jid = item.jid?.S;
        const status = item.status?.S;
        if (jid === undefined || status === undefined || !Object.hasOwn(JOB_STATUSES, status)) continue;
        jobs.push({ jid, status: status as JobStatus, updatedAt: item.updated_at?.S ?? '' });
        if (jobs.length === options.limit) return { jobs, readTo: item.sk?.S ?? `${BATCH_KEYS.jobSortKeyPrefix}${jid}` };
      }
      if (output.LastEvaluatedKey === undefined) return { jobs };
      start = output.LastEvaluatedKey;
    }
    const readTo = start?.sk?.S;
    return readTo === undefined ? { jobs } : { jobs, readTo };
  };
  const shards = await Promise.all(batchJobPartitionKeys(bid).map(readShard));
  const bound = shards.map((shard) => shard.readTo).filter((readTo): readTo is string => readTo !== undefined).sort()[0];
  const boundJid = bound?.slice(BATCH_KEYS.jobSortKeyPrefix.length);
  const jobs = shards.flatMap((shard) => shard.jobs).filter((job) => boundJid === undefined || job.jid <= boundJid).sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
  const page = jobs.slice(0, options.limit);
  if (jobs.length > options.limit) return { jobs: page, cursor: page.at(-1)?.jid ?? '' };
  return boundJid === undefined ? { jobs: page } : { jobs: page, cursor: boundJid };
}
