/**
 * Debounce items in the state table (plans in ./plan.ts). Loads the DynamoDB SDK on first use, so
 * workers and clients import it lazily.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isConditionFailure, lazyClient, loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import { debounceOf } from '../job/debounce.js';
import type { Job } from '../job/model.js';
import { DEBOUNCE_VERDICT, planMark, planRead, planRestore, planSettle, verdictOf, type DebounceVerdict } from './plan.js';

/** The item a mark replaced (undefined when the key had none), for {@link DebounceItems.restore}. */
export type ReplacedItem = Readonly<Record<string, AttributeValue>> | undefined;

/** Options of {@link DebounceItems}. */
export interface DebounceItemsOptions {
  readonly tableName: string;
  /** A client, or a function that makes one on first use. */
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** Writes and reads the items of debounced jobs (`custom.debounce`). */
export class DebounceItems {
  private readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly now: () => Date;

  constructor(options: DebounceItemsOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Names `job` (due at `dueMs`) in its key's item, whatever the item named before: one write.
   *
   * @returns the item replaced, to put back if `job` is not sent.
   */
  async mark(job: Job, dueMs: number): Promise<ReplacedItem> {
    const spec = debounceOf(job);
    if (spec === undefined) return undefined;
    const { PutItemCommand } = await loadDynamoSdk();
    const output = await (await this.dynamo()).send(new PutItemCommand(planMark(job, spec, { tableName: this.tableName, nowMs: this.now().getTime(), dueMs })));
    return output.Attributes;
  }

  /** Undoes `job`'s mark (it was not sent) while the item still names it; a newer mark is kept. */
  async restore(job: Job, replaced: ReplacedItem): Promise<void> {
    const spec = debounceOf(job);
    if (spec === undefined) return;
    const { PutItemCommand, DeleteItemCommand } = await loadDynamoSdk();
    const plan = planRestore(job, spec, replaced, this.tableName);
    const dynamo = await this.dynamo();
    try {
      if ('put' in plan) await dynamo.send(new PutItemCommand(plan.put));
      else await dynamo.send(new DeleteItemCommand(plan.delete));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Whether `job` is the last of its key (`run`) or not (`superseded`); a job without a debounce runs. */
  async verdict(job: Job): Promise<DebounceVerdict> {
    const spec = debounceOf(job);
    if (spec === undefined) return DEBOUNCE_VERDICT.run;
    const { GetItemCommand } = await loadDynamoSdk();
    const output = await (await this.dynamo()).send(new GetItemCommand(planRead(spec, this.tableName)));
    return verdictOf(job, output.Item);
  }

  /**
   * Deletes the key's item after `job` succeeded, if it still names `job`.
   *
   * @returns true when it did, false when a newer job holds the key (it runs later) or none does.
   */
  async settle(job: Job): Promise<boolean> {
    const spec = debounceOf(job);
    if (spec === undefined) return false;
    const { DeleteItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new DeleteItemCommand(planSettle(job, spec, this.tableName)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
