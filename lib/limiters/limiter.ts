/**
 * The limiter API: `limiter(name, spec, { store })` gives an object whose `run(fn)` (alias
 * `withinLimit`) runs `fn` only when the limiter has room, waiting up to the spec's `wait`, and
 * otherwise throws `RateLimitedError(name, retryAfterSeconds)`. Concurrent leases are released
 * when `fn` settles. `acquire()` asks once without running anything, for callers that answer
 * "no" themselves (the API's quotas answer 429 with `Retry-After`).
 */
import { randomBytes } from 'node:crypto';
import { HopperError, RateLimitedError } from '../errors/base.js';
import { LimiterUnavailableError } from '../errors/limiter.js';
import type { Random } from '../common/random.js';
import { toRetryAfterSeconds } from './decision.js';
import { ENTRY_ID_PATTERN, limiterKey } from './keys.js';
import {
  InvalidLimiterSpecError,
  resolveLimiterSpec,
  validateLimiterName,
  type CountingSpec,
  type LimiterSpec,
  type PointsSpec,
  type ResolvedLimiterSpec,
  type ResolvedSpecOf,
} from './spec.js';
import type { LimiterStore } from './store.js';
import { acquireSharded, settleSharded, type ShardedResult } from './shards.js';

/** How a limiter reaches its state and the outside world. Only `store` is required. */
export interface LimiterOptions {
  readonly store: LimiterStore;
  /** The clock, epoch ms. @default Date.now */
  readonly now?: () => number;
  /** @default - a timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Ids of leases and window admissions. @default - 12 random base64url characters */
  readonly newToken?: () => string;
  /** Jitter of the attempts of a waiting limiter. @default Math.random */
  readonly random?: Random;
  /**
   * Called when a run starts; the wait is at most what it returns, in ms. A worker passes the
   * Lambda's remaining time less a margin, so that waiting never runs into the timeout.
   * @default - the spec's `wait` only
   */
  readonly maxWaitMs?: () => number;
  /**
   * Called when releasing a lease or settling points fails after the block ran. The block's result
   * stands: a lease left behind expires after its lock timeout, a lost settlement is a small error
   * in the count.
   * @default - a warning on the console
   */
  readonly onCleanupError?: (error: unknown, limiter: string) => void;
}

/** Room was granted. */
export interface Permit {
  readonly allowed: true;
  /** Gives a concurrent lease back (a no-op for other kinds). Call it once. */
  release(): Promise<void>;
}

/** Room was granted by a points limiter. */
export interface PointsPermit extends Permit {
  /** Charges the block's actual cost in place of the estimate taken (refunds when lower). */
  settle(actualCost: number): Promise<void>;
}

/** Room was refused. */
export interface Refusal {
  readonly allowed: false;
  readonly retryAfterMs: number;
  /** `retryAfterMs` rounded up to whole seconds. */
  readonly retryAfterSeconds: number;
}

/** A limiter whose blocks cost one unit each (every kind but `points`). */
export interface Limiter {
  readonly name: string;
  readonly spec: ResolvedLimiterSpec;
  /** Asks once, without waiting. */
  acquire(): Promise<Permit | Refusal>;
  /**
   * Runs `fn` within the limit, waiting up to the spec's `wait` for room.
   * @throws RateLimitedError when there is no room in time.
   */
  run<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Sidekiq's name for {@link Limiter.run}. */
  withinLimit<T>(fn: () => Promise<T> | T): Promise<T>;
}

/** What a points block can do with the points it took. */
export interface PointsCharge {
  /** The points taken up front. */
  readonly estimate: number;
  /** Records the actual cost; the difference is charged or refunded when the block ends. */
  settle(actualCost: number): void;
}

/** A points limiter: blocks take an estimated cost and may settle the actual one. */
export interface PointsLimiter {
  readonly name: string;
  readonly spec: ResolvedSpecOf<'points'>;
  /** Asks once for `cost` points, without waiting. */
  acquire(cost: number): Promise<PointsPermit | Refusal>;
  /**
   * Takes `cost` points (waiting up to the spec's `wait`), runs `fn`, then settles the cost it
   * reported through `charge.settle`, if any.
   * @throws RateLimitedError when there is no room in time.
   */
  run<T>(cost: number, fn: (charge: PointsCharge) => Promise<T> | T): Promise<T>;
  /** Sidekiq's name for {@link PointsLimiter.run}. */
  withinLimit<T>(cost: number, fn: (charge: PointsCharge) => Promise<T> | T): Promise<T>;
}

/** Makes limiters sharing one set of options; the shape of `ctx.limiter` in a worker. */
export interface LimiterFactory {
  (name: string, spec: PointsSpec): PointsLimiter;
  (name: string, spec: CountingSpec): Limiter;
  (name: string, spec: LimiterSpec): Limiter | PointsLimiter;
}

