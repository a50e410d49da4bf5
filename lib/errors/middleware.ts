/**
 * Errors of a team's middleware and hooks (lib/middleware/chain.ts).
 */
import { HopperError } from './base.js';

/**
 * A client middleware threw or gave back something that is not the job it was given: the job is
 * not enqueued (a producer gets this error; Hopper's own functions keep the job where it was and
 * try again). `middleware` names the entry (its function name, or its position), `via` the path.
 */
export class MiddlewareError extends HopperError {
  static override readonly errorName: string = 'MiddlewareError';
  readonly middleware: string;
  readonly via: string;

  constructor(middleware: string, via: string, message: string, options?: { cause?: unknown }) {
    super(`client middleware ${middleware} (enqueue via ${via}): ${message}`, options);
    this.middleware = middleware;
    this.via = via;
  }
}

/** A middleware declaration that cannot run (`defineMiddleware`), naming the entry at fault. */
export class InvalidMiddlewareError extends HopperError {
  static override readonly errorName: string = 'InvalidMiddlewareError';
}
