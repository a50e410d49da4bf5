/**
 * Unique-job locks in the state table (plans in ./lock.ts). Loads the DynamoDB SDK on first use,
 * so workers can import it lazily.
 */
import { conditionFailureItem, isConditionFailure, lazyClient, loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import type { Job } from '../job/model.js';
import { NotUniqueError } from '../errors/unique.js';
import { planAcquire, planRelease, uniqueSpecOf } from './lock.js';

/** Options of {@link UniqueLocks}. */
export interface UniqueLocksOptions {
  readonly tableName: string;
  /** A client, or a function that makes one on first use. */
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** Takes and gives back unique-job locks. */
export class UniqueLocks {
  private readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly now: () => Date;

  constructor(options: UniqueLocksOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Takes the lock of `job` (due at `dueMs`); a job without `custom.unique_for` needs none.
   *
   * @throws NotUniqueError carrying the holder's jid when another job holds it.
   */
  async acquire(job: Job, dueMs: number): Promise<void> {
    const spec = uniqueSpecOf(job);
    if (spec === undefined) return;
    const { PutItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new PutItemCommand(planAcquire(job, spec, { tableName: this.tableName, nowMs: this.now().getTime(), dueMs })));
    } catch (error) {
      const holder = conditionFailureItem(error);
      if (isConditionFailure(error)) throw new NotUniqueError(job.jid, holder?.jid?.S ?? 'unknown', holder?.expires_at?.S);
      throw error;
    }
  }

  /**
   * Gives the lock of `job` back if `job` holds it.
   *
   * @returns true when a lock was released, false when `job` did not hold one (released already,
   *   expired and taken by another job, or never taken).
   */
  async release(job: Job): Promise<boolean> {
    if (uniqueSpecOf(job) === undefined) return false;
    const { DeleteItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new DeleteItemCommand(planRelease(job, this.tableName)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

}
