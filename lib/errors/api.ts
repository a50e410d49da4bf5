/** Errors of the HTTP API (the api function): each becomes an answer with a status and a code. */
import { HopperError } from './base.js';

/** An error that becomes an HTTP answer. */
export class ApiError extends HopperError {
  static override readonly errorName: string = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  /** More facts for the JSON body, next to `code` and `message`. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(status: number, code: string, message: string, extra: { headers?: Record<string, string>; details?: Record<string, unknown> } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = extra.headers ?? {};
    this.details = extra.details ?? {};
  }
}

/**
 * Lambda refused to update a mapping because it is mid-change (`ResourceInUseException`: an
 * enable or disable still in progress): the same request succeeds once the change has settled.
 */
export class MappingBusyError extends HopperError {
  static override readonly errorName: string = 'MappingBusyError';
  readonly uuid: string;
  /** Seconds after which the same request is likely to succeed. */
  readonly retryAfterSeconds: number;

  constructor(uuid: string, retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(`event source mapping ${uuid} is being changed; try again in ${retryAfterSeconds} s`, options);
    this.uuid = uuid;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
