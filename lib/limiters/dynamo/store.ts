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
 * - bucket, leaky, points: items of under 100 bytes, 1 write per call in a busy limiter, 2 when
 *   a bucket is opened or a drained bucket restarts; a points settlement is 1 more.
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

type Sdk = typeof import('@aws-sdk/client-dynamodb');
let sdk: Promise<Sdk> | undefined;

/** A {@link LimiterStore} on the limits table. Safe to share across concurrent calls. */
export class DynamoLimiterStore implements LimiterStore {
  private readonly tableName: string;
  private readonly clientSource: DynamoLimiterStoreOptions['client'];
  private client: Promise<DynamoDBClient> | undefined;
  private readonly maxAttempts: number;
  private counters = { requests: 0, conditionFailures: 0, writeUnits: 0 };

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
    const outcome = await this.loop(request.key, plan);
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

  /** Plans and writes until a write succeeds, a plan refuses or is done, or attempts run out. */
  private async loop(key: ItemKey, plan: (known: Known) => Step): Promise<Step | { kind: 'exhausted' }> {
    let known: Known = 'unread';
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
