/**
 * Batch bookkeeping in the state table: sends the writes planned in ./plan.ts and turns cancelled
 * transactions into their meaning — a duplicate (nothing to do), a job in another status than
 * assumed (plan again from the status DynamoDB returned), a missing batch, or contention (back off
 * and retry, a bounded number of times).
 *
 * Loads the DynamoDB SDK only on first use (../dynamo-sdk.ts), so workers can import it lazily.
 */
import type { AttributeValue, BatchGetItemCommand, BatchGetItemCommandOutput, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { cancellationReasons, conditionFailureItem, isConditionFailure, lazyClient, loadDynamoSdk, type CancellationReason, type StateCommands } from '../aws/dynamo.js';
import { batchKey } from '../storage/keys.js';
import type { Random } from '../common/random.js';
import { BatchContentionError, BatchFinishedError, BatchNotFoundError } from '../errors/batch.js';
import { eventAttributes, readBatchItem, readJobStatus, transitionDeltas, type BatchState, type CallbackEvent, type JobOutcome, type JobStatus } from './model.js';
import {
  JOBS_PER_TRANSACTION, planClaim, planClaimCallbackRun, planCreateChild, planMarkCallbackDone, planCreateRoot, planMarkSent, planOpen, planRegister, planSeal, planTransitions, planUnregister,
  registeredEvents, type ClaimOptions, type NewBatch, type PlanContext, type StatusChange,
} from './plan.js';

/** Defaults of {@link BatchStore}. */
export const BATCH_STORE_DEFAULTS = {
  /** Days batch and job items are kept (from their creation) before DynamoDB's TTL deletes them. */
  retentionDays: 30,
  /** Transactions tried per call before giving up under contention. */
  maxAttempts: 8,
  /** Upper bound of one backoff pause, milliseconds. */
  maxBackoffMs: 400,
} as const;

/** Options of {@link BatchStore}. */
export interface BatchStoreOptions {
  readonly tableName: string;
  /** A client, or a function that makes one on first use. */
  readonly client: StateCommands | (() => Promise<StateCommands>);
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default 30 */
  readonly retentionDays?: number;
  /** @default 8 */
  readonly maxAttempts?: number;
  /** Jitter of the backoff between contended attempts. @default Math.random */
  readonly random?: Random;
}

/** A report about one job of a batch. */
export interface JobReport {
  readonly jid: string;
  readonly to: JobOutcome;
  /** The status the job is believed to have; a wrong guess costs one more transaction. @default 'pending' */
  readonly from?: JobStatus;
}

/** What {@link BatchStore.record} did. */
export interface RecordResult {
  /** Changes written (each moved the counters once). */
  readonly applied: readonly StatusChange[];
  /** Reports that changed nothing: the job was already there, or is not in the batch. */
  readonly ignored: readonly { readonly jid: string; readonly status: JobStatus | 'not-in-batch' }[];
  /** True when the batch item itself is gone (expired): nothing was recorded. */
  readonly batchMissing: boolean;
}

/** Batch bookkeeping on the state table. Safe to share across concurrent calls. */
export class BatchStore {
  readonly tableName: string;
  private readonly dynamo: () => Promise<StateCommands>;
  private readonly now: () => Date;
  private readonly retentionDays: number;
  private readonly maxAttempts: number;
  private readonly random: Random;

  constructor(options: BatchStoreOptions) {
    this.tableName = options.tableName;
    this.dynamo = lazyClient(options.client);
    this.now = options.now ?? (() => new Date());
    this.retentionDays = options.retentionDays ?? BATCH_STORE_DEFAULTS.retentionDays;
    this.maxAttempts = options.maxAttempts ?? BATCH_STORE_DEFAULTS.maxAttempts;
    this.random = options.random ?? Math.random;
  }

  /**
   * Creates a batch (a child batch is counted in its parent in the same transaction).
   *
   * @returns `created: false` when a batch with this bid already exists (creation is idempotent).
   * @throws BatchNotFoundError when the parent does not exist; BatchFinishedError when it has succeeded.
   */
  async create(batch: NewBatch): Promise<{ created: boolean }> {
    const context = this.context();
    const { PutItemCommand, TransactWriteItemsCommand } = await loadDynamoSdk();
    const client = await this.dynamo();
    const parent = batch.parent;
    if (parent === undefined) {
      try {
        await client.send(new PutItemCommand(planCreateRoot(batch, context)));
        return { created: true };
      } catch (error) {
        if (isConditionFailure(error)) return { created: false };
        throw error;
      }
    }
    return this.withContention<{ created: boolean }>(batch.bid, async () => {
      try {
        await client.send(new TransactWriteItemsCommand({ TransactItems: planCreateChild({ ...batch, parent }, context) }));
        return { done: true, value: { created: true } };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) throw error;
        if (failed(reasons[1])) return { done: true, value: { created: false } };
        const parentReason = reasons[0];
        if (failed(parentReason)) throw parentReason?.Item === undefined ? new BatchNotFoundError(parent) : new BatchFinishedError(parent);
        return { done: false, cause: error };
      }
    });
  }

  /**
   * Adds `jids` to batch `bid` as pending, before they are sent. Jobs already in the batch are
   * counted once (adding again is safe). Up to 99 jobs per transaction.
   *
   * @returns the jids added now and those that were already in the batch.
   * @throws BatchNotFoundError; BatchFinishedError when the batch has succeeded and some jid is new.
   */
  async register(bid: string, jids: readonly string[]): Promise<{ added: string[]; alreadyIn: string[] }> {
    const added: string[] = [];
    const alreadyIn: string[] = [];
    const unique = [...new Set(jids)];
    for (let start = 0; start < unique.length; start += JOBS_PER_TRANSACTION) {
      let remaining = unique.slice(start, start + JOBS_PER_TRANSACTION);
      await this.withContention(bid, async () => {
        if (remaining.length === 0) return { done: true, value: undefined };
        try {
          await this.transact(planRegister(bid, remaining, this.context()));
          added.push(...remaining);
          return { done: true, value: undefined };
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (reasons === undefined) throw error;
          const present = remaining.filter((_, index) => failed(reasons[index + 1]));
          alreadyIn.push(...present);
          remaining = remaining.filter((jid) => !present.includes(jid));
          const batchReason = reasons[0];
          if (failed(batchReason)) {
            if (batchReason?.Item === undefined) throw new BatchNotFoundError(bid);
            if (remaining.length > 0) throw new BatchFinishedError(bid);
          }
          // Jobs already in the batch are not contention: plan again at once without them.
          return present.length > 0 ? { done: false, retryNow: true } : { done: false, cause: error };
        }
      });
    }
    return { added, alreadyIn };
  }

  /** Takes registered jobs that could not be sent out of the batch again (those still pending). */
  async unregister(bid: string, jids: readonly string[]): Promise<void> {
    let remaining = [...new Set(jids)];
    await this.withContention(bid, async () => {
      if (remaining.length === 0) return { done: true, value: undefined };
      try {
        await this.transact(planUnregister(bid, remaining, this.context()));
        return { done: true, value: undefined };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) throw error;
        if (failed(reasons[0])) return { done: true, value: undefined };
        const moved = remaining.filter((_, index) => failed(reasons[index + 1]));
        remaining = remaining.filter((jid) => !moved.includes(jid));
        return moved.length > 0 ? { done: false, retryNow: true } : { done: false, cause: error };
      }
    });
  }

  /**
   * Records what happened to jobs of batch `bid`, all in one transaction per 99 jobs, each change
   * conditional on the job's previous status. A report that would change nothing (a duplicate, a
   * success after success) is ignored, so this is idempotent under duplicate delivery.
   */
  async record(bid: string, reports: readonly JobReport[]): Promise<RecordResult> {
    const byJid = new Map<string, { jid: string; from: JobStatus; to: JobOutcome }>();
    for (const report of reports) byJid.set(report.jid, { jid: report.jid, from: report.from ?? 'pending', to: report.to });
    const applied: StatusChange[] = [];
    const ignored: { jid: string; status: JobStatus | 'not-in-batch' }[] = [];
    let batchMissing = false;
    const all = [...byJid.values()];
    for (let start = 0; start < all.length && !batchMissing; start += JOBS_PER_TRANSACTION) {
      let changes = all.slice(start, start + JOBS_PER_TRANSACTION);
      await this.withContention(bid, async () => {
        const moving = changes.filter((change) => transitionDeltas(change.from, change.to) !== undefined);
        for (const change of changes) if (!moving.includes(change)) ignored.push({ jid: change.jid, status: change.from });
        changes = moving;
        if (changes.length === 0) return { done: true, value: undefined };
        try {
          await this.transact(planTransitions(bid, changes, this.context()));
          applied.push(...changes);
          return { done: true, value: undefined };
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (reasons === undefined) throw error;
          if (failed(reasons[0])) {
            batchMissing = true;
            return { done: true, value: undefined };
          }
          let replanned = false;
          changes = changes.flatMap((change, index) => {
            const reason = reasons[index + 1];
            if (!failed(reason)) return [change];
            replanned = true;
            const status = readJobStatus(reason?.Item);
            if (status === undefined) {
              ignored.push({ jid: change.jid, status: 'not-in-batch' });
              return [];
            }
            return [{ ...change, from: status }];
          });
          return replanned ? { done: false, retryNow: true } : { done: false, cause: error };
        }
      });
    }
    return { applied, ignored, batchMissing };
  }

  /**
   * Seals batch `bid` (see `planSeal`): from now on its callbacks fire when its jobs are done.
   *
   * @returns `sealed: false` when it was sealed already (sealing is idempotent).
   * @throws BatchNotFoundError when the batch does not exist.
   */
  async seal(bid: string): Promise<{ sealed: boolean }> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new UpdateItemCommand(planSeal(bid, this.context())));
      return { sealed: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      if (conditionFailureItem(error) === undefined) throw new BatchNotFoundError(bid);
      return { sealed: false };
    }
  }

  /** Opens (+1) or closes (−1) a fill; callbacks wait while a fill is open. */
  async open(bid: string, delta: 1 | -1): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new UpdateItemCommand(planOpen(bid, delta, this.context())));
    } catch (error) {
      if (isConditionFailure(error)) throw new BatchNotFoundError(bid);
      throw error;
    }
  }

  /** Reads batch `bid` (strongly consistent), or undefined when it does not exist. */
  async get(bid: string): Promise<BatchState | undefined> {
    const { GetItemCommand } = await loadDynamoSdk();
    const key = batchKey(bid);
    const output = await (await this.dynamo()).send(new GetItemCommand({
      TableName: this.tableName,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      ConsistentRead: true,
    }));
    return output.Item === undefined ? undefined : readBatchItem(output.Item);
  }

  /**
   * Claims those of `events` not yet claimed, in one transaction. A child batch's claim also moves
   * its parent (see `planClaim`); when the parent is gone the claim is made without it.
   *
   * @returns the events this call claimed (empty when earlier calls claimed them all).
   */
  async claim(state: BatchState, events: readonly CallbackEvent[]): Promise<CallbackEvent[]> {
    let pending = [...events];
    let options: ClaimOptions = { withParent: state.parent !== undefined };
    return this.withContention(state.bid, async () => {
      if (pending.length === 0) return { done: true, value: [] };
      try {
        await this.transact(planClaim(state, pending, this.context(), options));
        return { done: true, value: pending };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) throw error;
        const batchReason = reasons[0];
        if (failed(batchReason)) {
          // Claimed before (by an earlier delivery of a record): plan again for what is left.
          const current = batchReason?.Item === undefined ? undefined : readBatchItem(batchReason.Item);
          if (current === undefined) return { done: true, value: [] };
          pending = pending.filter((event) => current.claimedAt[event] === undefined);
          return { done: false, retryNow: true };
        }
        if (failed(reasons[1])) {
          options = { withParent: false };
          return { done: false, retryNow: true };
        }
        const registered = registeredEvents(state, pending, options);
        const present = registered.filter((_, index) => failed(reasons[index + 2]));
        if (present.length > 0) {
          // The parent already holds these callback jobs: count the children without adding them again.
          options = { ...options, registerInParent: registered.filter((event) => !present.includes(event)) };
          return { done: false, retryNow: true };
        }
        return { done: false, cause: error };
      }
    });
  }

  /**
   * Claims the run of a callback job for one SQS message (see `planClaimCallbackRun`); `retry` for
   * a job that failed before.
   *
   * @returns `run` when this message may run it (also when the batch is gone: nothing to check
   *   against), `duplicate` when another message of the same callback job holds the run, `done`
   *   when the job already ran to success.
   */
  async claimCallbackRun(bid: string, event: CallbackEvent, messageId: string, options: { readonly retry?: boolean } = {}): Promise<'run' | 'duplicate' | 'done'> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new UpdateItemCommand(planClaimCallbackRun(bid, event, messageId, { tableName: this.tableName, ...options })));
      return 'run';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const item = conditionFailureItem(error);
      if (item === undefined) return 'run';
      return item[eventAttributes(event).doneAt] === undefined ? 'duplicate' : 'done';
    }
  }

  /** Marks a callback job done (see `planMarkCallbackDone`); marking again changes nothing. */
  async markCallbackDone(bid: string, event: CallbackEvent): Promise<void> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new UpdateItemCommand(planMarkCallbackDone(bid, event, { tableName: this.tableName, now: this.now() })));
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw error;
    }
  }

  /** Marks the callback jobs of `events` as sent; marking again changes nothing. */
  async markSent(bid: string, events: readonly CallbackEvent[]): Promise<void> {
    if (events.length === 0) return;
    const { UpdateItemCommand } = await loadDynamoSdk();
    try {
      await (await this.dynamo()).send(new UpdateItemCommand(planMarkSent(bid, events, { tableName: this.tableName, now: this.now() })));
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw error;
    }
  }

  private context(): PlanContext {
    const now = this.now();
    return { tableName: this.tableName, now, ttl: Math.floor(now.getTime() / 1000) + this.retentionDays * 86_400 };
  }


  private async transact(items: TransactWriteItem[]): Promise<void> {
    const { TransactWriteItemsCommand } = await loadDynamoSdk();
    await (await this.dynamo()).send(new TransactWriteItemsCommand({ TransactItems: items }));
  }

  /**
   * Runs `attempt` until it is done: at once again when it re-planned from returned items, after a
   * jittered pause when a transaction was cancelled by a concurrent one.
   */
  private async withContention<T>(bid: string, attempt: () => Promise<Attempt<T>>): Promise<T> {
    let contended = 0;
    let lastCause: unknown;
    // Re-planning drops at least one job per round, so rounds are bounded by the jobs plus the
    // contended attempts.
    for (let round = 0; round < JOBS_PER_TRANSACTION + this.maxAttempts + 2; round += 1) {
      const result = await attempt();
      if (result.done) return result.value;
      if (result.retryNow === true) continue;
      // Only a concurrent write or throttling is worth waiting out; anything else is a defect.
      if (!isContention(result.cause)) throw result.cause;
      contended += 1;
      lastCause = result.cause;
      if (contended >= this.maxAttempts) break;
      const ceiling = Math.min(BATCH_STORE_DEFAULTS.maxBackoffMs, 10 * 2 ** contended);
      await new Promise((resolve) => setTimeout(resolve, Math.round(this.random() * ceiling)));
    }
    throw new BatchContentionError(bid, contended, { cause: lastCause });
  }
}

