/** Errors of limiters (rate limiters, concurrency limits, quotas' specs) and of their store. */
import { ConfigurationError, RateLimitedError } from './base.js';

/**
 * A limiter name or spec is malformed. `field` names the offending field (`limit`, `per`),
 * `expected` says what would have been accepted.
 */
export class InvalidLimiterSpecError extends ConfigurationError {
  static override readonly errorName: string = 'InvalidLimiterSpecError';
  readonly limiter: string;
  readonly field: string;
  readonly expected: string;
  readonly received: string;

  constructor(limiter: string, field: string, expected: string, received: string) {
    super(`limiter ${JSON.stringify(limiter)}: ${field} must be ${expected}, but ${received} was provided`);
    this.limiter = limiter;
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A per-tenant cap (a queue's `perTenant`, an override) is malformed. `field` is the full path of
 * the offending value (`perTenant of queue "email".rate.limit`, `body.concurrency`).
 */
export class InvalidTenantCapError extends ConfigurationError {
  static override readonly errorName: string = 'InvalidTenantCapError';
  readonly field: string;
  readonly expected: string;
  readonly received: string;

  constructor(field: string, expected: string, received: string) {
    super(`${field} must be ${expected}, but ${received} was provided`);
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A limiter could not be asked (its state in the limits table could not be read or written: a
 * throttle, an outage). It is Hopper's own infrastructure failing, not the job: a worker puts the
 * job back on its queue after `retryAfterSeconds`, as for a limit, without using a retry. It is a
 * `RateLimitedError`, so code that catches that one handles this one too.
 */
export class LimiterUnavailableError extends RateLimitedError {
  static override readonly errorName: string = 'LimiterUnavailableError';

  constructor(limiter: string, retryAfterSeconds: number, options: { cause: unknown }) {
    super(limiter, retryAfterSeconds);
    this.message = `limiter ${limiter} could not be reached (${describeCause(options.cause)}); retry after ${retryAfterSeconds}s`;
    this.cause = options.cause;
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}