/**
 * Pauses of a limiter waiting for room: it asks again when the refusal said room is likely; a
 * concurrent limiter, whose leases end when their holders finish, adds a jitter of up to half that
 * wait (within `[minJitter, maxJitter]`), so that its waiters do not all ask at the same instant.
 */
export const LIMITER_POLL_MS = { minJitter: 10, maxJitter: 1_000 } as const;

/** How long a limiter whose state could not be reached is given before it is asked again, ms. */
export const UNAVAILABLE_RETRY_AFTER_MS = 1_000;

/**
 * A named limiter. Names are keys: `stripe:${accountId}` makes one limiter per account. Creating
 * one makes no request; every `run` is one or two conditional writes (see dynamo/store.ts).
 *
 * @throws InvalidLimiterSpecError when the name or spec is malformed.
 * @example
 * const stripe = limiter(`stripe:${accountId}`, { type: 'concurrent', limit: 10 }, { store });
 * await stripe.run(() => chargeCard(card));
 * const shopify = limiter('shopify', { type: 'points', capacity: 1000, refill: 50, per: 'second' }, { store });
 * await shopify.run(100, async (charge) => charge.settle((await query()).cost));
 */
export function limiter(name: string, spec: PointsSpec, options: LimiterOptions): PointsLimiter;
export function limiter(name: string, spec: CountingSpec, options: LimiterOptions): Limiter;
export function limiter(name: string, spec: LimiterSpec, options: LimiterOptions): Limiter | PointsLimiter;
export function limiter(name: string, spec: LimiterSpec, options: LimiterOptions): Limiter | PointsLimiter {
  validateLimiterName(name);
  const resolved = resolveLimiterSpec(name, spec);
  const runtime = new LimiterRuntime(name, options);
  if (resolved.type === 'points') return pointsLimiter(name, resolved, runtime);

  const acquire = async (): Promise<Permit | Refusal> => runtime.acquire(resolved, 1);
  const run = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    const permit = await runtime.acquireWithin(resolved, 1);
    try {
      return await fn();
    } finally {
      await runtime.cleanup(() => permit.release());
    }
  };
  return { name, spec: resolved, acquire, run, withinLimit: run };
}

/**
 * A {@link LimiterFactory} over `options`, so that a worker hooks limiters in with one line:
 * `limiter: limiterFactory({ store, maxWaitMs: () => context.getRemainingTimeInMillis() - 5_000 })`.
 */
export function limiterFactory(options: LimiterOptions): LimiterFactory {
  function make(name: string, spec: PointsSpec): PointsLimiter;
  function make(name: string, spec: CountingSpec): Limiter;
  function make(name: string, spec: LimiterSpec): Limiter | PointsLimiter;
  function make(name: string, spec: LimiterSpec): Limiter | PointsLimiter {
    return limiter(name, spec, options);
  }
  return make;
}

function pointsLimiter(name: string, spec: ResolvedSpecOf<'points'>, runtime: LimiterRuntime): PointsLimiter {
  const checkCost = (field: string, cost: number, min: number): void => {
    if (!Number.isInteger(cost) || cost < min || cost > spec.capacity) {
      throw new InvalidLimiterSpecError(name, field, `an integer from ${min} to the capacity, ${spec.capacity}`, JSON.stringify(cost));
    }
  };
  const acquire = async (cost: number): Promise<PointsPermit | Refusal> => {
    checkCost('cost', cost, 1);
    return runtime.acquire(spec, cost);
  };
  const run = async <T>(cost: number, fn: (charge: PointsCharge) => Promise<T> | T): Promise<T> => {
    checkCost('cost', cost, 1);
    const permit = await runtime.acquireWithin(spec, cost);
    let actual: number | undefined;
    const charge: PointsCharge = {
      estimate: cost,
      settle(actualCost) {
        // A cost may exceed the capacity after the fact (the work is done); it must be a count.
        if (!Number.isInteger(actualCost) || actualCost < 0) {
          throw new InvalidLimiterSpecError(name, 'actual cost', 'a non-negative integer', JSON.stringify(actualCost));
        }
        actual = actualCost;
      },
    };
    try {
      return await fn(charge);
    } finally {
      if (actual !== undefined && actual !== cost) {
        const settled = actual;
        await runtime.cleanup(() => permit.settle(settled));
      }
    }
  };
  return { name, spec, acquire, run, withinLimit: run };
}

