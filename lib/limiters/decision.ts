/**
 * What every limiter's arithmetic answers: may the request go ahead, what the stored state becomes,
 * and when to come back if not.
 */

/** The outcome of asking a limiter for room, computed from stored state, the clock and the request. */
export interface Decision<S> {
  readonly allowed: boolean;
  /** The state to store when allowed; the (possibly pruned) state when not. */
  readonly newState: S;
  /** Milliseconds until a request like this one can be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
  /** `retryAfterMs` rounded up to whole seconds, as `Retry-After` and SQS delays want it. */
  readonly retryAfterSeconds: number;
}

/** An allowing decision. */
export function allow<S>(newState: S): Decision<S> {
  return { allowed: true, newState, retryAfterMs: 0, retryAfterSeconds: 0 };
}

/** A refusing decision; a wait of less than 1 ms is rounded up so that "refused" never says "now". */
export function refuse<S>(state: S, retryAfterMs: number): Decision<S> {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return { allowed: false, newState: state, retryAfterMs: ms, retryAfterSeconds: toRetryAfterSeconds(ms) };
}

/** Milliseconds → whole seconds, rounded up (a client that waits that long will find room). */
export function toRetryAfterSeconds(retryAfterMs: number): number {
  return Math.ceil(retryAfterMs / 1000);
}
