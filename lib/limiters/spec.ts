/**
 * Limiter specs: what a user writes (`{ type: 'concurrent', limit: 10 }`) and the validated,
 * resolved form the arithmetic and the stores work with (milliseconds, defaults filled in).
 */
import { InvalidLimiterSpecError } from '../errors/limiter.js';
import { isRecord } from '../job/model.js';

/** Named intervals, aligned to UTC boundaries where a kind aligns (bucket). */
export const NAMED_INTERVALS = {
  second: 1,
  minute: 60,
  hour: 3_600,
  day: 86_400,
} as const;

/** A limiter interval: a named one or a whole number of seconds. */
export type Interval = keyof typeof NAMED_INTERVALS | number;

/** Fields every spec may carry. */
interface CommonSpec {
  /**
   * Seconds to wait for room before giving up with a `RateLimitedError` (Sidekiq's `wait_timeout`).
   * A limiter waits only when the refusal says room is likely within the wait, and asks again
   * about then. A concurrent limiter's leases free up as their holders finish, usually sooner than
   * a rescheduled job could come back (an SQS send, a whole-second delay, another invocation), so
   * it waits 5 seconds by default, as Sidekiq's does, and only for a lease expected to end within
   * them (waiting bills the invocation, which its other jobs share). The rate kinds reschedule at
   * once by default: their next room is often far off.
   * @default - 5 for `concurrent`, 0 for the others
   */
  readonly wait?: number;
}

/** At most `limit` blocks run at once; a lease expires after `lockTimeout` s if its holder dies. */
export interface ConcurrentSpec extends CommonSpec {
  readonly type: 'concurrent';
  readonly limit: number;
  /**
   * Seconds after which a lease is considered abandoned (its holder died). Keep it above the
   * block's run time: a lease is never taken from a live holder. @default 30
   */
  readonly lockTimeout?: number;
}

/** At most `limit` per interval, counted in buckets aligned to interval boundaries (12:00:00, 12:00:01…). */
export interface BucketSpec extends CommonSpec {
  readonly type: 'bucket';
  readonly limit: number;
  readonly per: Interval;
}

/** At most `limit` in any trailing interval (a sliding window). */
export interface WindowSpec extends CommonSpec {
  readonly type: 'window';
  readonly limit: number;
  readonly per: Interval;
}

/** Leaky bucket: bursts of up to `limit`, draining at `limit` per interval. */
export interface LeakySpec extends CommonSpec {
  readonly type: 'leaky';
  readonly limit: number;
  readonly per: Interval;
}

/** Token bucket with costs: holds `capacity` points, refills `refill` points per interval. */
export interface PointsSpec extends CommonSpec {
  readonly type: 'points';
  readonly capacity: number;
  readonly refill: number;
  readonly per: Interval;
}

/** Every kind of limiter spec. */
export type LimiterSpec = ConcurrentSpec | BucketSpec | WindowSpec | LeakySpec | PointsSpec;
/** The specs whose blocks cost one unit each (everything but `points`). */
export type CountingSpec = Exclude<LimiterSpec, PointsSpec>;
/** The kinds of limiter. */
export type LimiterType = LimiterSpec['type'];

/** Every limiter type, for validation and iteration. */
export const LIMITER_TYPES = ['concurrent', 'bucket', 'window', 'leaky', 'points'] as const satisfies readonly LimiterType[];

/** A spec after validation: times in milliseconds, defaults applied. */
export type ResolvedLimiterSpec =
  | { readonly type: 'concurrent'; readonly limit: number; readonly lockTimeoutMs: number; readonly waitMs: number }
  | ResolvedRateSpec<'bucket'>
  | ResolvedRateSpec<'window'>
  | ResolvedRateSpec<'leaky'>
  | { readonly type: 'points'; readonly capacity: number; readonly refill: number; readonly intervalMs: number; readonly waitMs: number };

/** The resolved form of the kinds that count calls per interval. */
export interface ResolvedRateSpec<T extends 'bucket' | 'window' | 'leaky'> {
  readonly type: T;
  readonly limit: number;
  readonly intervalMs: number;
  readonly waitMs: number;
}

/** The resolved spec of one type. */
export type ResolvedSpecOf<T extends LimiterType> = Extract<ResolvedLimiterSpec, { readonly type: T }>;

/**
 * Bounds of spec fields. `concurrent` and `window` keep one entry per lease or admission in a
 * single item, so their limit bounds the item size (and the write units of each call).
 */
export const SPEC_BOUNDS = {
  nameMaxLength: 200,
  entryLimitMax: 1_000,
  counterLimitMax: 1_000_000_000,
  intervalMaxSeconds: 30 * 86_400,
  lockTimeoutMaxSeconds: 86_400,
  waitMaxSeconds: 900,
} as const;

/** Default seconds before a concurrent lease is considered abandoned (Sidekiq's `lock_timeout`). */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 30;

/**
 * Default `wait` of a concurrent limiter, seconds (Sidekiq Enterprise's default `wait_timeout`): a
 * lease expected to end within it is waited for rather than the job rescheduled.
 */
export const DEFAULT_CONCURRENT_WAIT_SECONDS = 5;

/** Limiter names: letters, digits and `_ - . : @ / + =`, so `stripe:acct_42` is a name. */
export const LIMITER_NAME_PATTERN = /^[A-Za-z0-9_.:@/+=-]+$/;

export { InvalidLimiterSpecError } from '../errors/limiter.js';