/** The parts every limiter kind shares: one attempt, the wait loop, cleanup. */
class LimiterRuntime {
  private readonly store: LimiterStore;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly newToken: () => string;
  private readonly random: Random;
  private readonly maxWaitMs: (() => number) | undefined;
  private readonly onCleanupError: (error: unknown, limiter: string) => void;

  constructor(
    readonly name: string,
    options: LimiterOptions,
  ) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.newToken = options.newToken ?? (() => randomBytes(9).toString('base64url'));
    this.random = options.random ?? Math.random;
    this.maxWaitMs = options.maxWaitMs;
    this.onCleanupError = options.onCleanupError ?? warnCleanupError;
  }

  /**
   * One attempt.
   * @throws LimiterUnavailableError when the store fails (an AWS error: Hopper's infrastructure, not
   *   the limit); Hopper's own errors (configuration) as they are.
   */
  async acquire(spec: ResolvedLimiterSpec, cost: number): Promise<PointsPermit | Refusal> {
    const token = this.newToken();
    if (!ENTRY_ID_PATTERN.test(token)) {
      throw new HopperError(`limiter ${this.name}: newToken must return 1 to 64 letters, digits, _ or -, but returned ${JSON.stringify(token)}`);
    }
    const key = limiterKey(this.name, spec.type);
    const acquiredAtMs = this.now();
    let result: ShardedResult;
    try {
      result = await acquireSharded(this.store, { key, spec, nowMs: acquiredAtMs, token, cost }, this.random);
    } catch (error) {
      // Hopper's own errors (a missing HOPPER_LIMITS_TABLE) are defects to fix, not outages to wait out.
      if (error instanceof HopperError) throw error;
      throw new LimiterUnavailableError(this.name, toRetryAfterSeconds(UNAVAILABLE_RETRY_AFTER_MS), { cause: error });
    }
    if (!result.allowed) {
      return { allowed: false, retryAfterMs: result.retryAfterMs, retryAfterSeconds: toRetryAfterSeconds(result.retryAfterMs) };
    }
    // A lease is held in the one shard that granted it (concurrent limiters have one).
    const { taken } = result;
    const shard = taken[0]?.shard ?? { key, spec };
    return {
      allowed: true,
      release: async () => {
        if (shard.spec.type === 'concurrent') await this.store.release({ key: shard.key, spec: shard.spec, token, heldMs: this.now() - acquiredAtMs });
      },
      settle: async (actualCost) => {
        await settleSharded(this.store, taken, actualCost - cost, this.now());
      },
    };
  }

  /**
   * Attempts until allowed or the wait is over. Each refusal says when room is likely (exactly
   * for the rate kinds; for a concurrent limiter, when a lease is expected to end): when that lies
   * beyond the wait there is no point in waiting, otherwise the next attempt is made then, with
   * jitter. A store that cannot be reached is asked again the same way after a second.
   *
   * @throws RateLimitedError with the last attempt's retryAfter; LimiterUnavailableError when the
   *   last attempt could not reach the store.
   */
  async acquireWithin(spec: ResolvedLimiterSpec, cost: number): Promise<PointsPermit> {
    const budget = this.maxWaitMs === undefined ? spec.waitMs : Math.min(spec.waitMs, Math.max(0, this.maxWaitMs()));
    const deadline = this.now() + budget;
    for (;;) {
      let failure: LimiterUnavailableError | undefined;
      let retryAfterMs: number;
      try {
        const result = await this.acquire(spec, cost);
        if (result.allowed) return result;
        retryAfterMs = result.retryAfterMs;
      } catch (error) {
        if (!(error instanceof LimiterUnavailableError)) throw error;
        failure = error;
        retryAfterMs = UNAVAILABLE_RETRY_AFTER_MS;
      }
      const remaining = deadline - this.now();
      if (remaining <= 0 || retryAfterMs > remaining) throw failure ?? new RateLimitedError(this.name, toRetryAfterSeconds(retryAfterMs));
      // A rate limiter's retry-after is exact; a lease's end is a guess, which waiters spread around.
      const jitter = spec.type === 'concurrent' ? Math.min(LIMITER_POLL_MS.maxJitter, Math.max(LIMITER_POLL_MS.minJitter, retryAfterMs / 2)) * this.random() : 0;
      await this.sleep(Math.max(1, Math.min(retryAfterMs + jitter, remaining)));
    }
  }

  /** Runs a release or settlement; a failure is reported, never thrown over the block's outcome. */
  async cleanup(task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (error) {
      this.onCleanupError(error, this.name);
    }
  }
}

function warnCleanupError(error: unknown, limiter: string): void {
  const message = error instanceof Error ? error.message : String(error);
  console.warn(JSON.stringify({ level: 'warn', message: `limiter ${limiter}: cleanup failed; a lease expires on its own`, error: message }));
}
