/**
 * Errors the worker raises itself. They travel to the retries queue inside failure envelopes, where
 * only their `name` (errtype) and message survive.
 */
import { HopperError, UnrecoverableJobError, isHopperError } from './base.js';

/** The worker has no handler for a job's `jobtype`; the job goes straight to the dead set. */
export class UnknownJobTypeError extends UnrecoverableJobError {
  static override readonly errorName: string = 'UnknownJobTypeError';
  readonly jobtype: string;

  constructor(jobtype: string, known: readonly string[]) {
    super(`no handler for jobtype ${JSON.stringify(jobtype)} in this worker (it handles: ${known.length === 0 ? 'nothing' : known.join(', ')})`);
    this.jobtype = jobtype;
  }
}

/** `ctx.extend` was called with a length SQS cannot take, or for a message it cannot extend. */
export class ReservationError extends HopperError {
  static override readonly errorName: string = 'ReservationError';
}

/**
 * True when retrying cannot help. Recognised by class or by name, since a handler may throw an
 * `UnrecoverableJobError` from another copy of Hopper bundled into the same function.
 */
export function isUnrecoverable(error: unknown): boolean {
  return error instanceof UnrecoverableJobError
    || ['UnrecoverableJobError', 'UnknownJobTypeError', 'InvalidJobArgsError', 'OnceStepError', 'IterationError'].some((name) => isHopperError(error, name));
}

/**
 * The `retryAfterSeconds` of a `RateLimitedError`, a `LimiterUnavailableError`, a
 * `OnceStepBusyError` or an `IterationBusyError` (by name), or undefined for any other error.
 */
export function rateLimitedDelay(error: unknown): number | undefined {
  if (!(error instanceof Error) || !['RateLimitedError', 'LimiterUnavailableError', 'OnceStepBusyError', 'IterationBusyError'].some((name) => isHopperError(error, name))) return undefined;
  if (!('retryAfterSeconds' in error) || typeof error.retryAfterSeconds !== 'number' || !Number.isFinite(error.retryAfterSeconds)) return undefined;
  return error.retryAfterSeconds;
}

/** A job's arguments did not match its schema. The worker sends the job to the dead set at once. */
export class InvalidJobArgsError extends UnrecoverableJobError {
  static override readonly errorName: string = 'InvalidJobArgsError';
  /** What the schema found, each as `<field>: <message>` (`args[0]: expected a string`). */
  readonly problems: readonly string[];

  constructor(jobtype: string, problems: readonly string[]) {
    super(`${jobtype}: its arguments do not match the job's schema: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/**
 * A step of `ctx.once` is running in another delivery of the same job (SQS delivered it twice):
 * this one goes back on its queue until that run has ended, as for a limiter's wait, without using
 * a retry.
 */
export class OnceStepBusyError extends HopperError {
  static override readonly errorName: string = 'OnceStepBusyError';
  readonly step: string;
  readonly retryAfterSeconds: number;

  constructor(step: string, retryAfterSeconds: number) {
    super(`step ${JSON.stringify(step)} of ctx.once is running in another delivery of this job; retry after ${retryAfterSeconds}s`);
    this.step = step;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A step of `ctx.once` that cannot be used as it is: its key is not valid, or it ran but its value
 * could not be kept or its completion could not be recorded. Retrying would run the step again,
 * which is what `ctx.once` is there to prevent, so the job goes to the dead set.
 */
export class OnceStepError extends UnrecoverableJobError {
  static override readonly errorName: string = 'OnceStepError';
  readonly step: string;

  constructor(step: string, message: string, options?: { cause?: unknown }) {
    super(`step ${JSON.stringify(step)} of ctx.once: ${message}`, options);
    this.step = step;
  }
}

/**
 * Another delivery of an iterating job is running its slice (SQS delivered the job twice): this one
 * goes back on its queue until that slice's deadline, as for a limiter's wait, without using a retry.
 */
export class IterationBusyError extends HopperError {
  static override readonly errorName: string = 'IterationBusyError';
  readonly retryAfterSeconds: number;

  constructor(jid: string, retryAfterSeconds: number) {
    super(`job ${jid} is iterating in another delivery; retry after ${retryAfterSeconds}s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A slice of an iterating job no longer holds its iteration: another delivery took it over. */
export class IterationLostError extends HopperError {
  static override readonly errorName: string = 'IterationLostError';

  constructor(jid: string) {
    super(`job ${jid}: another delivery took its iteration over; this slice stops`);
  }
}

/**
 * An iterating job cannot go on as written: `items` yielded something other than an `[item, cursor]`
 * pair, or a cursor that cannot be kept (undefined, not JSON, too large). Retrying would meet it
 * again, so the job goes to the dead set.
 */
export class IterationError extends UnrecoverableJobError {
  static override readonly errorName: string = 'IterationError';
}

/**
 * How a slice of an iterating job ended other than by finishing or failing, for the worker's
 * processing of its record: `continue` sends the job back to its queue; `duplicate` acknowledges
 * this copy (another delivery holds the iteration); `finished` acknowledges a copy of a job whose
 * iteration already ran to its end. Not an error of the job: it never reaches a failure report.
 */
export class IterationSignal extends HopperError {
  static override readonly errorName: string = 'IterationSignal';
  readonly kind: 'continue' | 'duplicate' | 'finished';
  /** Slices taken so far, this one included. */
  readonly slices: number;

  constructor(kind: 'continue' | 'duplicate' | 'finished', slices: number, message: string) {
    super(message);
    this.kind = kind;
    this.slices = slices;
  }
}