type Attempt<T> =
  | { readonly done: true; readonly value: T }
  | { readonly done: false; readonly retryNow?: boolean; readonly cause?: unknown };

const CONTENTION_CODES: ReadonlySet<string> = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

function isContention(error: unknown): boolean {
  const reasons = cancellationReasons(error);
  return reasons !== undefined && reasons.some((reason) => reason?.Code !== undefined && CONTENTION_CODES.has(reason.Code));
}

function failed(reason: CancellationReason | undefined): boolean {
  return reason?.Code === 'ConditionalCheckFailed';
}

/** What {@link readBatches} sends; a `DynamoDBClient` satisfies it. */
export interface BatchReadClient {
  send(command: BatchGetItemCommand): Promise<BatchGetItemCommandOutput>;
}

/** Keys per `BatchGetItem` (DynamoDB's maximum). */
const KEYS_PER_BATCH_GET = 100;
/** Tries of the keys DynamoDB leaves unprocessed (throttled), 50 ms doubling between them. */
const UNPROCESSED_TRIES = 5;

/**
 * The batches of `bids` that exist, by bid: one consistent `BatchGetItem` per 100 bids instead of a
 * `GetItem` each (a page of the batch list is 25); keys DynamoDB leaves unprocessed are asked for
 * again, and those still unprocessed after {@link UNPROCESSED_TRIES} tries make it throw.
 */
export async function readBatches(client: BatchReadClient, tableName: string, bids: readonly string[], sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms))): Promise<Map<string, BatchState>> {
  const { BatchGetItemCommand: Command } = await loadDynamoSdk();
  const found = new Map<string, BatchState>();
  const unique = [...new Set(bids)];
  for (let start = 0; start < unique.length; start += KEYS_PER_BATCH_GET) {
    let keys: Record<string, AttributeValue>[] | undefined = unique.slice(start, start + KEYS_PER_BATCH_GET).map((bid) => {
      const key = batchKey(bid);
      return { pk: { S: key.pk }, sk: { S: key.sk } };
    });
    for (let attempt = 1; keys !== undefined && keys.length > 0; attempt += 1) {
      if (attempt > UNPROCESSED_TRIES) throw new Error(`DynamoDB left ${keys.length} batch item(s) of ${tableName} unprocessed after ${UNPROCESSED_TRIES} tries`);
      if (attempt > 1) await sleep(50 * 2 ** (attempt - 2));
      const output = await client.send(new Command({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of output.Responses?.[tableName] ?? []) {
        const state = readBatchItem(item);
        if (state !== undefined) found.set(state.bid, state);
      }
      keys = output.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return found;
}
