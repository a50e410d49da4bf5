/**
 * Every key and attribute name of the limits table is built here, as lib/storage/keys.ts does for the
 * state table, so the table's layout can be read (and changed) in one place.
 *
 * Limits table (pk, sk are strings; `ttl` is the TTL attribute, epoch seconds). One item per
 * limiter name and type:
 * | item                | pk                 | sk           | attributes                                   |
 * |---------------------|--------------------|--------------|----------------------------------------------|
 * | concurrent leases   | `limiter#<name>`   | `concurrent` | `n` lease count, `e_<id>` expiry (epoch ms), `h` last hold (ms) |
 * | window admissions   | `limiter#<name>`   | `window`     | `n` entry count, `e_<id>` admitted at (ms)   |
 * | bucket counter      | `limiter#<name>`   | `bucket`     | `b` bucket start ms, `i` interval ms, `c` count |
 * | leaky bucket        | `limiter#<name>`   | `leaky`      | `t` TAT in 1/`s` ms, `s` scale               |
 * | points bucket       | `limiter#<name>`   | `points`     | `t` TAT in 1/`s` ms, `s` scale               |
 * | API quota           | `quota#<scope>#<id>` | `points`   | as a points bucket                           |
 * | shard `k` of any of those above (shards.ts) | `<pk>#<k>` | `<sk>#<k>` | as the item it is a share of       |
 * | a tenant's cap override | `tenantcap#<tenant>` | `*` (every queue) or `queue#<name>` | `cap` JSON, `tenant`, `queue`, `updated_at` |
 * | the list of overrides | `tenantcaps`   | `<tenant>#<queue or *>` | as the override (tenant-overrides.ts)   |
 *
 * The type is the sort key so that changing a limiter's type never reads the old state as the
 * new kind's. Quotas (`quota#tenant#acme`, `quota#queue#default`) have their own prefix, so no
 * limiter name can reach a quota's state. Limiter names are validated (spec.ts) to exclude `#`;
 * a quota's scope is one of a fixed set of words and its id comes last, so keys cannot collide.
 * A shard's sort key carries `#`, which no type does, so no shard's key equals another limiter's.
 * Attribute names are short because every byte of a limiter item is paid on every write.
 */
import type { ItemKey } from '../storage/keys.js';
import type { LimiterType } from './spec.js';

/** Attribute names of the limits table's key and TTL. */
export const LIMITS_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
} as const;

/** Attribute names inside limiter items. */
export const LIMITER_ATTRIBUTES = {
  /** concurrent, window: number of `e_` entries (kept in step with them by every write). */
  entryCount: 'n',
  /** concurrent, window: prefix of one entry's attribute; the rest of the name is its id. */
  entryPrefix: 'e_',
  /** concurrent: how long the most recently released lease was held, ms (when a slot is likely free). */
  lastHold: 'h',
  /** bucket: start of the current bucket, epoch ms. */
  bucketStart: 'b',
  /** bucket: length of the current bucket, ms (a changed interval starts a new bucket). */
  bucketInterval: 'i',
  /** bucket: calls counted in the current bucket. */
  bucketCount: 'c',
  /** leaky, points: theoretical arrival time, in units of 1/scale ms. */
  tat: 't',
  /** leaky, points: units per millisecond that `t` is kept in. */
  scale: 's',
  ttl: LIMITS_TABLE.ttlAttribute,
} as const;

/** Prefix of every limiter's partition key. */
export const LIMITER_KEY_PREFIX = 'limiter';

/** Prefix of every quota's partition key. */
export const QUOTA_KEY_PREFIX = 'quota';

/** Prefix of a tenant's cap overrides' partition key, and the partition listing them all. */
export const TENANT_CAP_KEYS = { prefix: 'tenantcap', list: 'tenantcaps', everyQueue: '*' } as const;

/** The key of `tenant`'s cap override on `queue` (on every queue declaring `perTenant` when undefined). */
export function tenantOverrideKey(tenant: string, queue?: string): ItemKey {
  return { pk: `${TENANT_CAP_KEYS.prefix}#${tenant}`, sk: queue === undefined ? TENANT_CAP_KEYS.everyQueue : `queue#${queue}` };
}

/**
 * The key of the override's entry in the list of overrides. Queue names have no `#`, so the last
 * `#` ends the tenant.
 */
export function tenantOverrideListKey(tenant: string, queue?: string): ItemKey {
  return { pk: TENANT_CAP_KEYS.list, sk: `${tenant}#${queue ?? TENANT_CAP_KEYS.everyQueue}` };
}

/** Entry ids (leases, admissions): what may follow `e_` in an attribute name. */
export const ENTRY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The partition key of limiter `name`. */
export function limiterPartitionKey(name: string): string {
  return `${LIMITER_KEY_PREFIX}#${name}`;
}

/** The key of the item holding the state of limiter `name` of type `type`. */
export function limiterKey(name: string, type: LimiterType): ItemKey {
  return { pk: limiterPartitionKey(name), sk: type };
}

/** The key of the token bucket of quota `id` in `scope` (`tenant`, `queue`): `quota#tenant#acme`. */
export function quotaKey(scope: string, id: string): ItemKey {
  return { pk: `${QUOTA_KEY_PREFIX}#${scope}#${id}`, sk: 'points' };
}

/** The attribute holding entry `id`. */
export function entryAttribute(id: string): string {
  return `${LIMITER_ATTRIBUTES.entryPrefix}${id}`;
}

/** The entry id an attribute holds, or undefined when the attribute is not an entry. */
export function entryIdOf(attribute: string): string | undefined {
  return attribute.startsWith(LIMITER_ATTRIBUTES.entryPrefix) ? attribute.slice(LIMITER_ATTRIBUTES.entryPrefix.length) : undefined;
}
