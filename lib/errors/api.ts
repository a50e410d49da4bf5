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
