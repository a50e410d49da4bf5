/**
 * Errors of flows. Recognise them by `name` (`isHopperError(error, 'InvalidFlowError')`) when they
 * may come from another bundle.
 */
import { HopperError } from './base.js';

/**
 * A flow was refused when submitted. `field` names the offending part (`steps.parse.after`,
 * `steps.index.queue`), `expected` says what would have been accepted.
 */
export class InvalidFlowError extends HopperError {
  static override readonly errorName: string = 'InvalidFlowError';
  readonly field: string;
  readonly expected: string;
  /** A short description of what was given (never the whole value). */
  readonly received: string | undefined;

  constructor(field: string, expected: string, received?: string) {
    super(`invalid flow: ${field} must be ${expected}${received === undefined ? '' : `, but ${received} was provided`}`);
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}

/** The flow `id` does not exist (never created, or expired by its TTL). */
export class FlowNotFoundError extends HopperError {
  static override readonly errorName: string = 'FlowNotFoundError';
  readonly id: string;

  constructor(id: string) {
    super(`flow ${JSON.stringify(id)} does not exist (never created, or expired)`);
    this.id = id;
  }
}

/** A flow cannot be retried now: it has not failed, or a step of it still runs. */
export class FlowNotRetryableError extends HopperError {
  static override readonly errorName: string = 'FlowNotRetryableError';
  readonly id: string;
  readonly status: string;

  constructor(id: string, status: string) {
    super(`flow ${JSON.stringify(id)} cannot be retried: it is ${status} (only a failed flow whose steps all settled can)`);
    this.id = id;
    this.status = status;
  }
}
