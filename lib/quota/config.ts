/**
 * Quota configuration: how many jobs each tenant, and each queue across tenants, may enqueue per
 * interval. Declared in the construct (`quotas: { default: { limit: 1000, per: 'minute' } }`),
 * passed to the API function as JSON, validated here. Each quota is a token bucket (a `points`
 * limiter): it holds `burst` jobs and refills `limit` per `per`.
 */
import { ConfigurationError } from '../errors/base.js';
import { withoutRolePath } from '../aws/principal.js';
import { isRecord } from '../job/model.js';
import { describeValue, INTERVAL_EXPECTATION, intervalToMs, SPEC_BOUNDS, type Interval, type ResolvedSpecOf } from '../limiters/spec.js';

/** One quota. */
export interface QuotaRule {
  /** Jobs admitted per `per`, sustained. */
  readonly limit: number;
  readonly per: Interval;
  /** Jobs a producer that has been quiet may send at once. @default - `limit` */
  readonly burst?: number;
}

/** Every quota of a job system. */
export interface QuotasConfig {
  /** The quota of every tenant not named in `tenants`. @default - tenants are not limited */
  readonly default?: QuotaRule;
  /**
   * Quotas of particular tenants; `'unlimited'` exempts a tenant from the default. A tenant that is
   * a role ARN may be given with its path; it is matched without it.
   */
  readonly tenants?: Readonly<Record<string, QuotaRule | 'unlimited'>>;
  /** Quotas of whole queues, shared by every tenant that enqueues to them. */
  readonly queues?: Readonly<Record<string, QuotaRule>>;
}

/** A validated quota: its token bucket. */
export type QuotaBucket = ResolvedSpecOf<'points'>;

/** Validated quotas. */
export interface ResolvedQuotas {
  readonly default: QuotaBucket | undefined;
  readonly tenants: ReadonlyMap<string, QuotaBucket | 'unlimited'>;
  readonly queues: ReadonlyMap<string, QuotaBucket>;
}

/** No quotas at all. */
export const NO_QUOTAS: ResolvedQuotas = { default: undefined, tenants: new Map(), queues: new Map() };

/**
 * Validates a quotas declaration.
 *
 * @throws ConfigurationError naming the path of the offending field (`quotas.tenants.acme.limit`).
 * @example
 * resolveQuotas({ default: { limit: 1000, per: 'minute' }, tenants: { acme: 'unlimited' } })
 */
export function resolveQuotas(config: unknown): ResolvedQuotas {
  if (config === undefined) return NO_QUOTAS;
  if (!isRecord(config)) throw invalid('quotas', 'an object with default, tenants or queues', config);
  for (const field of Object.keys(config)) {
    if (field !== 'default' && field !== 'tenants' && field !== 'queues') throw invalid(`quotas.${field}`, 'absent (quotas take default, tenants, queues)', config[field]);
  }
  const tenants = new Map<string, QuotaBucket | 'unlimited'>();
  for (const [tenant, rule] of entries('quotas.tenants', config.tenants)) {
    // A role is matched without its path, as its sessions name it (lib/aws/principal.ts).
    tenants.set(withoutRolePath(tenant), rule === 'unlimited' ? rule : quotaBucket(`quotas.tenants.${tenant}`, rule));
  }
  const queues = new Map<string, QuotaBucket>();
  for (const [queue, rule] of entries('quotas.queues', config.queues)) queues.set(queue, quotaBucket(`quotas.queues.${queue}`, rule));
  return { default: config.default === undefined ? undefined : quotaBucket('quotas.default', config.default), tenants, queues };
}

/**
 * Reads quotas from their JSON form (the environment variable the construct sets).
 *
 * @throws ConfigurationError when the text is not JSON or the quotas are invalid.
 */
export function parseQuotas(json: string | undefined): ResolvedQuotas {
  if (json === undefined || json === '') return NO_QUOTAS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ConfigurationError('quotas must be JSON, but the text given is not JSON');
  }
  return resolveQuotas(parsed);
}

/** The token bucket of one rule at `path`. */
function quotaBucket(path: string, rule: unknown): QuotaBucket {
  if (!isRecord(rule)) throw invalid(path, "an object with limit and per (or 'unlimited' for a tenant)", rule);
  for (const field of Object.keys(rule)) {
    if (field !== 'limit' && field !== 'per' && field !== 'burst') throw invalid(`${path}.${field}`, 'absent (a quota takes limit, per, burst)', rule[field]);
  }
  const max = SPEC_BOUNDS.counterLimitMax;
  const count = (field: 'limit' | 'burst', value: unknown): number => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max) return value;
    throw invalid(`${path}.${field}`, `an integer from 1 to ${max}`, value);
  };
  const limit = count('limit', rule.limit);
  const intervalMs = intervalToMs(rule.per);
  if (intervalMs === undefined) throw invalid(`${path}.per`, INTERVAL_EXPECTATION, rule.per);
  return { type: 'points', capacity: rule.burst === undefined ? limit : count('burst', rule.burst), refill: limit, intervalMs, waitMs: 0 };
}

function entries(path: string, value: unknown): [string, unknown][] {
  if (value === undefined) return [];
  if (!isRecord(value)) throw invalid(path, 'an object of name to quota', value);
  return Object.entries(value);
}

function invalid(path: string, expected: string, received: unknown): ConfigurationError {
  return new ConfigurationError(`${path} must be ${expected}, but ${describeValue(received)} was provided`);
}