/** Throws an {@link InvalidLimiterSpecError} unless `name` is a valid limiter name. */
export function validateLimiterName(name: unknown): string {
  const expected = `a string of 1 to ${SPEC_BOUNDS.nameMaxLength} letters, digits or _ - . : @ / + =`;
  if (typeof name !== 'string' || name.length === 0 || name.length > SPEC_BOUNDS.nameMaxLength || !LIMITER_NAME_PATTERN.test(name)) {
    throw new InvalidLimiterSpecError(typeof name === 'string' ? name : '?', 'name', expected, describeValue(name));
  }
  return name;
}

const FIELDS = {
  concurrent: ['type', 'limit', 'lockTimeout', 'wait'],
  bucket: ['type', 'limit', 'per', 'wait'],
  window: ['type', 'limit', 'per', 'wait'],
  leaky: ['type', 'limit', 'per', 'wait'],
  points: ['type', 'capacity', 'refill', 'per', 'wait'],
} as const satisfies Record<LimiterType, readonly string[]>;

/**
 * Validates `spec` for the limiter `name` and resolves it to milliseconds with defaults.
 *
 * @throws InvalidLimiterSpecError naming the field, what was expected and what was given.
 * @example
 * resolveLimiterSpec('stripe', { type: 'bucket', limit: 100, per: 'second' })
 * // { type: 'bucket', limit: 100, intervalMs: 1000, waitMs: 0 }
 */
export function resolveLimiterSpec(name: string, spec: unknown): ResolvedLimiterSpec {
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new InvalidLimiterSpecError(name, field, expected, describeValue(value));
  };
  if (!isRecord(spec)) return fail('spec', 'an object with a type', spec);
  const type = spec.type;
  if (!isLimiterType(type)) return fail('type', `one of ${LIMITER_TYPES.map((t) => `'${t}'`).join(', ')}`, type);
  const allowed: readonly string[] = FIELDS[type];
  for (const field of Object.keys(spec)) {
    if (!allowed.includes(field)) fail(field, `absent (a ${type} limiter takes ${allowed.join(', ')})`, spec[field]);
  }
  const defaultWait = type === 'concurrent' ? DEFAULT_CONCURRENT_WAIT_SECONDS : 0;
  const waitMs = seconds(spec.wait ?? defaultWait, 0, SPEC_BOUNDS.waitMaxSeconds, false) ?? fail('wait', `a number of seconds from 0 to ${SPEC_BOUNDS.waitMaxSeconds}`, spec.wait);
  switch (type) {
    case 'concurrent':
      return {
        type,
        limit: integer(spec.limit, 1, SPEC_BOUNDS.entryLimitMax) ?? fail('limit', `an integer from 1 to ${SPEC_BOUNDS.entryLimitMax}`, spec.limit),
        lockTimeoutMs:
          seconds(spec.lockTimeout ?? DEFAULT_LOCK_TIMEOUT_SECONDS, 1, SPEC_BOUNDS.lockTimeoutMaxSeconds, true) ??
          fail('lockTimeout', `a whole number of seconds from 1 to ${SPEC_BOUNDS.lockTimeoutMaxSeconds}`, spec.lockTimeout),
        waitMs,
      };
    case 'points':
      return {
        type,
        capacity: integer(spec.capacity, 1, SPEC_BOUNDS.counterLimitMax) ?? fail('capacity', `an integer from 1 to ${SPEC_BOUNDS.counterLimitMax}`, spec.capacity),
        refill: integer(spec.refill, 1, SPEC_BOUNDS.counterLimitMax) ?? fail('refill', `an integer from 1 to ${SPEC_BOUNDS.counterLimitMax}`, spec.refill),
        intervalMs: intervalToMs(spec.per) ?? fail('per', INTERVAL_EXPECTATION, spec.per),
        waitMs,
      };
    case 'bucket':
    case 'window':
    case 'leaky': {
      // A window keeps one entry per admission in its item, so its limit is bounded like leases.
      const max = type === 'window' ? SPEC_BOUNDS.entryLimitMax : SPEC_BOUNDS.counterLimitMax;
      const limit = integer(spec.limit, 1, max) ?? fail('limit', `an integer from 1 to ${max}`, spec.limit);
      const interval = intervalToMs(spec.per) ?? fail('per', INTERVAL_EXPECTATION, spec.per);
      return { type, limit, intervalMs: interval, waitMs };
    }
  }
}

/** What an interval must be, for error messages. */
export const INTERVAL_EXPECTATION = `'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to ${SPEC_BOUNDS.intervalMaxSeconds}`;

function isLimiterType(value: unknown): value is LimiterType {
  return LIMITER_TYPES.some((type) => type === value);
}

/** An interval in milliseconds, or undefined when `per` is not a valid {@link Interval}. */
export function intervalToMs(per: unknown): number | undefined {
  if (typeof per === 'string') {
    for (const [name, secs] of Object.entries(NAMED_INTERVALS)) if (name === per) return secs * 1000;
    return undefined;
  }
  return seconds(per, 1, SPEC_BOUNDS.intervalMaxSeconds, true);
}

function integer(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

/** Seconds → milliseconds, or undefined when out of range (or not whole, when `whole`). */
function seconds(value: unknown, min: number, max: number, whole: boolean): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) return undefined;
  if (whole && !Number.isInteger(value)) return undefined;
  return Math.round(value * 1000);
}

/** A short description of a value for error messages (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (isRecord(value)) return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
