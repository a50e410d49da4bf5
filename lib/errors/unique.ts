/** Errors of unique jobs. */
import { HopperError } from './base.js';

/**
 * A job with `custom.unique_for` was not enqueued: a job of the same (jobtype, args, queue) holds
 * the lock. `existingJid` is that job's id; `lockedUntil` when the lock expires at the latest.
 *
 * @example
 * try { await client.enqueue(job); } catch (error) {
 *   if (isHopperError(error, 'NotUniqueError') && error instanceof NotUniqueError) log(error.existingJid);
 * }
 */
export class NotUniqueError extends HopperError {
  static override readonly errorName: string = 'NotUniqueError';
  /** The jid of the job that was refused. */
  readonly jid: string;
  /** The jid of the job holding the lock. */
  readonly existingJid: string;
  /** When the lock expires by its TTL, ISO-8601 (it may be released earlier). */
  readonly lockedUntil: string | undefined;

  constructor(jid: string, existingJid: string, lockedUntil?: string) {
    super(`job ${jid} is not unique: job ${existingJid} holds the lock on its jobtype, args and queue${lockedUntil === undefined ? '' : ` until ${lockedUntil}`}`);
    this.jid = jid;
    this.existingJid = existingJid;
    this.lockedUntil = lockedUntil;
  }
}
