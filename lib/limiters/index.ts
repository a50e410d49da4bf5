/**
 * Rate limiters (Sidekiq Enterprise's kinds): `concurrent`, `bucket`, `window`, `leaky` and
 * `points`, with state in the limits table. Importing this entry point does not load the
 * DynamoDB SDK; the store loads it on the first limiter call.
 *
 * @example
 * const limiters = limiterFactory({ store: limiterStoreOf() });
 * await limiters(`stripe:${accountId}`, { type: 'concurrent', limit: 10 }).run(() => charge());
 */
export { RateLimitedError } from '../errors/base.js';
export { limiter, limiterFactory, LIMITER_POLL_MS, UNAVAILABLE_RETRY_AFTER_MS } from './limiter.js';
export { LimiterUnavailableError } from '../errors/limiter.js';
export type { Limiter, LimiterFactory, LimiterOptions, Permit, PointsCharge, PointsLimiter, PointsPermit, Refusal } from './limiter.js';
export {
  DEFAULT_CONCURRENT_WAIT_SECONDS,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  InvalidLimiterSpecError,
  LIMITER_NAME_PATTERN,
  LIMITER_TYPES,
  NAMED_INTERVALS,
  SPEC_BOUNDS,
  resolveLimiterSpec,
  validateLimiterName,
} from './spec.js';
export type {
  BucketSpec,
  ConcurrentSpec,
  CountingSpec,
  Interval,
  LeakySpec,
  LimiterSpec,
  LimiterType,
  PointsSpec,
  ResolvedLimiterSpec,
  ResolvedSpecOf,
  WindowSpec,
} from './spec.js';
export type { AcquireRequest, AcquireResult, LimiterStore, ReleaseRequest, SettleRequest } from './store.js';
export { MemoryLimiterStore } from './memory-store.js';
export { CONTENTION_RETRY_AFTER_MS, DynamoLimiterStore, limiterStoreOf } from './dynamo/store.js';
export type { DynamoLimiterStoreOptions, LimiterStoreUsage } from './dynamo/store.js';
export { LIMITED_RESCHEDULE, limitedCount, nextLimitedAttempt } from './reschedule.js';
export type { LimitedAttempt, LimitedAttemptOptions } from './reschedule.js';
export { LIMITS_TABLE, limiterKey } from './keys.js';
