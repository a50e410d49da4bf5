/**
 * Errors of batches. Recognise them by `name` (`isHopperError(error, 'BatchNotFoundError')`) when
 * they may come from another bundle.
 */
import { HopperError } from './base.js';

/** The batch `bid` does not exist (never created, or expired by its TTL). */
export class BatchNotFoundError extends HopperError {
  static override readonly errorName: string = 'BatchNotFoundError';
  readonly bid: string;

  constructor(bid: string) {
    super(`batch ${JSON.stringify(bid)} does not exist (never created, or expired)`);
    this.bid = bid;
  }
}

/**
 * Batch `bid` has succeeded (its success callback fired), so jobs or child batches can no longer be
 * added to it: they would run after its success was announced.
 */
export class BatchFinishedError extends HopperError {
  static override readonly errorName: string = 'BatchFinishedError';
  readonly bid: string;

  constructor(bid: string) {
    super(`batch ${JSON.stringify(bid)} has succeeded; add jobs to a new batch instead`);
    this.bid = bid;
  }
}

/** Concurrent writers kept cancelling this batch's transaction; the caller may try again later. */
export class BatchContentionError extends HopperError {
  static override readonly errorName: string = 'BatchContentionError';
  readonly bid: string;
  readonly attempts: number;

  constructor(bid: string, attempts: number, options?: { cause?: unknown }) {
    super(`batch ${JSON.stringify(bid)}: ${attempts} attempts cancelled by concurrent writes`, options);
    this.bid = bid;
    this.attempts = attempts;
  }
}
