/**
 * The cursors of iterating jobs (lib/worker/iterate.ts) in the state table: one item per job. A
 * slice (one delivery of the job) takes the item until its invocation's deadline, moves the cursor
 * forward as it goes (checkpoints), and gives the item back with its last cursor when it stops
 * early, or marks it done after the last item. A slice whose time is up holds nothing: it ended
 * without a word (a crash, a timeout), and the next delivery takes the item and resumes from the
 * last checkpoint.
 */
import { conditionFailureItem, isConditionFailure, lazyClient, loadDynamoSdk, type ItemRead, type StateCommands } from '../aws/dynamo.js';
import { IterationLostError } from '../errors/worker.js';
import { iterationKey, STATE_TABLE } from './keys.js';

/** Where an iteration stands when a slice takes it. */
export interface IterationPosition {
  /** The cursor as JSON, undefined before the first checkpoint. */
  readonly cursor: string | undefined;
  /** Items done so far, over every slice. */
  readonly items: number;
  /** Slices that took the iteration, this one included. */
  readonly slices: number;
}

/** An iteration as `GET /v1/find/{jid}` shows it. */
export interface IterationState {
  readonly slices: number;
  readonly items: number;
  readonly done: boolean;
  /** When the slice holding it ends at the latest; undefined when none holds it. */
  readonly heldUntilMs: number | undefined;
}

/** What {@link IterationStore.take} found. */
export type IterationClaim =
  | ({ readonly taken: true } & IterationPosition)
  /** Another slice holds it until `untilMs`. */
  | { readonly taken: false; readonly done: false; readonly untilMs: number }
  /** It ran to its end already (a copy of a finished job's message). */
  | { readonly taken: false; readonly done: true; readonly items: number };

/** How far a slice got: the cursor as JSON and the items done over every slice. */
export interface IterationProgress {
  readonly cursor: string | undefined;
  readonly items: number;
}

/** Where iterating jobs keep their cursors; {@link Iterations} is the state table's. */
export interface IterationStore {
  /** Takes job `jid`'s iteration for `owner` until `untilMs`, unless it is done or another slice holds it. */
  take(jid: string, claim: { readonly owner: string; readonly untilMs: number }): Promise<IterationClaim>;
  /**
   * Moves the cursor forward.
   * @throws IterationLostError when `owner` no longer holds the iteration
   */
  checkpoint(jid: string, owner: string, progress: IterationProgress): Promise<void>;
  /**
   * Records `progress` and gives the iteration back, for the next slice (or retry) to take.
   * @throws IterationLostError when `owner` no longer holds the iteration
   */
  release(jid: string, owner: string, progress: IterationProgress): Promise<void>;
  /**
   * Marks the iteration done: later copies of the job's message do not run it again.
   * @throws IterationLostError when `owner` no longer holds the iteration
   */
  finish(jid: string, owner: string, items: number): Promise<void>;
}

/** Options of {@link Iterations}. */
export interface IterationsOptions {
  readonly tableName: string;
  /** A client, or a function that makes one on first use. */
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** Days an iteration is kept after its last write (as long as its job can run again). */
  readonly ttlDays: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

const NAMES = {
  '#owner': 'owner', '#until': 'until', '#cursor': 'cursor', '#items': 'items', '#slices': 'slices', '#state': 'state', '#ttl': STATE_TABLE.ttlAttribute,
} as const;

type Value = { S: string } | { N: string };

/** The cursors of iterating jobs in the state table. */
export class Iterations implements IterationStore {
  private readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly ttlDays: number;
  private readonly now: () => Date;

  constructor(options: IterationsOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.ttlDays = options.ttlDays;
    this.now = options.now ?? (() => new Date());
  }

