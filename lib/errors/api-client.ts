/** Errors of the HTTP API's client (`hopper-jobs/api-client`): discarded work, error answers. */
import { HopperError } from './base.js';

/** Why work was discarded. */
export const DISCARD_REASONS = {
  /** A quota (429) would still be closed when the work reached `maxAge`. */
  rateLimited: 'rate_limited',
  /** A backlog limit (503) would still be closed when the work reached `maxAge`. */
  backlog: 'backlog',
  /** Errors (network, 5xx) went on until the work reached `maxAge`. */
  maxAge: 'max_age',
  /** The API refused the request's size (413): retrying cannot help. */
  tooLarge: 'too_large',
} as const;
export type DiscardReason = (typeof DISCARD_REASONS)[keyof typeof DISCARD_REASONS];

/** Work that was not sent and will not be. */
export class JobDiscardedError extends HopperError {
  static override readonly errorName: string = 'JobDiscardedError';
  readonly reason: DiscardReason;
  readonly scope: string;
  readonly jobs: number;

  constructor(reason: DiscardReason, scope: string, jobs: number, detail: string) {
    super(`${jobs} job(s) discarded (${reason}, ${scope}): ${detail}`);
    this.reason = reason;
    this.scope = scope;
    this.jobs = jobs;
  }
}

/** The API answered with an error that is not backpressure (a bad request, a missing route). */
export class ApiResponseError extends HopperError {
  static override readonly errorName: string = 'ApiResponseError';
  readonly status: number;
  readonly code: string;
  readonly body: unknown;
  /** Seconds to wait before asking again, when the answer said (`409 busy` does). */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: string, message: string, body: unknown, retryAfterSeconds?: number) {
    super(`API answered ${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
