/** Errors of enqueuing. */
import { HopperError } from './base.js';

/** One job an enqueue did not put on its queue, and why. */
export interface EnqueueFailure {
  readonly jid: string;
  readonly reason: string;
  /** Set when the job was refused as not unique: the jid of the job holding the lock. */
  readonly existingJid?: string;
  /** With `existingJid`: when the lock expires at the latest, ISO-8601. */
  readonly lockedUntil?: string;
}

/**
 * Some jobs of an `enqueueMany` (or `Batch.add`) were not enqueued: refused as not unique (their
 * entry has `existingJid`), or not accepted by SQS after retries. Those in `enqueued` are on their
 * queues; those in `failed` are not (safe to enqueue again with the same jids).
 */
export class EnqueueError extends HopperError {
  static override readonly errorName: string = 'EnqueueError';
  readonly enqueued: readonly string[];
  readonly failed: readonly EnqueueFailure[];

  constructor(enqueued: readonly string[], failed: readonly EnqueueFailure[]) {
    const first = failed[0];
    super(`${failed.length} job(s) could not be enqueued${first === undefined ? '' : `; first: ${first.jid}: ${first.reason}`}`);
    this.enqueued = enqueued;
    this.failed = failed;
  }
}