  async take(jid: string, claim: { readonly owner: string; readonly untilMs: number }): Promise<IterationClaim> {
    const { UpdateItemCommand, GetItemCommand } = await loadDynamoSdk();
    const nowMs = this.now().getTime();
    try {
      const output = await (await this.dynamo()).send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(jid),
        UpdateExpression: 'SET #owner = :owner, #until = :until, #ttl = :ttl, #slices = if_not_exists(#slices, :zero) + :one, #items = if_not_exists(#items, :zero)',
        ConditionExpression: '(attribute_not_exists(#owner) OR #until < :now) AND attribute_not_exists(#state)',
        ExpressionAttributeNames: pick('#owner', '#until', '#ttl', '#slices', '#items', '#state'),
        ExpressionAttributeValues: {
          ':owner': { S: claim.owner }, ':until': { N: String(claim.untilMs) }, ':ttl': { N: String(this.expiry()) },
          ':zero': { N: '0' }, ':one': { N: '1' }, ':now': { N: String(nowMs) },
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      const item = (output.Attributes ?? {}) as ItemRead;
      return { taken: true, cursor: item.cursor?.S, items: Number(item.items?.N ?? '0'), slices: Number(item.slices?.N ?? '1') };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const held = conditionFailureItem(error) ?? (await (await this.dynamo()).send(new GetItemCommand({ TableName: this.tableName, Key: this.key(jid), ConsistentRead: true }))).Item as ItemRead | undefined;
      if (held?.state?.S === 'done') return { taken: false, done: true, items: Number(held.items?.N ?? '0') };
      // Given back between the update and the read: the caller asks again shortly.
      return { taken: false, done: false, untilMs: held === undefined ? nowMs + 1000 : Number(held.until?.N ?? String(nowMs + 1000)) };
    }
  }

  /** Where job `jid`'s iteration stands, or undefined when it has none (or it expired). */
  async get(jid: string): Promise<IterationState | undefined> {
    const { GetItemCommand } = await loadDynamoSdk();
    const { Item: item } = await (await this.dynamo()).send(new GetItemCommand({ TableName: this.tableName, Key: this.key(jid), ConsistentRead: true }));
    if (item === undefined) return undefined;
    const read = item as ItemRead;
    const until = read.until?.N;
    return { slices: Number(read.slices?.N ?? '0'), items: Number(read.items?.N ?? '0'), done: read.state?.S === 'done', heldUntilMs: until === undefined ? undefined : Number(until) };
  }

  async checkpoint(jid: string, owner: string, progress: IterationProgress): Promise<void> {
    await this.ownedUpdate(jid, owner, progress, '');
  }

  async release(jid: string, owner: string, progress: IterationProgress): Promise<void> {
    await this.ownedUpdate(jid, owner, progress, ' REMOVE #owner, #until');
  }

  async finish(jid: string, owner: string, items: number): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(jid),
        UpdateExpression: 'SET #state = :done, #items = :items, #ttl = :ttl REMOVE #owner, #until, #cursor',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: pick('#state', '#items', '#ttl', '#owner', '#until', '#cursor'),
        ExpressionAttributeValues: { ':done': { S: 'done' }, ':items': { N: String(items) }, ':ttl': { N: String(this.expiry()) }, ':owner': { S: owner } },
      }));
    } catch (error) {
      throw isConditionFailure(error) ? new IterationLostError(jid) : error;
    }
  }

  private async ownedUpdate(jid: string, owner: string, progress: IterationProgress, tail: string): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const values: Record<string, Value> = { ':items': { N: String(progress.items) }, ':ttl': { N: String(this.expiry()) }, ':owner': { S: owner } };
    let set = 'SET #items = :items, #ttl = :ttl';
    if (progress.cursor !== undefined) {
      set += ', #cursor = :cursor';
      values[':cursor'] = { S: progress.cursor };
    }
    try {
      await (await this.dynamo()).send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(jid),
        UpdateExpression: `${set}${tail}`,
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: pick('#items', '#ttl', '#owner', ...(progress.cursor === undefined ? [] : ['#cursor' as const]), ...(tail === '' ? [] : ['#until' as const])),
        ExpressionAttributeValues: values,
      }));
    } catch (error) {
      throw isConditionFailure(error) ? new IterationLostError(jid) : error;
    }
  }

  private key(jid: string): Record<string, { S: string }> {
    const { pk, sk } = iterationKey(jid);
    return { [STATE_TABLE.partitionKey]: { S: pk }, [STATE_TABLE.sortKey]: { S: sk } };
  }

  private expiry(): number {
    return Math.floor(this.now().getTime() / 1000) + this.ttlDays * 86_400;
  }
}

/** The expression attribute names an expression uses (DynamoDB rejects unused ones). */
function pick(...names: readonly (keyof typeof NAMES)[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, NAMES[name]]));
}
