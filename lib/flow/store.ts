/**
 * Flow items in the state table: created once (a conditional put), read strongly consistent, and
 * changed by read, compute (./engine.ts), write conditional on the version read. Two steps that
 * settle at once both read version n; one writes n + 1, the other's condition fails and it computes
 * again from the item the failure returns. So every transition is made by exactly one write, which
 * is what lets the batch function act on each once (./stream.ts).
 *
 * Loads the DynamoDB SDK only on first use.
 */
import { conditionFailureItem, isConditionFailure, lazyClient, loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import { HopperError } from '../errors/base.js';
import { FlowNotFoundError } from '../errors/flow.js';
import { flowKey } from '../storage/keys.js';
import { progressAttributes, readFlowItem } from './item.js';
import type { FlowPlan, FlowProgress, FlowState } from './model.js';

/** Defaults of {@link FlowStore}. */
export const FLOW_STORE_DEFAULTS = {
  /** Days a flow item is kept (from its creation), as batches are. */
  retentionDays: 30,
  /** Conditional writes tried per change before giving up (each loses only to another change). */
  maxAttempts: 20,
} as const;

/** Options of {@link FlowStore}. */
export interface FlowStoreOptions {
  readonly tableName: string;
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default 30 */
  readonly retentionDays?: number;
}

/** A new flow item. */
export interface NewFlow {
  readonly id: string;
  readonly description?: string;
  readonly plan: FlowPlan;
  readonly progress: FlowProgress;
}

/** Flow items of the state table. Safe to share across concurrent calls. */
export class FlowStore {
  readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly now: () => Date;
  private readonly retentionDays: number;

  constructor(options: FlowStoreOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.now = options.now ?? (() => new Date());
    this.retentionDays = options.retentionDays ?? FLOW_STORE_DEFAULTS.retentionDays;
  }

  /**
   * Creates the flow item; its stream record starts the root steps.
   *
   * @returns `created: false` when a flow with this id exists (it is left as it is).
   */
  async create(flow: NewFlow): Promise<{ created: boolean }> {
    const { PutItemCommand } = await loadDynamoSdk();
    const now = this.now();
    const key = flowKey(flow.id);
    const { set } = progressAttributes(flow.progress);
    try {
      await (await this.dynamo()).send(new PutItemCommand({
        TableName: this.tableName,
        Item: {
          pk: { S: key.pk },
          sk: { S: key.sk },
          flow_id: { S: flow.id },
          created_at: { S: now.toISOString() },
          ...(flow.description === undefined ? {} : { description: { S: flow.description } }),
          plan: { S: JSON.stringify(flow.plan) },
          ...set,
          v: { N: '0' },
          ttl: { N: String(Math.floor(now.getTime() / 1000) + this.retentionDays * 86_400) },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      return { created: true };
    } catch (error) {
      if (isConditionFailure(error)) return { created: false };
      throw error;
    }
  }

  /** Reads flow `id` (strongly consistent), or undefined when it does not exist. */
  async get(id: string): Promise<FlowState | undefined> {
    const { GetItemCommand } = await loadDynamoSdk();
    const key = flowKey(id);
    const output = await (await this.dynamo()).send(new GetItemCommand({
      TableName: this.tableName,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      ConsistentRead: true,
    }));
    return output.Item === undefined ? undefined : readFlowItem(output.Item);
  }

  /**
   * Changes flow `id` as `change` computes from its current state (undefined: nothing to change),
   * on condition that nobody changed it since it was read; computes again when somebody did.
   *
   * @returns the state written, or undefined when `change` changed nothing.
   * @throws FlowNotFoundError; a HopperError after {@link FLOW_STORE_DEFAULTS.maxAttempts} lost races.
   */
  async change(id: string, change: (state: FlowState) => FlowProgress | undefined): Promise<FlowState | undefined> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const client = await this.dynamo();
    let state = await this.get(id);
    for (let attempt = 1; attempt <= FLOW_STORE_DEFAULTS.maxAttempts; attempt += 1) {
      if (state === undefined) throw new FlowNotFoundError(id);
      const progress = change(state);
      if (progress === undefined) return undefined;
      const { set, remove } = progressAttributes(progress);
      const names = Object.fromEntries([...Object.keys(set), ...remove, 'v'].map((name) => [`#${name}`, name]));
      const key = flowKey(id);
      try {
        await client.send(new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: `SET ${[...Object.keys(set).map((name) => `#${name} = :${name}`), '#v = :next'].join(', ')}${remove.length === 0 ? '' : ` REMOVE ${remove.map((name) => `#${name}`).join(', ')}`}`,
          ConditionExpression: '#v = :v',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ...Object.fromEntries(Object.entries(set).map(([name, value]) => [`:${name}`, value])),
            ':v': { N: String(state.version) },
            ':next': { N: String(state.version + 1) },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }));
        return { ...state, ...progress, version: state.version + 1 };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const item = conditionFailureItem(error);
        state = item === undefined ? undefined : readFlowItem(item);
      }
    }
    throw new HopperError(`flow ${JSON.stringify(id)}: ${FLOW_STORE_DEFAULTS.maxAttempts} changes lost to concurrent ones`);
  }

  /** Marks the flow's callback jobs sent (once per settling: a retry clears the mark). */
  async markCallbacksSent(id: string): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const key = flowKey(id);
    try {
      await (await this.dynamo()).send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        UpdateExpression: 'SET #sent = :now',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#sent)',
        ExpressionAttributeNames: { '#sent': 'callbacks_sent_at' },
        ExpressionAttributeValues: { ':now': { S: this.now().toISOString() } },
      }));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
