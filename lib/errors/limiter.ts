/** Errors of limiters (rate limiters, concurrency limits, quotas' specs). */
import { ConfigurationError } from './base.js';

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
