/**
 * Where a tracked job stands (`custom.track: true`, or `custom.result: true` to keep its result):
 * one item per job in the state table, written by the worker when a run starts, when the handler
 * reports progress (coalesced), and when the run ends. Read by `Client.status` / `Client.result`
 * and `GET /v1/jobs/{jid}`. A job that is not tracked writes nothing.
 *
 * Progress never goes backwards: each write is conditional on the stored value being lower, and a
 * new attempt does not reset it.
 */
import { isConditionFailure, lazyClient, loadDynamoSdk, type ItemRead, type StateCommands } from '../aws/dynamo.js';
import type { Job } from '../job/model.js';
import { jobStateKey, STATE_TABLE } from './keys.js';

/** Limits of tracked jobs. */
export const JOB_STATE_LIMITS = {
  /** Days a tracked job's state is kept after its last write. */
  ttlDays: 7,
  /** Most bytes of a kept result as JSON. */
  maxResultBytes: 32 * 1024,
  /** Most characters of a progress message (longer ones are cut). */
  maxMessageLength: 256,
} as const;

/** Where a tracked job stands. */
export type JobPhase = 'running' | 'succeeded' | 'failed';

/** A tracked job's state. */
export interface JobStatus {
  readonly jid: string;
  readonly jobtype: string;
  readonly queue: string;
  /** `running` while an attempt runs; `failed` after an attempt failed (a retry may follow: see the retry and dead sets). */
  readonly state: JobPhase;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** 0 to 100, as the handler last reported it (100 once it succeeded). */
  readonly progress: number | undefined;
  readonly message: string | undefined;
  /** When the latest attempt started. */
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | undefined;
  /** The handler's return value (`custom.result`), as JSON gives it back; undefined when none was kept. */
  readonly result: unknown;
  /** Why a result could not be kept (too large, not JSON). */
  readonly resultError: string | undefined;
  /** The error of the failed attempt. */
  readonly error: { readonly errtype: string; readonly message: string } | undefined;
}

/** How an attempt ended. */
export type AttemptEnd =
  /** `keepResult`: leave a kept result as it is (a copy of a job that succeeded elsewhere). */
  | { readonly state: 'succeeded'; readonly result?: string; readonly resultError?: string; readonly keepResult?: boolean }
  | { readonly state: 'failed'; readonly error: { readonly errtype: string; readonly message: string } };

/** Options of {@link JobStates}. */
export interface JobStatesOptions {
  readonly tableName: string;
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** Tracked jobs' states in the state table. */
export class JobStates {
  private readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly now: () => Date;

  constructor(options: JobStatesOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.now = options.now ?? (() => new Date());
  }

  /** An attempt of `job` starts (its progress, if any, is kept). */
  async start(job: Job): Promise<void> {
    await this.update(job.jid, {
      set: { state: { S: 'running' }, jobtype: { S: job.jobtype }, queue: { S: job.queue }, attempt: { N: String((job.failure?.retry_count ?? -1) + 2) }, started_at: { S: this.now().toISOString() } },
      remove: ['finished_at', 'error'],
    });
  }

  /** The handler reports `percent` (0–100) and an optional message; ignored when lower than what is stored. */
  async progress(jid: string, percent: number, message: string | undefined): Promise<void> {
    try {
      await this.update(jid, {
        set: { progress: { N: String(percent) }, ...(message === undefined ? {} : { message: { S: message } }) },
        condition: 'attribute_not_exists(#progress) OR #progress <= :progress',
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** The attempt ended. */
  async finish(jid: string, end: AttemptEnd): Promise<void> {
    const finishedAt = { finished_at: { S: this.now().toISOString() } };
    if (end.state === 'succeeded') {
      await this.update(jid, {
        set: {
          state: { S: 'succeeded' }, progress: { N: '100' }, ...finishedAt,
          ...(end.result === undefined ? {} : { result: { S: end.result } }),
          ...(end.resultError === undefined ? {} : { result_error: { S: end.resultError } }),
        },
        remove: end.result === undefined && end.keepResult !== true ? ['result'] : [],
      });
      return;
    }
    await this.update(jid, { set: { state: { S: 'failed' }, error: { S: JSON.stringify(end.error) }, ...finishedAt } });
  }

  /** The state of `jid`, or undefined when it is not tracked, has not started, or expired. */
  async get(jid: string): Promise<JobStatus | undefined> {
    const { GetItemCommand } = await loadDynamoSdk();
    const key = jobStateKey(jid);
    const output = await (await this.dynamo()).send(new GetItemCommand({
      TableName: this.tableName,
      Key: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk } },
      ConsistentRead: true,
    }));
    return output.Item === undefined ? undefined : statusOf(jid, output.Item as ItemRead);
  }

  private async update(jid: string, change: { set: Record<string, { S: string } | { N: string }>; remove?: readonly string[]; condition?: string }): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const key = jobStateKey(jid);
    const names: Record<string, string> = { '#ttl': STATE_TABLE.ttlAttribute, '#updated_at': 'updated_at' };
    const values: Record<string, { S: string } | { N: string }> = {
      ':ttl': { N: String(Math.floor(this.now().getTime() / 1000) + JOB_STATE_LIMITS.ttlDays * 86_400) },
      ':updated_at': { S: this.now().toISOString() },
    };
    const sets = ['#ttl = :ttl', '#updated_at = :updated_at'];
    for (const [name, value] of Object.entries(change.set)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      sets.push(`#${name} = :${name}`);
    }
    for (const name of change.remove ?? []) names[`#${name}`] = name;
    if (change.condition?.includes('#progress') === true) names['#progress'] = 'progress';
    const remove = (change.remove ?? []).map((name) => `#${name}`);
    await (await this.dynamo()).send(new UpdateItemCommand({
      TableName: this.tableName,
      Key: { [STATE_TABLE.partitionKey]: { S: key.pk }, [STATE_TABLE.sortKey]: { S: key.sk } },
      UpdateExpression: `SET ${sets.join(', ')}${remove.length === 0 ? '' : ` REMOVE ${remove.join(', ')}`}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ...(change.condition === undefined ? {} : { ConditionExpression: change.condition }),
    }));
  }
}

function statusOf(jid: string, item: ItemRead): JobStatus {
  const number = (name: string) => (item[name]?.N === undefined ? undefined : Number(item[name]?.N));
  const state = item.state?.S;
  const error = item.error?.S === undefined ? undefined : (JSON.parse(item.error.S) as { errtype: string; message: string });
  return {
    jid,
    jobtype: item.jobtype?.S ?? '',
    queue: item.queue?.S ?? '',
    state: state === 'succeeded' || state === 'failed' ? state : 'running',
    attempt: number('attempt') ?? 1,
    progress: number('progress'),
    message: item.message?.S,
    startedAt: item.started_at?.S ?? '',
    updatedAt: item.updated_at?.S ?? '',
    finishedAt: item.finished_at?.S,
    result: item.result?.S === undefined ? undefined : JSON.parse(item.result.S),
    resultError: item.result_error?.S,
    error,
  };
}
