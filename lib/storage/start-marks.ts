/**
 * Start marks: how the retry function tells a job that crashed its worker from one that SQS
 * redrove without any handler having seen it. On AWS a delivery Lambda throttled, or could not
 * start the function for, raises the message's receive count like one that crashed; after
 * `maxReceiveCount` of them SQS moves the job to the retries queue all the same.
 *
 * A worker marks a job before it runs it when the record has been received before (a first
 * delivery needs no mark: a job that crashed once and was then throttled is let off once). The
 * retry function charges a redriven job a retry (`WorkerCrashed`) only when a run of it began;
 * without a mark it sends the job back unchanged, at most {@link START_MARKS.maxUnchargedRedrives}
 * times per attempt, then charges it anyway (a worker that cannot write marks — no state-table
 * rights, another language — still gets its crashes counted). Items expire by TTL.
 */
import { lazyClient, loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import type { Job } from '../job/model.js';
import { startMarkKey, STATE_TABLE, unchargedRedrivesKey } from './keys.js';

/** Limits of start marks. */
export const START_MARKS = {
  /** Redrives of one attempt sent back without a charge before the next one is charged. */
  maxUnchargedRedrives: 3,
  /** Days a mark is kept (longer than SQS keeps a message). */
  ttlDays: 15,
} as const;

/** Options of {@link StartMarks}. */
export interface StartMarksOptions {
  readonly tableName: string;
  /** A client, or a function that makes one on first use. */
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** The attempt a job is at: its `retry_count`, or −1 before its first failure. */
export function attemptOf(job: Job): number {
  return job.failure?.retry_count ?? -1;
}

/** Writes and reads start marks. */
export class StartMarks {
  private readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly now: () => Date;

  constructor(options: StartMarksOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.now = options.now ?? (() => new Date());
  }

  /** Marks that a run of `job` begins. */
  async mark(job: Job): Promise<void> {
    const { PutItemCommand } = await loadDynamoSdk();
    const key = startMarkKey(job.jid, attemptOf(job));
    await (await this.dynamo()).send(new PutItemCommand({
      TableName: this.tableName,
      Item: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk }, [STATE_TABLE.ttlAttribute]: { N: String(this.expiry()) } },
    }));
  }

  /** Whether a run of `job` (at its attempt) began. */
  async began(job: Job): Promise<boolean> {
    const { GetItemCommand } = await loadDynamoSdk();
    const key = startMarkKey(job.jid, attemptOf(job));
    const output = await (await this.dynamo()).send(new GetItemCommand({
      TableName: this.tableName,
      Key: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk } },
      ConsistentRead: true,
    }));
    return output.Item !== undefined;
  }

  /**
   * Counts one more uncharged redrive of `job` at its attempt.
   * @returns the count, this one included
   */
  async countUncharged(job: Job): Promise<number> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const key = unchargedRedrivesKey(job.jid, attemptOf(job));
    const output = await (await this.dynamo()).send(new UpdateItemCommand({
      TableName: this.tableName,
      Key: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk } },
      UpdateExpression: 'ADD redrives :one SET #ttl = :ttl',
      ExpressionAttributeNames: { '#ttl': STATE_TABLE.ttlAttribute },
      ExpressionAttributeValues: { ':one': { N: '1' }, ':ttl': { N: String(this.expiry()) } },
      ReturnValues: 'UPDATED_NEW',
    }));
    return Number(output.Attributes?.redrives?.N ?? '1');
  }

  private expiry(): number {
    return Math.floor(this.now().getTime() / 1000) + START_MARKS.ttlDays * 86_400;
  }

}
