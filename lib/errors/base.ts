/**
 * Hopper's error classes. Errors cross process and bundle boundaries (a worker bundle, the CLI, a
 * test), so code recognises them by `name` with {@link isHopperError}, not only with `instanceof`.
 */

/**
 * Base class of every error Hopper throws on purpose. Sets `name` and keeps `cause`.
 *
 * Each Hopper class names itself with a literal `errorName`, because minifiers rename classes
 * (`UnknownJobTypeError` becomes `r`, and so would its `name` if it were read from the class). A
 * subclass that declares no `errorName` of its own (a team's `class CardDeclined extends
 * UnrecoverableJobError {}`) is named by its class, as Sidekiq names an error by its class.
 */
export class HopperError extends Error {
  /** The `name` of errors of exactly this class (not of its subclasses). */
  static readonly errorName: string = 'HopperError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // An anonymous subclass has no class name to give: it keeps its nearest ancestor's.
    this.name = Object.hasOwn(new.target, 'errorName') || new.target.name === '' ? new.target.errorName : new.target.name;
  }
}

/**
 * A job (or a producer's input) does not match the wire format. `field` is the JSON path of the
 * offending field (`args`, `custom.unique_for`), `expected` says what would have been accepted.
 */
export class InvalidJobError extends HopperError {
  static override readonly errorName: string = 'InvalidJobError';
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
export class UnrecoverableJobError extends HopperError {
  static override readonly errorName: string = 'UnrecoverableJobError';
}

/**
 * A limiter refused to run the block now. The worker reschedules the job after
 * `retryAfterSeconds` without consuming one of its retries.
 */
export class RateLimitedError extends HopperError {
  static override readonly errorName: string = 'RateLimitedError';
  readonly limiter: string;
  readonly retryAfterSeconds: number;

  constructor(limiter: string, retryAfterSeconds: number) {
    super(`rate limited by ${limiter}; retry after ${retryAfterSeconds}s`);
    this.limiter = limiter;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A configuration value (environment variable, constructor option) is missing or malformed. */
export class ConfigurationError extends HopperError {
  static override readonly errorName: string = 'ConfigurationError';
}

/** A message or batch exceeds an SQS or Hopper size limit. */
export class PayloadTooLargeError extends HopperError {
  static override readonly errorName: string = 'PayloadTooLargeError';
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
