/**
 * Hard per-tenant caps on a queue (`perTenant: { concurrency, rate }`): how many of one tenant's jobs
 * of the queue run at once, and how many start per interval. The construct declares them per queue;
 * an operator overrides them per tenant at runtime (./tenant-overrides.ts). The worker enforces them
 * with two limiters per tenant and queue, named here: a `concurrent` one and a `leaky` one (a burst
 * of up to `limit`, then `limit` per `per`).
 */
import { createHash } from 'node:crypto';
import { InvalidTenantCapError } from '../errors/limiter.js';
import { isRecord } from '../job/model.js';
import { LIMITER_NAME_PATTERN, NAMED_INTERVALS, SPEC_BOUNDS, type Interval } from './spec.js';

/** A tenant's cap on one queue; an absent part is no cap of that kind. */
export interface TenantCap {
  /** Most of the tenant's jobs of the queue running at once. */
  readonly concurrency?: number;
  /** Most of the tenant's jobs of the queue started per `perSeconds` (bursts of up to `limit`). */
  readonly rate?: TenantRate;
}

/** A rate, `limit` per `perSeconds`. */
export interface TenantRate {
  readonly limit: number;
  readonly perSeconds: number;
}

/** Bounds of a cap's numbers (a concurrent limiter keeps one entry per lease in its item). */
export const TENANT_CAP_BOUNDS = {
  concurrencyMax: SPEC_BOUNDS.entryLimitMax,
  rateLimitMax: SPEC_BOUNDS.counterLimitMax,
  perSecondsMax: SPEC_BOUNDS.intervalMaxSeconds,
} as const;

/** Prefixes of the limiters that enforce a tenant's cap (limits table, `limiter#<name>`). */
export const TENANT_LIMITER_PREFIX = { concurrency: 'hopper.tenant', rate: 'hopper.tenant-rate' } as const;

/** Longest tenant id kept as it is in a limiter name; a longer one (or one with other characters) is hashed. */
const PLAIN_TENANT_MAX = 120;

/**
 * The name of the limiter enforcing `kind` of `tenant`'s cap on `queue`: `hopper.tenant:email:acme`.
 * A tenant id that is not a valid limiter name part (an IAM ARN is; a name with spaces is not), or
 * is longer than 120 or than the name's 200 characters leave it, is replaced by `sha256:` and 32 hex digits of its hash, so every tenant has its own.
 */
export function tenantLimiterName(kind: keyof typeof TENANT_LIMITER_PREFIX, queue: string, tenant: string): string {
  const prefix = `${TENANT_LIMITER_PREFIX[kind]}:${queue}:`;
  const plain = tenant.length <= PLAIN_TENANT_MAX && prefix.length + tenant.length <= SPEC_BOUNDS.nameMaxLength && LIMITER_NAME_PATTERN.test(tenant) && !tenant.startsWith('sha256:');
  return `${prefix}${plain ? tenant : `sha256:${createHash('sha256').update(tenant).digest('hex').slice(0, 32)}`}`;
}

/**
 * Seconds of an interval as users write it: `'second'`, `'minute'`, `'hour'`, `'day'` or a whole
 * number of seconds.
 */
export function intervalSeconds(per: Interval): number {
  return typeof per === 'number' ? per : NAMED_INTERVALS[per];
}

/**
 * Checks a cap written as JSON (`{ concurrency?, rate?: { limit, perSeconds } }`) and returns it.
 *
 * @param field what to call the value in the error (`perTenant of queue "email"`, `body`).
 * @throws InvalidTenantCapError naming the field, what was expected and what was given.
 */
export function validateTenantCap(field: string, value: unknown): TenantCap {
  const fail = (part: string, expected: string, given: unknown): never => {
    throw new InvalidTenantCapError(part === '' ? field : `${field}.${part}`, expected, JSON.stringify(given) ?? String(given));
  };
  if (!isRecord(value)) return fail('', 'an object { concurrency?, rate?: { limit, perSeconds } }', value);
  const unknown = Object.keys(value).filter((key) => key !== 'concurrency' && key !== 'rate');
  if (unknown.length > 0) return fail(unknown[0] ?? '?', 'absent (a cap has only concurrency and rate)', value[unknown[0] ?? '']);
  const { concurrency, rate } = value;
  if (concurrency !== undefined && !isIntegerIn(concurrency, 1, TENANT_CAP_BOUNDS.concurrencyMax)) {
    return fail('concurrency', `an integer from 1 to ${TENANT_CAP_BOUNDS.concurrencyMax}`, concurrency);
  }
  if (rate === undefined) return concurrency === undefined ? {} : { concurrency };
  if (!isRecord(rate)) return fail('rate', 'an object { limit, perSeconds }', rate);
  if (!isIntegerIn(rate.limit, 1, TENANT_CAP_BOUNDS.rateLimitMax)) return fail('rate.limit', `an integer from 1 to ${TENANT_CAP_BOUNDS.rateLimitMax}`, rate.limit);
  if (!isIntegerIn(rate.perSeconds, 1, TENANT_CAP_BOUNDS.perSecondsMax)) return fail('rate.perSeconds', `an integer number of seconds from 1 to ${TENANT_CAP_BOUNDS.perSecondsMax}`, rate.perSeconds);
  return { ...(concurrency === undefined ? {} : { concurrency }), rate: { limit: rate.limit, perSeconds: rate.perSeconds } };
}

/**
 * The cap in force: each part from the queue's override if it has it, else from the tenant's
 * override for every queue, else from the queue's declared cap.
 */
export function effectiveCap(declared: TenantCap, forAll: TenantCap | undefined, forQueue: TenantCap | undefined): TenantCap {
  const concurrency = forQueue?.concurrency ?? forAll?.concurrency ?? declared.concurrency;
  const rate = forQueue?.rate ?? forAll?.rate ?? declared.rate;
  return { ...(concurrency === undefined ? {} : { concurrency }), ...(rate === undefined ? {} : { rate }) };
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
