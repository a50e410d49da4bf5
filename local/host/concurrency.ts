/**
 * Lambda's concurrency accounting: a function with reserved concurrency runs at most that many
 * invocations at once; the other functions share what the account's limit leaves unreserved. An
 * invocation beyond either is throttled at once (TooManyRequestsException), never queued — the
 * caller decides what a throttle means (a 429, an SQS batch that returns to its queue, an
 * asynchronous event retried later).
 *
 * (How many instances of a function run locally is a separate, local bound: see FunctionPool.)
 */

/** Lambda's error type for a throttled invocation. */
export const THROTTLE_ERROR_TYPE = 'TooManyRequestsException';

/** Why an invocation was throttled, as Lambda's `Reason` field says it. */
export const THROTTLE_REASONS = {
  /** The function's reserved concurrency is in use. */
  reserved: 'ReservedFunctionConcurrentInvocationLimitExceeded',
  /** The account's unreserved concurrency is in use. */
  account: 'ConcurrentInvocationLimitExceeded',
} as const;

export type ThrottleReason = (typeof THROTTLE_REASONS)[keyof typeof THROTTLE_REASONS];

/** A slot held by a running invocation; release it exactly once when the invocation ends. */
export interface ConcurrencyLease {
  release(): void;
}

/** What a function needs to know about itself to ask for a slot. */
export interface ConcurrencyClaimant {
  readonly logicalId: string;
  readonly reservedConcurrency: number | undefined;
}

/** Concurrent executions of one account, shared by every function of a runtime. */
export class AccountConcurrency {
  /** The account's concurrency limit. */
  readonly limit: number;
  private readonly reservedTotal: number;
  private unreservedInUse = 0;
  private readonly reservedInUse = new Map<string, number>();

  /**
   * @param limit the account's concurrent executions (Lambda's default is 1,000).
   * @param functions every function of the stack (their reservations are set aside from the limit).
   */
  constructor(limit: number, functions: readonly ConcurrencyClaimant[]) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the account concurrency must be an integer of at least 1, but ${limit} was provided`);
    this.limit = limit;
    this.reservedTotal = functions.reduce((sum, fn) => sum + (fn.reservedConcurrency ?? 0), 0);
  }

  /** Concurrency the functions without a reservation share. */
  get unreserved(): number {
    return Math.max(0, this.limit - this.reservedTotal);
  }

  /** Invocations running now (of every function). */
  get inUse(): number {
    let total = this.unreservedInUse;
    for (const count of this.reservedInUse.values()) total += count;
    return total;
  }

  /** A slot for one invocation of `fn`, or why there is none. */
  acquire(fn: ConcurrencyClaimant): ConcurrencyLease | { readonly throttled: ThrottleReason } {
    const reserved = fn.reservedConcurrency;
    if (reserved !== undefined) {
      const running = this.reservedInUse.get(fn.logicalId) ?? 0;
      if (running >= reserved) return { throttled: THROTTLE_REASONS.reserved };
      this.reservedInUse.set(fn.logicalId, running + 1);
      return this.lease(() => this.reservedInUse.set(fn.logicalId, (this.reservedInUse.get(fn.logicalId) ?? 1) - 1));
    }
    if (this.unreservedInUse >= this.unreserved) return { throttled: THROTTLE_REASONS.account };
    this.unreservedInUse += 1;
    return this.lease(() => {
      this.unreservedInUse -= 1;
    });
  }

  private lease(free: () => void): ConcurrencyLease {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        free();
      },
    };
  }
}
