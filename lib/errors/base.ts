/**
 * Hopper's error classes. Errors cross process and bundle boundaries (a worker bundle, the CLI, a
 * test), so code recognises them by `name` with {@link isHopperError}, not only with `instanceof`.
 */

/** Base class of every error Hopper throws on purpose. Sets `name` and keeps `cause`. */
export class HopperError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A job (or a producer's input) does not match the wire format. `field` is the JSON path of the
 * offending field (`args`, `custom.unique_for`), `expected` says what would have been accepted.
 */
export class InvalidJobError extends HopperError {
  readonly field: string;
  readonly expected: string;
  /** A short description of what was given (never the whole value). */
  readonly received: string | undefined;

  constructor(field: string, expected: string, received?: string) {
    super(`invalid job: ${field} must be ${expected}${received === undefined ? '' : `, but ${received} was provided`}`);
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * Thrown by a handler when retrying cannot help (bad input, a deleted record). The job goes
 * straight to the dead set with this error's message as the reason.
 *
 * @example
 * if (!user) throw new UnrecoverableJobError(`user ${id} no longer exists`);
 */
export class UnrecoverableJobError extends HopperError {}

/**
 * A limiter refused to run the block now. The worker reschedules the job after
 * `retryAfterSeconds` without consuming one of its retries.
 */
export class RateLimitedError extends HopperError {
  readonly limiter: string;
  readonly retryAfterSeconds: number;

  constructor(limiter: string, retryAfterSeconds: number) {
    super(`rate limited by ${limiter}; retry after ${retryAfterSeconds}s`);
    this.limiter = limiter;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A configuration value (environment variable, constructor option) is missing or malformed. */
export class ConfigurationError extends HopperError {}

/** A message or batch exceeds an SQS or Hopper size limit. */
export class PayloadTooLargeError extends HopperError {
  readonly sizeBytes: number;
  readonly limitBytes: number;

  constructor(what: string, sizeBytes: number, limitBytes: number) {
    super(`${what} is ${sizeBytes} bytes, over the limit of ${limitBytes} bytes`);
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/** True when `error` is an Error whose `name` is `name` (works across bundles and processes). */
export function isHopperError(error: unknown, name: string): error is Error {
  return error instanceof Error && error.name === name;
}
