/**
 * Cron items in the state table: a marker per tick (so a tick delivered twice enqueues once) and a
 * run record per cron (last run, next run) for the dashboard. Keys come from lib/storage/keys.ts.
 *
 * | item          | attributes                                                                 |
 * |---------------|----------------------------------------------------------------------------|
 * | tick marker   | `state` (`claimed` → `enqueued`), `claimed_by`, `claimed_until` (N, ms), `jid`, `enqueued_at`, `ttl` |
 * | run record    | `name`, `schedule`, `timezone`, `jobtype`, `queue`, `last_run_at`, `last_jid`, `next_run_at`, `updated_at` |
 *
 * Loads the DynamoDB SDK: only the cron function and admin code import it.
 */
import {
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type GetItemCommandOutput,
  type PutItemCommandOutput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { dynamoClientOf } from '../aws/clients.js';
import type { HopperConfig } from '../config/hopper-config.js';
import { cronMetaKey, cronTickKey } from './keys.js';
import { conditionFailureItem, isConditionFailure } from './conditions.js';
import type { Item } from './set-items.js';

/** The commands this module sends; a `DynamoDBClient` satisfies it. */
export interface CronCommands {
  send(command: PutItemCommand): Promise<PutItemCommandOutput>;
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
  send(command: GetItemCommand): Promise<GetItemCommandOutput>;
}

/** What a tick's claim found. */
export type TickClaim =
  | { readonly status: 'claimed' }
  /** The tick's job was enqueued already (a duplicate delivery). */
  | { readonly status: 'enqueued'; readonly jid?: string }
  /** Another invocation holds the tick and its claim has not lapsed. */
  | { readonly status: 'busy' };

/** Parameters of a tick's claim. */
export interface TickClaimOptions {
  readonly owner: string;
  readonly nowMs: number;
  /** When the claim lapses if its holder dies before enqueuing. */
  readonly untilMs: number;
  /** Epoch seconds after which DynamoDB deletes the marker. */
  readonly ttl: number;
}

/** The run record of a cron, for the dashboard. */
export interface CronRunRecord {
  readonly name: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly jobtype: string;
  readonly queue: string;
  /** The scheduled time of the last tick that enqueued, ISO-8601. */
  readonly lastRunAt: string;
  readonly lastJid: string;
  /** The next tick after the last one, ISO-8601; absent when the schedule never fires again. */
  readonly nextRunAt?: string;
  readonly updatedAt: string;
}

/** The state-table store of cron ticks and run records, as the cron function uses it. */
export interface CronTickStore {
  claimTick(name: string, scheduledMs: number, options: TickClaimOptions): Promise<TickClaim>;
  /** Marks the tick enqueued; false when `owner` no longer held it (its claim lapsed and was taken). */
  markEnqueued(name: string, scheduledMs: number, owner: string, jid: string, nowMs: number): Promise<boolean>;
  /** Records a run unless a later run is recorded already; false when it was not newer. */
  recordRun(record: CronRunRecord): Promise<boolean>;
  getRun(name: string): Promise<CronRunRecord | undefined>;
}

/** {@link CronTickStore} on DynamoDB. */
export class CronStore implements CronTickStore {
  constructor(
    private readonly client: CronCommands,
    readonly tableName: string,
  ) {}

  async claimTick(name: string, scheduledMs: number, options: TickClaimOptions): Promise<TickClaim> {
    const key = cronTickKey(name, scheduledMs);
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.tableName,
        Item: {
          pk: { S: key.pk }, sk: { S: key.sk }, state: { S: 'claimed' },
          claimed_by: { S: options.owner }, claimed_until: { N: String(options.untilMs) }, ttl: { N: String(Math.trunc(options.ttl)) },
        },
        // New, or claimed by someone whose claim lapsed before enqueuing (it died).
        ConditionExpression: 'attribute_not_exists(pk) OR (#state = :claimed AND claimed_until < :now)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':claimed': { S: 'claimed' }, ':now': { N: String(options.nowMs) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return { status: 'claimed' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = conditionFailureItem(error);
      if (old?.state?.S === 'enqueued') return { status: 'enqueued', ...(old.jid?.S === undefined ? {} : { jid: old.jid.S }) };
      return { status: 'busy' };
    }
  }

  async markEnqueued(name: string, scheduledMs: number, owner: string, jid: string, nowMs: number): Promise<boolean> {
    const key = cronTickKey(name, scheduledMs);
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: 'SET #state = :enqueued, jid = :jid, enqueued_at = :at REMOVE claimed_by, claimed_until',
        ConditionExpression: 'claimed_by = :owner',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':enqueued': { S: 'enqueued' }, ':jid': { S: jid }, ':at': { S: new Date(nowMs).toISOString() }, ':owner': { S: owner } },
      }));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordRun(record: CronRunRecord): Promise<boolean> {
    const key = cronMetaKey(record.name);
    const values: Item = {
      ':name': { S: record.name }, ':schedule': { S: record.schedule }, ':timezone': { S: record.timezone }, ':jobtype': { S: record.jobtype },
      ':queue': { S: record.queue }, ':last': { S: record.lastRunAt }, ':jid': { S: record.lastJid }, ':updated': { S: record.updatedAt },
    };
    if (record.nextRunAt !== undefined) values[':next'] = { S: record.nextRunAt };
    // Every name aliased: several (name, timezone, queue) are DynamoDB reserved words.
    const names: Record<string, string> = {
      '#name': 'name', '#schedule': 'schedule', '#timezone': 'timezone', '#jobtype': 'jobtype', '#queue': 'queue',
      '#last': 'last_run_at', '#jid': 'last_jid', '#updated': 'updated_at', '#next': 'next_run_at',
    };
    const set = '#name = :name, #schedule = :schedule, #timezone = :timezone, #jobtype = :jobtype, #queue = :queue, #last = :last, #jid = :jid, #updated = :updated';
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: record.nextRunAt === undefined ? `SET ${set} REMOVE #next` : `SET ${set}, #next = :next`,
        // ISO-8601 in UTC with milliseconds sorts as time: a late duplicate of an older tick does not win.
        ConditionExpression: 'attribute_not_exists(#last) OR #last <= :last',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getRun(name: string): Promise<CronRunRecord | undefined> {
    const key = cronMetaKey(name);
    const output = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
    const item = output.Item;
    const text = (attribute: string): string | undefined => item?.[attribute]?.S;
    const lastRunAt = text('last_run_at');
    const lastJid = text('last_jid');
    if (item === undefined || lastRunAt === undefined || lastJid === undefined) return undefined;
    const nextRunAt = text('next_run_at');
    return {
      name,
      schedule: text('schedule') ?? '',
      timezone: text('timezone') ?? '',
      jobtype: text('jobtype') ?? '',
      queue: text('queue') ?? '',
      lastRunAt,
      lastJid,
      ...(nextRunAt === undefined ? {} : { nextRunAt }),
      updatedAt: text('updated_at') ?? lastRunAt,
    };
  }
}

/** The cron store of the table named by `HOPPER_STATE_TABLE`. */
export async function cronStoreOf(config: HopperConfig): Promise<CronStore> {
  return new CronStore(await dynamoClientOf(config), config.stateTable);
}
