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

/** Why a tracked job's result could not be given. */
export type JobResultProblem =
  /** No state: the job is not tracked, has not started yet, or its state expired. */
  | 'unknown'
  /** It was still running when the wait ended. */
  | 'running'
  /** Its latest attempt failed (a retry may still come) when the wait ended. */
  | 'failed'
  /** It succeeded, but its result could not be kept (too large, not JSON). */
  | 'unkept';

/** `result(jid, { wait })` could not give the job's result; `problem` says why. */
export class JobResultError extends HopperError {
  static override readonly errorName: string = 'JobResultError';
  readonly jid: string;
  readonly problem: JobResultProblem;
  /** The error of the failed attempt (`problem` 'failed'). */
  readonly error: { readonly errtype: string; readonly message: string } | undefined;

  constructor(jid: string, problem: JobResultProblem, detail: string, error?: { readonly errtype: string; readonly message: string }) {
    super(`no result for job ${jid}: ${detail}`);
    this.jid = jid;
    this.problem = problem;
    this.error = error;
  }
}
