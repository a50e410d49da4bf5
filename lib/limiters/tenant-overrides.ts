/**
 * Per-tenant cap overrides, changed at runtime without a deploy (`hopper limits set tenant:acme
 * concurrency=20`, `PUT /v1/limits/tenants/acme`, the dashboard's Limits page). An override is kept
 * in the limits table twice, written together in one transaction: under the tenant's own partition,
 * which a worker reads (one Query per tenant, kept for 30 seconds per instance: `cachedOverrides`), and
 * in one list partition that the API reads to show them all. An override applies only on queues
 * that declare `perTenant`: a queue without it never reads the table for its jobs' tenants.
 */
import type { AttributeValue, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import { TENANT_CAP_KEYS, tenantOverrideKey, tenantOverrideListKey } from './keys.js';
import { validateTenantCap, type TenantCap } from './tenant-caps.js';

/** One override as stored and listed. */
export interface TenantOverride {
  readonly tenant: string;
  /** The queue it applies to; absent: every queue declaring `perTenant`. */
  readonly queue?: string;
  readonly cap: TenantCap;
  /** When it was last set, ISO 8601. */
  readonly updatedAt: string;
}

/** A tenant's overrides, as a worker applies them (lib/limiters/tenant-caps.ts `effectiveCap`). */
export interface TenantOverrides {
  /** The override for every queue. */
  readonly all?: TenantCap;
  /** Overrides per queue. */
  readonly queues: Readonly<Record<string, TenantCap>>;
}

/** Reads and changes overrides. */
export interface TenantOverrideStore {
  /** `tenant`'s overrides (none: `{ queues: {} }`). */
  read(tenant: string): Promise<TenantOverrides>;
  /** Sets (replaces) one override. */
  set(override: TenantOverride): Promise<void>;
  /** Removes one override; false when there was none. */
  remove(tenant: string, queue?: string): Promise<boolean>;
  /** Every override, in tenant order, at most `limit`. */
  list(limit: number): Promise<TenantOverride[]>;
}

/** Attribute names of override items. */
const ATTRIBUTES = { cap: 'cap', tenant: 'tenant', queue: 'queue', updatedAt: 'updated_at' } as const;

/** A {@link TenantOverrideStore} on the limits table. */
export class DynamoTenantOverrides implements TenantOverrideStore {
  private readonly tableName: string;
  private readonly client: () => Promise<StateCommands>;

  constructor(options: { readonly tableName: string; readonly client: StateCommands | (() => Promise<StateCommands>) }) {
    this.tableName = options.tableName;
    const source = options.client;
    this.client = typeof source === 'function' ? source : async () => source;
  }

  async read(tenant: string): Promise<TenantOverrides> {
    const { QueryCommand } = await loadDynamoSdk();
    const key = tenantOverrideKey(tenant);
    const output: QueryCommandOutput = await (await this.client()).send(new QueryCommand({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: key.pk } },
    }));
    let all: TenantCap | undefined;
    const queues: Record<string, TenantCap> = {};
    for (const item of output.Items ?? []) {
      const override = overrideOf(item);
      if (override === undefined) continue;
      if (override.queue === undefined) all = override.cap;
      else queues[override.queue] = override.cap;
    }
    return { ...(all === undefined ? {} : { all }), queues };
  }

  async set(override: TenantOverride): Promise<void> {
    const { TransactWriteItemsCommand } = await loadDynamoSdk();
    const item = itemOf(override);
    const own = tenantOverrideKey(override.tenant, override.queue);
    const listed = tenantOverrideListKey(override.tenant, override.queue);
    await (await this.client()).send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: this.tableName, Item: { pk: { S: own.pk }, sk: { S: own.sk }, ...item } } },
        { Put: { TableName: this.tableName, Item: { pk: { S: listed.pk }, sk: { S: listed.sk }, ...item } } },
      ],
    }));
  }

  async remove(tenant: string, queue?: string): Promise<boolean> {
    const { DeleteItemCommand } = await loadDynamoSdk();
    const client = await this.client();
    const own = tenantOverrideKey(tenant, queue);
    const listed = tenantOverrideListKey(tenant, queue);
    const removed = await client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: own.pk }, sk: { S: own.sk } }, ReturnValues: 'ALL_OLD' }));
    // The list entry goes whether or not the override was still there (a half-finished removal).
    await client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: listed.pk }, sk: { S: listed.sk } } }));
    return removed.Attributes !== undefined;
  }

  async list(limit: number): Promise<TenantOverride[]> {
    const { QueryCommand } = await loadDynamoSdk();
    const client = await this.client();
    const overrides: TenantOverride[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const output: QueryCommandOutput = await client.send(new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: TENANT_CAP_KEYS.list } },
        Limit: limit - overrides.length,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }));
      for (const item of output.Items ?? []) {
        const override = overrideOf(item);
        if (override !== undefined) overrides.push(override);
      }
      start = output.LastEvaluatedKey;
    } while (start !== undefined && overrides.length < limit);
    return overrides;
  }
}

