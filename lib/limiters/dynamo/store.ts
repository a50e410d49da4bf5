/**
 * The limits-table store: limiter state in DynamoDB, changed only by conditional `UpdateItem`s
 * (see plan.ts). A failed condition returns the item (`ReturnValuesOnConditionCheckFailure:
 * 'ALL_OLD'`), so a retry needs no read; attempts are bounded.
 *
 * Cost per call (on-demand; one write request unit per started KB of the larger of the item's
 * old and new size; failed conditions are charged the same; no reads):
 * - concurrent: 1 write to acquire + 1 to release while the lease item is under 1 KB (about
 *   40 leases); a full limiter answers "no" with 1 write.
 * - window: 1 write per admission or refusal; the item holds one ~20-byte entry per admission
 *   in the trailing window, so a limit of 1,000 makes items of ~20 KB and writes of ~20 units.
 * - bucket, leaky, points: items of under 100 bytes, 1 write per call in a busy limiter, and 1 per
 *   call in a quiet one (calls further apart than it takes to drain) once the store has seen it
 *   quiet; 2 when the regime changes, or a store meets a quiet limiter first; a points settlement
 *   is 1 more.
 * - under contention, only callers whose answer depends on another's write retry.
 */
import type { DynamoDBClient, UpdateItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { dynamoClientOf } from '../../aws/clients.js';
import type { HopperConfig } from '../../config/hopper-config.js';
import { HopperError, isHopperError } from '../../errors/base.js';
import { isRecord } from '../../job/model.js';
import { leakyParams } from '../leaky.js';
import { pointsParams } from '../points.js';
import type { AcquireRequest, AcquireResult, LimiterStore, ReleaseRequest, SettleRequest } from '../store.js';
import type { ItemKey } from '../../storage/keys.js';
import { planAddEntry, planRemoveEntry } from './entry-plans.js';
import { planTakeFromBucket } from './bucket-plans.js';
import { planSettleGcra, planTakeFromGcra } from './gcra-plans.js';
import type { Known, RawItem } from './item.js';
import type { Step } from './plan.js';

/** Options of {@link DynamoLimiterStore}. */
export interface DynamoLimiterStoreOptions {
  /** The limits table (key `pk`, `sk` strings; TTL on `ttl`). */
  readonly tableName: string;
  /** A client, or a function that makes one on first use (so the SDK loads only when a limiter runs). */
  readonly client: DynamoDBClient | (() => Promise<DynamoDBClient>);
  /** Conditional writes per call before giving up under contention. @default 8 */
  readonly maxAttempts?: number;
}

/** Counters of the requests a store made, for cost tests and metrics. */
export interface LimiterStoreUsage {
  /** `UpdateItem` requests sent. */
  readonly requests: number;
  /** Requests whose condition failed (charged like successful writes). */
  readonly conditionFailures: number;
  /** Write capacity units DynamoDB reported for successful requests. */
  readonly writeUnits: number;
}

/** Milliseconds a caller is told to wait when contention outlasted `maxAttempts`. */
export const CONTENTION_RETRY_AFTER_MS = 1_000;

const DEFAULT_MAX_ATTEMPTS = 8;

/** Most items a store remembers as quiet; the longest-remembered go first. */
const MAX_QUIET_KEYS = 10_000;

type Sdk = typeof import('@aws-sdk/client-dynamodb');
let sdk: Promise<Sdk> | undefined;

/** A {@link LimiterStore} on the limits table. Safe to share across concurrent calls. */
export class DynamoLimiterStore implements LimiterStore {
  private readonly tableName: string;
  private readonly clientSource: DynamoLimiterStoreOptions['client'];
  private client: Promise<DynamoDBClient> | undefined;
  private readonly maxAttempts: number;
  private counters = { requests: 0, conditionFailures: 0, writeUnits: 0 };
  /** Counting items whose last write by this store started them afresh → when they are due again (see `rememberRegime`). */
  private readonly quiet = new Map<string, number>();

  constructor(options: DynamoLimiterStoreOptions) {
    this.tableName = options.tableName;
    this.clientSource = options.client;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /** What this store has sent so far. */
  get usage(): LimiterStoreUsage {
    return { ...this.counters };
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const { spec, nowMs } = request;
    const plan = (known: Known): Step => {
      switch (spec.type) {
        case 'concurrent':
        case 'window':
          return planAddEntry(spec, request.token, nowMs, known);
        case 'bucket':
          return planTakeFromBucket(spec, nowMs, known);
        case 'leaky':
          return planTakeFromGcra(leakyParams(spec), 1n, nowMs, known);
        case 'points':
          return planTakeFromGcra(pointsParams(spec), BigInt(request.cost), nowMs, known);
      }
    };
    // A counting item (bucket, leaky, points) that this store last started afresh, and that is due
    // for a fresh start again by then, is planned as quiet: its restart is then one write, not an
    // assumed-busy write that fails and a second one.
    const id = `${request.key.pk}\n${request.key.sk}`;
    const counting = spec.type === 'bucket' || spec.type === 'leaky' || spec.type === 'points';
    const quietFromMs = counting ? this.quiet.get(id) : undefined;
    const outcome = await this.loop(request.key, plan, quietFromMs !== undefined && nowMs >= quietFromMs ? 'absent' : 'unread');
    if (counting && outcome.kind === 'write') this.rememberRegime(id, outcome.quietFromMs);
    if (outcome.kind === 'refuse') return { allowed: false, retryAfterMs: outcome.retryAfterMs };
    if (outcome.kind === 'exhausted') return { allowed: false, retryAfterMs: CONTENTION_RETRY_AFTER_MS };
    return { allowed: true };
  }

  async release(request: ReleaseRequest): Promise<void> {
    await this.loop(request.key, (known) => planRemoveEntry(request.token, known, request.heldMs));
  }

  async settle(request: SettleRequest): Promise<void> {
    const params = pointsParams(request.spec);
    const outcome = await this.loop(request.key, (known) => planSettleGcra(params, BigInt(request.delta), request.nowMs, known));
    if (outcome.kind === 'exhausted') {
      throw new HopperError(`could not settle ${request.delta} points on ${request.key.pk} in ${this.maxAttempts} attempts under contention`);
    }
  }

  /**
   * Notes how the last call's write on item `id` went: it started the item afresh (the limiter was
   * quiet), due for a fresh start again at `quietFromMs`, or it added to a busy item (undefined).
   * A limiter's regime rarely flips from one call to the next: a quiet one (calls further apart
   * than its interval) stays quiet, and a busy one shared by many instances stays busy, so the next
   * call plans for the same regime. A wrong guess costs the write it always cost: the condition
   * fails and the item read back is planned from.
   */
  private rememberRegime(id: string, quietFromMs: number | undefined): void {
    if (quietFromMs === undefined) {
      this.quiet.delete(id);
      return;
    }
    this.quiet.delete(id);
    if (this.quiet.size >= MAX_QUIET_KEYS) {
      // A Map keeps insertion order: the first key is the one noted longest ago.
      const oldest = this.quiet.keys().next();
      if (oldest.done !== true) this.quiet.delete(oldest.value);
    }
    this.quiet.set(id, quietFromMs);
  }

  /** Plans and writes until a write succeeds, a plan refuses or is done, or attempts run out. */
  private async loop(key: ItemKey, plan: (known: Known) => Step, first: Known = 'unread'): Promise<Step | { kind: 'exhausted' }> {
    let known: Known = first;
    for (let attempt = 0; attempt < this.maxAttempts; attempt += 1) {
      const step = plan(known);
      if (step.kind !== 'write') return step;
      const failed = await this.send(key, step);
      if (failed === undefined) return step;
      known = failed.item ?? 'absent';
    }
    return { kind: 'exhausted' };
  }

  /** Sends one planned write; returns the item read back when its condition failed. */
  private async send(key: ItemKey, step: Extract<Step, { kind: 'write' }>): Promise<{ item: RawItem | undefined } | undefined> {
    const [{ UpdateItemCommand }, client] = await Promise.all([loadSdk(), this.getClient()]);
    this.counters.requests += 1;
    let output: UpdateItemCommandOutput;
    try {
      output = await client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: step.plan.update,
          ConditionExpression: step.plan.condition,
          ExpressionAttributeNames: { ...step.plan.names },
          ExpressionAttributeValues: { ...step.plan.values },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
    } catch (error) {
      if (!isHopperError(error, 'ConditionalCheckFailedException')) throw error;
      this.counters.conditionFailures += 1;
      const item = 'Item' in error ? error.Item : undefined;
      return { item: isRecord(item) ? item : undefined };
    }
    this.counters.writeUnits += output.ConsumedCapacity?.CapacityUnits ?? 0;
    return undefined;
  }

  private getClient(): Promise<DynamoDBClient> {
    const source = this.clientSource;
    this.client ??= typeof source === 'function' ? source() : Promise.resolve(source);
    return this.client;
  }
}

/** Loads the DynamoDB SDK once, on first use (a worker that never limits never loads it). */
function loadSdk(): Promise<Sdk> {
  sdk ??= import('@aws-sdk/client-dynamodb');
  return sdk;
}

/**
 * The store a deployed function uses: the limits table named by `HOPPER_LIMITS_TABLE`. Nothing
 * is read or loaded until the first limiter call, so a worker can create it once per container
 * whether or not its handlers use limiters.
 *
 * @throws ConfigurationError on first use when `HOPPER_LIMITS_TABLE` is not set.
 */
export function limiterStoreOf(config: HopperConfig): LimiterStore {
  let store: DynamoLimiterStore | undefined;
  const get = (): DynamoLimiterStore => {
    store ??= new DynamoLimiterStore({ tableName: config.limitsTable, client: () => dynamoClientOf(config) });
    return store;
  };
  return {
    acquire: (request) => get().acquire(request),
    release: (request) => get().release(request),
    settle: (request) => get().settle(request),
  };
}
