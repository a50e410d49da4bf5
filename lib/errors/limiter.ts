/** Errors of limiters that are not about the limit itself. */
import { RateLimitedError } from './base.js';

/**
 * A limiter could not be asked (its state in the limits table could not be read or written: a
 * throttle, an outage). It is Hopper's own infrastructure failing, not the job: a worker puts the
 * job back on its queue after `retryAfterSeconds`, as for a limit, without using a retry. It is a
 * `RateLimitedError`, so code that catches that one handles this one too.
 */
export class LimiterUnavailableError extends RateLimitedError {
  override readonly name = 'LimiterUnavailableError';

  constructor(limiter: string, retryAfterSeconds: number, options: { cause: unknown }) {
    super(limiter, retryAfterSeconds);
    this.message = `limiter ${limiter} could not be reached (${describeCause(options.cause)}); retry after ${retryAfterSeconds}s`;
    this.cause = options.cause;
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}
