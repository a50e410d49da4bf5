/**
 * The state of `ctx.once` steps (lib/worker/once.ts) in the state table: one item per job and step
 * key. A run takes a step with a conditional put (`running`, its owner, until when); it ends as
 * `done` with the step's result, or is given back so that a later run of the job takes it again. A
 * `running` item whose time is up belongs to no one: its run ended without a word (a crash, a
 * timeout) and the next run takes it.
 */
import { conditionFailureItem, isConditionFailure, lazyClient, loadDynamoSdk, type ItemRead, type StateCommands } from '../aws/dynamo.js';
import { onceStepKey, STATE_TABLE } from './keys.js';

/** A step as stored. */
export type StepRecord =
  /**
   * It ran to the end: `result` is its value as JSON, undefined when it returned nothing; `unkept`
   * says why a value could not be kept (too large, not JSON).
   */
  | { readonly state: 'done'; readonly result: string | undefined; readonly unkept: string | undefined }
  /** A run holds it until `untilMs`. */
  | { readonly state: 'running'; readonly untilMs: number };

/** How a step ended: its value as JSON, or why that could not be kept. */
export type StepOutcome = { readonly result: string | undefined; readonly unkept?: undefined } | { readonly result?: undefined; readonly unkept: string };

/** What {@link OnceStepStore.begin} found. */
export type StepClaim = { readonly taken: true } | { readonly taken: false; readonly record: StepRecord };

/** Where `ctx.once` keeps its steps; {@link OnceSteps} is the state table's. */
export interface OnceStepStore {
  /** Takes step `key` of job `jid` for `owner` until `untilMs`, unless it is done or another run holds it. */
  begin(jid: string, key: string, claim: { readonly owner: string; readonly untilMs: number }): Promise<StepClaim>;
  /** Records the step done with `result` (JSON, undefined for none), or with why its value could not be kept. */
  complete(jid: string, key: string, owner: string, outcome: StepOutcome): Promise<void>;
  /** Gives the step back (its run failed), so that the next run of the job takes it. */
  release(jid: string, key: string, owner: string): Promise<void>;
}

/** Options of {@link OnceSteps}. */
export interface OnceStepsOptions {
  readonly tableName: string;
  /** A client, or a function that makes one on first use. */
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** Days a done step is kept, from when it was done. */
  readonly ttlDays: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

const NAMES = { '#state': 'state', '#owner': 'owner', '#until': 'until', '#result': 'result', '#unkept': 'unkept', '#ttl': STATE_TABLE.ttlAttribute } as const;

/** The steps of `ctx.once` in the state table. */
export class OnceSteps implements OnceStepStore {
  private readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly ttlDays: number;
  private readonly now: () => Date;

  constructor(options: OnceStepsOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.ttlDays = options.ttlDays;
    this.now = options.now ?? (() => new Date());
  }

  async begin(jid: string, key: string, claim: { readonly owner: string; readonly untilMs: number }): Promise<StepClaim> {
    const { PutItemCommand, GetItemCommand } = await loadDynamoSdk();
    const itemKey = onceStepKey(jid, key);
    const nowMs = this.now().getTime();
    try {
      await (await this.dynamo()).send(new PutItemCommand({
        TableName: this.tableName,
        Item: {
          [STATE_TABLE.partitionKey]: { S: itemKey.pk },
          [STATE_TABLE.sortKey]: { S: itemKey.sk },
          state: { S: 'running' },
          owner: { S: claim.owner },
          until: { N: String(claim.untilMs) },
          [STATE_TABLE.ttlAttribute]: { N: String(this.expiry()) },
        },
        ConditionExpression: 'attribute_not_exists(#state) OR (#state = :running AND #until < :now)',
        ExpressionAttributeNames: { '#state': NAMES['#state'], '#until': NAMES['#until'] },
        ExpressionAttributeValues: { ':running': { S: 'running' }, ':now': { N: String(nowMs) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return { taken: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const held = conditionFailureItem(error) ?? (await (await this.dynamo()).send(new GetItemCommand({
        TableName: this.tableName,
        Key: { [STATE_TABLE.partitionKey]: { S: itemKey.pk }, [STATE_TABLE.sortKey]: { S: itemKey.sk } },
        ConsistentRead: true,
      }))).Item as ItemRead | undefined;
      // Gone between the put and the read (given back meanwhile): the caller tries again later.
      return { taken: false, record: held === undefined ? { state: 'running', untilMs: nowMs + 1000 } : recordOf(held) };
    }
  }

  async complete(jid: string, key: string, owner: string, outcome: StepOutcome): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const itemKey = onceStepKey(jid, key);
    const values: Record<string, { S: string } | { N: string }> = { ':done': { S: 'done' }, ':owner': { S: owner }, ':ttl': { N: String(this.expiry()) } };
    let set = 'SET #state = :done, #ttl = :ttl';
    const kept = outcome.unkept === undefined ? outcome.result : outcome.unkept;
    if (kept !== undefined) {
      set += outcome.unkept === undefined ? ', #result = :kept' : ', #unkept = :kept';
      values[':kept'] = { S: kept };
    }
    await (await this.dynamo()).send(new UpdateItemCommand({
      TableName: this.tableName,
      Key: { [STATE_TABLE.partitionKey]: { S: itemKey.pk }, [STATE_TABLE.sortKey]: { S: itemKey.sk } },
      UpdateExpression: `${set} REMOVE #until`,
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: {
        '#state': NAMES['#state'], '#ttl': NAMES['#ttl'], '#until': NAMES['#until'], '#owner': NAMES['#owner'],
        ...(kept === undefined ? {} : outcome.unkept === undefined ? { '#result': NAMES['#result'] } : { '#unkept': NAMES['#unkept'] }),
      },
      ExpressionAttributeValues: values,
    }));
  }

  async release(jid: string, key: string, owner: string): Promise<void> {
    const { DeleteItemCommand } = await loadDynamoSdk();
    const itemKey = onceStepKey(jid, key);
    try {
      await (await this.dynamo()).send(new DeleteItemCommand({
        TableName: this.tableName,
        Key: { [STATE_TABLE.partitionKey]: { S: itemKey.pk }, [STATE_TABLE.sortKey]: { S: itemKey.sk } },
        ConditionExpression: '#owner = :owner AND #state = :running',
        ExpressionAttributeNames: { '#owner': NAMES['#owner'], '#state': NAMES['#state'] },
        ExpressionAttributeValues: { ':owner': { S: owner }, ':running': { S: 'running' } },
      }));
    } catch (error) {
      // No longer ours: nothing to give back.
      if (!isConditionFailure(error)) throw error;
    }
  }

  private expiry(): number {
    return Math.floor(this.now().getTime() / 1000) + this.ttlDays * 86_400;
  }
}

/** A stored step item as a {@link StepRecord}. */
function recordOf(item: ItemRead): StepRecord {
  if (item.state?.S === 'done') return { state: 'done', result: item.result?.S, unkept: item.unkept?.S };
  return { state: 'running', untilMs: Number(item.until?.N ?? '0') };
}
