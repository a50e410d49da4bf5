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
import { eventAttributes, readBatchItem, readJobStatus, type BatchState, type CallbackEvent, type CounterDeltas, type JobOutcome, type JobStatus } from './model.js';
import {
  JOBS_PER_TRANSACTION, paddedSequence, planClaim, planClaimCallbackRun, planCreateChild, planMarkCallbackDone, planCreateRoot, planMarkSent, planOpen, planOutcome, planRegister, planSeal,
  planTally, planUnsent, registeredEvents, registrationsOf, sumDeltas, type ClaimOptions, type NewBatch, type PlanContext,
  type TalliedRange,
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
}

/** What {@link BatchStore.record} did. */
export interface RecordResult {
  /** Outcomes written (each is counted once by the batch function). */
  readonly applied: readonly JobReport[];
  /** Reports that changed nothing, with the status the job had (a duplicate, a success after success). */
  readonly ignored: readonly { readonly jid: string; readonly status: JobStatus }[];
}

/** One job record to count in (see {@link BatchStore.tally}). */
export interface TallyEntry {
  readonly sequenceNumber: string;
  /** The batch item attribute guarding the record's job item shard (model.ts `talliedSeqAttribute`). */
  readonly guard: string;
  readonly deltas: CounterDeltas;
}

/** Outcome writes of one `record` call in flight at once. */
const OUTCOMES_IN_FLIGHT = 25;

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
   * Adds `jids` to batch `bid` as pending, before they are sent: one add item and the batch's
   * counters per {@link JOBS_PER_REGISTRATION} jobs (see `registrationsOf`). Registering the same
   * jobs again (a retried call) counts nothing twice, and counts again those it took out as unsent.
   *
   * @returns the jids added now and those that were already in the batch.
   * @throws BatchNotFoundError; BatchFinishedError when the batch has succeeded and some jid is new.
   */
  async register(bid: string, jids: readonly string[]): Promise<{ added: string[]; alreadyIn: string[] }> {
    const added: string[] = [];
    const alreadyIn: string[] = [];
    for (const registration of registrationsOf(jids)) {
      await this.withContention(bid, async () => {
        try {
          await this.transact(planRegister(bid, registration, this.context()));
          added.push(...registration.jids);
          return { done: true, value: undefined };
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (reasons === undefined) throw error;
          const addReason = reasons[1];
          if (failed(addReason)) {
            // Registered before: count again only the jobs taken out as unsent since.
            const unsent = new Set(addReason?.Item?.unsent?.SS ?? []);
            const back = registration.jids.filter((jid) => unsent.has(jid));
            if (back.length > 0) await this.moveUnsent(bid, registration.digest, back, 'in', Number(addReason?.Item?.v?.N ?? '0'));
            added.push(...back);
            alreadyIn.push(...registration.jids.filter((jid) => !unsent.has(jid)));
            return { done: true, value: undefined };
          }
          const batchReason = reasons[0];
          if (failed(batchReason)) throw batchReason?.Item === undefined ? new BatchNotFoundError(bid) : new BatchFinishedError(bid);
          return { done: false, cause: error };
        }
      });
    }
    return { added, alreadyIn };
  }

  /**
   * Takes jobs that were registered (`registered`, the jids of that `register` call) but could not
   * be sent (`unsent`) out of the batch again.
   */
  async unregister(bid: string, registered: readonly string[], unsent: readonly string[]): Promise<void> {
    const out = new Set(unsent);
    for (const registration of registrationsOf(registered)) {
      const jids = registration.jids.filter((jid) => out.has(jid));
      if (jids.length > 0) await this.moveUnsent(bid, registration.digest, jids, 'out');
    }
  }

  /**
   * Moves `jids` of one registration out of the batch (into its `unsent` set) or back in, each jid
   * once: the version condition makes a concurrent mover plan again from the item it returns.
   */
  private async moveUnsent(bid: string, digest: string, jids: readonly string[], direction: 'in' | 'out', knownVersion = 0): Promise<void> {
    let version = knownVersion;
    let moving = [...jids];
    await this.withContention(bid, async () => {
      if (moving.length === 0) return { done: true, value: undefined };
      try {
        await this.transact(planUnsent(bid, digest, { jids: moving, direction, version }, this.context()));
        return { done: true, value: undefined };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) throw error;
        const addReason = reasons[1];
        if (failed(reasons[0]) && !failed(addReason)) {
          if (direction === 'out') return { done: true, value: undefined };
          throw reasons[0]?.Item === undefined ? new BatchNotFoundError(bid) : new BatchFinishedError(bid);
        }
        if (!failed(addReason)) return { done: false, cause: error };
        const item = addReason?.Item;
        if (item === undefined) return { done: true, value: undefined };
        version = Number(item.v?.N ?? '0');
        const unsent = new Set(item.unsent?.SS ?? []);
        moving = moving.filter((jid) => unsent.has(jid) === (direction === 'in'));
        return { done: false, retryNow: true };
      }
    });
  }

  /**
   * Writes what happened to jobs of batch `bid`: one conditional write per job item (see
   * `planOutcome`), sent side by side. A report that would change nothing (a duplicate, a success
   * after success) fails its condition and is ignored, so this is idempotent under duplicate
   * delivery. The batch's counters move when the batch function counts the writes from the stream.
   */
  async record(bid: string, reports: readonly JobReport[]): Promise<RecordResult> {
    const byJid = new Map<string, JobReport>();
    for (const report of reports) byJid.set(report.jid, report);
    const { UpdateItemCommand } = await loadDynamoSdk();
    const client = await this.dynamo();
    const applied: JobReport[] = [];
    const ignored: { jid: string; status: JobStatus }[] = [];
    const context = this.context();
    const all = [...byJid.values()];
    // Throttling is waited out as contention is (withContention); a failed condition is a duplicate.
    const writeOne = (report: JobReport): Promise<void> => this.withContention(bid, async () => {
      try {
        await client.send(new UpdateItemCommand(planOutcome(bid, report.jid, report.to, context)));
        applied.push(report);
      } catch (error) {
        if (!isConditionFailure(error)) return { done: false, cause: error };
        ignored.push({ jid: report.jid, status: readJobStatus(conditionFailureItem(error)) ?? 'pending' });
      }
      return { done: true, value: undefined };
    });
    for (let start = 0; start < all.length; start += OUTCOMES_IN_FLIGHT) {
      await Promise.all(all.slice(start, start + OUTCOMES_IN_FLIGHT).map(writeOne));
    }
    return { applied, ignored };
  }

  /**
   * Counts job records of batch `bid` into its counters, once (see `planTally`): `entries` in stream
   * order within each job item shard, each with its sequence number, shard guard and counter
   * deltas. Records at or before their shard's guard were counted by an earlier delivery and are
   * dropped.
   *
   * @returns how many entries were counted now, and whether the batch is gone (nothing counted).
   */
  async tally(bid: string, entries: readonly TallyEntry[]): Promise<{ counted: number; batchMissing: boolean }> {
    const { UpdateItemCommand } = await loadDynamoSdk();
    const client = await this.dynamo();
    let remaining = [...entries];
    let batchMissing = false;
    const counted = await this.withContention(bid, async () => {
      if (remaining.length === 0) return { done: true, value: 0 };
      try {
        await client.send(new UpdateItemCommand(planTally(bid, sumDeltas(remaining.map((entry) => entry.deltas)), talliedRanges(remaining), { tableName: this.tableName })));
        return { done: true, value: remaining.length };
      } catch (error) {
        if (isThrottling(error)) return { done: false, cause: error };
        if (!isConditionFailure(error)) throw error;
        const item = conditionFailureItem(error);
        if (item === undefined) {
          batchMissing = true;
          return { done: true, value: 0 };
        }
        remaining = remaining.filter((entry) => paddedSequence(entry.sequenceNumber) > (item[entry.guard]?.S ?? ''));
        return { done: false, retryNow: true };
      }
    });
    return { counted, batchMissing };
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
      if (!isContention(result.cause) && !isThrottling(result.cause)) throw result.cause;
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

/** A single-item write DynamoDB refused for throughput: worth waiting out. */
function isThrottling(error: unknown): boolean {
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
  return name === 'ProvisionedThroughputExceededException' || name === 'ThrottlingException' || name === 'RequestLimitExceeded';
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

/** Each shard's first and last sequence numbers among `entries` (in stream order within a shard). */
export function talliedRanges(entries: readonly TallyEntry[]): TalliedRange[] {
  const ranges = new Map<string, { guard: string; first: string; last: string }>();
  for (const entry of entries) {
    const range = ranges.get(entry.guard);
    if (range === undefined) ranges.set(entry.guard, { guard: entry.guard, first: entry.sequenceNumber, last: entry.sequenceNumber });
    else range.last = entry.sequenceNumber;
  }
  return [...ranges.values()];
}
