/**
 * `custom.throttle: { key, limit, per }`: of the jobs carrying one key, at most `limit` start per
 * `per` (bursts of up to `limit`); the others wait on their queue and run later, never failing and
 * using no retry (Inngest's throttle). The worker enforces it with a `leaky` limiter named
 * `hopper.throttle:<key>` (lib/worker/flow-gate.ts). Validated here, with the rest of the job.
 */
import { InvalidJobError } from '../errors/base.js';

/** A job's throttle, as validated. */
export interface JobThrottle {
  /** Jobs with the same key share the limit: `sync:${accountId}`. */
  readonly key: string;
  /** Most starts per `per` (and the largest burst). */
  readonly limit: number;
  /** `'second'`, `'minute'`, `'hour'`, `'day'` or a whole number of seconds. */
  readonly per: 'second' | 'minute' | 'hour' | 'day' | number;
}

/** Bounds of a throttle (those of the limiter that enforces it, lib/limiters/spec.ts). */
export const THROTTLE_LIMITS = {
  /** A key is a limiter name's characters; `hopper.throttle:` plus the key stays within a name's 200. */
  keyPattern: /^[A-Za-z0-9_.:@/+=-]{1,160}$/,
  limitMax: 1_000_000_000,
  perMaxSeconds: 30 * 86_400,
  namedIntervals: ['second', 'minute', 'hour', 'day'],
} as const;

/** The prefix of the limiter enforcing a throttle. */
export const THROTTLE_LIMITER_PREFIX = 'hopper.throttle:';

/**
 * `custom.throttle` checked, or undefined when absent.
 * @throws InvalidJobError naming the field and what was expected.
 */
export function validateThrottle(value: unknown, describe: (value: unknown) => string): JobThrottle | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new InvalidJobError('custom.throttle', 'an object { key, limit, per }', describe(value));
  const { key, limit, per } = value;
  if (typeof key !== 'string' || !THROTTLE_LIMITS.keyPattern.test(key)) {
    throw new InvalidJobError('custom.throttle.key', 'a string of 1 to 160 letters, digits or _ . : @ / + = -', describe(key));
  }
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > THROTTLE_LIMITS.limitMax) {
    throw new InvalidJobError('custom.throttle.limit', `an integer from 1 to ${THROTTLE_LIMITS.limitMax}`, describe(limit));
  }
  const named = THROTTLE_LIMITS.namedIntervals.find((name) => name === per);
  if (named !== undefined) return { key, limit, per: named };
  if (typeof per !== 'number' || !Number.isInteger(per) || per < 1 || per > THROTTLE_LIMITS.perMaxSeconds) {
    throw new InvalidJobError('custom.throttle.per', `'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to ${THROTTLE_LIMITS.perMaxSeconds}`, describe(per));
  }
  return { key, limit, per };
}

/** The throttle of a job that passed validation, or undefined. */
export function throttleOf(custom: { readonly throttle?: unknown } | undefined): JobThrottle | undefined {
  const throttle = custom?.throttle;
  return throttle === undefined ? undefined : validateThrottle(throttle, String);
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