/** A {@link TenantOverrideStore} in memory, for tests and single-process use. */
export class MemoryTenantOverrides implements TenantOverrideStore {
  private readonly overrides = new Map<string, TenantOverride>();

  async read(tenant: string): Promise<TenantOverrides> {
    let all: TenantCap | undefined;
    const queues: Record<string, TenantCap> = {};
    for (const override of this.overrides.values()) {
      if (override.tenant !== tenant) continue;
      if (override.queue === undefined) all = override.cap;
      else queues[override.queue] = override.cap;
    }
    return { ...(all === undefined ? {} : { all }), queues };
  }

  async set(override: TenantOverride): Promise<void> {
    this.overrides.set(tenantOverrideListKey(override.tenant, override.queue).sk, override);
  }

  async remove(tenant: string, queue?: string): Promise<boolean> {
    return this.overrides.delete(tenantOverrideListKey(tenant, queue).sk);
  }

  async list(limit: number): Promise<TenantOverride[]> {
    return [...this.overrides].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit).map(([, override]) => override);
  }
}

/** Options of {@link cachedOverrides}. */
export interface OverrideCacheOptions {
  /** How long a reading is used, ms. @default 30,000 (an override takes effect within a minute) */
  readonly ttlMs?: number;
  /** Tenants kept; the oldest readings go first. @default 10,000 */
  readonly maxTenants?: number;
  readonly nowMs: () => number;
}

/** The overrides a worker instance has read, kept for {@link OverrideCacheOptions.ttlMs}. */
export type OverrideReader = (tenant: string) => Promise<TenantOverrides>;

/**
 * Reads through `store`, once per tenant per `ttlMs` per instance, with concurrent reads of one
 * tenant sharing one request. A failed read is not kept: the next job asks again.
 */
export function cachedOverrides(store: Pick<TenantOverrideStore, 'read'>, options: OverrideCacheOptions): OverrideReader {
  const ttlMs = options.ttlMs ?? 30_000;
  const maxTenants = options.maxTenants ?? 10_000;
  const readings = new Map<string, { readonly atMs: number; readonly value: Promise<TenantOverrides> }>();
  return (tenant) => {
    const nowMs = options.nowMs();
    const kept = readings.get(tenant);
    if (kept !== undefined && nowMs - kept.atMs < ttlMs) return kept.value;
    readings.delete(tenant);
    if (readings.size >= maxTenants) {
      // Map keeps insertion order: the first key is the oldest reading.
      const oldest = readings.keys().next();
      if (oldest.done !== true) readings.delete(oldest.value);
    }
    const value = store.read(tenant);
    readings.set(tenant, { atMs: nowMs, value });
    value.catch(() => { if (readings.get(tenant)?.value === value) readings.delete(tenant); });
    return value;
  };
}

function itemOf(override: TenantOverride): Record<string, AttributeValue> {
  return {
    [ATTRIBUTES.cap]: { S: JSON.stringify(override.cap) },
    [ATTRIBUTES.tenant]: { S: override.tenant },
    ...(override.queue === undefined ? {} : { [ATTRIBUTES.queue]: { S: override.queue } }),
    [ATTRIBUTES.updatedAt]: { S: override.updatedAt },
  };
}

/** The override an item holds; undefined for an item that is not a well-formed one. */
function overrideOf(item: Readonly<Record<string, AttributeValue>>): TenantOverride | undefined {
  const tenant = item[ATTRIBUTES.tenant]?.S;
  const raw = item[ATTRIBUTES.cap]?.S;
  if (tenant === undefined || raw === undefined) return undefined;
  let cap: TenantCap;
  try {
    cap = validateTenantCap('stored override', JSON.parse(raw));
  } catch {
    return undefined;
  }
  const queue = item[ATTRIBUTES.queue]?.S;
  return { tenant, ...(queue === undefined ? {} : { queue }), cap, updatedAt: item[ATTRIBUTES.updatedAt]?.S ?? '' };
}
