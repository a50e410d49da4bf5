/**
 * The HTTP vocabulary of the API: requests as the router sees them, responses as a Function URL
 * returns them, and errors as JSON `{ "error": { "code", "message" } }` with their status.
 */
import type { MiddlewareError } from '../errors/middleware.js';
import { ApiError } from '../errors/api.js';

/** The caller, as the Function URL's IAM authorizer identified it. */
export interface Caller {
  /** The signing principal's ARN (`arn:aws:sts::…:assumed-role/Role/session`, `arn:aws:iam::…:user/u`). */
  readonly userArn?: string;
  readonly accountId?: string;
  /** The principal's unique id (`AROA…:session`, `AIDA…`). */
  readonly callerId?: string;
}

/** A request after the Function URL event has been read. */
export interface ApiRequest {
  readonly method: string;
  /** The path, percent-decoded segment by segment by the router, never before. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The body as text (decoded from base64 when the URL delivered it so). */
  readonly body: string | undefined;
  /** The body's size in bytes. */
  readonly bodyBytes: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Undefined when the URL did not authenticate the caller (only ever locally). */
  readonly caller: Caller | undefined;
}

/** A Function URL response (payload format 2.0). */
export interface ApiResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Error codes the API answers with. */
export const API_ERRORS = {
  badParameter: 'bad_parameter',
  unauthenticated: 'unauthenticated',
  notFound: 'not_found',
  methodNotAllowed: 'method_not_allowed',
  payloadTooLarge: 'payload_too_large',
  conflict: 'conflict',
  /** The resource is mid-change (a queue's mapping still enabling or disabling): try again after Retry-After. */
  busy: 'busy',
  /** A unique job's lock is held by another job (`existing_jid`): not enqueued, and retrying now will not help. */
  notUnique: 'not_unique',
  backlog: 'backlog_exceeded',
  /** The team's client middleware refused a job: nothing of the request was enqueued. */
  refused: 'refused_by_middleware',
  upstream: 'upstream_error',
  notConfigured: 'not_configured',
  internal: 'internal_error',
} as const;

// Routes import it from here, with the helpers that make one.
export { ApiError } from '../errors/api.js';

/** `422 refused_by_middleware`: the team's client middleware refused a job; nothing of the request was enqueued. */
export function refusedByMiddleware(error: MiddlewareError): ApiError {
  return new ApiError(422, API_ERRORS.refused, error.message, { details: { middleware: error.middleware, via: error.via } });
}

/** `400 bad_parameter` naming the parameter, what it must be and what was given. */
export function badParameter(name: string, expected: string, received?: string): ApiError {
  return new ApiError(400, API_ERRORS.badParameter, `${name} must be ${expected}${received === undefined ? '' : `, but ${received} was provided`}`, { details: { parameter: name } });
}

/** Network failures a Node AWS SDK call surfaces without a service answer. */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/**
 * `502 upstream_error` for an error of an AWS service the API calls (an SDK error: it carries
 * `$metadata`; or a network failure on the way to one): a dependency failed, which a client may
 * retry. Undefined for any other error, which is the API's own (500).
 */
export function upstreamFailure(error: unknown): ApiError | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const fromService = '$metadata' in error || '$fault' in error;
  if (!fromService && !(code !== undefined && NETWORK_ERROR_CODES.has(code)) && error.name !== 'TimeoutError') return undefined;
  return new ApiError(502, API_ERRORS.upstream, `a service the API depends on failed (${error.name}: ${error.message.slice(0, 200)}); try again`);
}

/** `404 not_found`. */
export function notFound(message: string): ApiError {
  return new ApiError(404, API_ERRORS.notFound, message);
}

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Readonly<Record<string, string>> = {}): ApiResponse {
  return { statusCode, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** The response for an {@link ApiError}. */
export function errorResponse(error: ApiError): ApiResponse {
  return json(error.status, { error: { code: error.code, message: error.message, ...error.details } }, error.headers);
}

/** A short description of a value for messages, never the whole value. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Parses a JSON body. @throws ApiError 400 naming `body` when it is missing or not JSON. */
export function jsonBody(request: ApiRequest, required: boolean): unknown {
  if (request.body === undefined || request.body.trim() === '') {
    if (required) throw badParameter('body', 'a JSON object', 'nothing');
    return undefined;
  }
  try {
    return JSON.parse(request.body);
  } catch {
    throw badParameter('body', 'JSON', 'text that is not JSON');
  }
}

/** Reads an optional integer query parameter. @throws ApiError 400 naming it. */
export function intParameter(request: ApiRequest, name: string, min: number, max: number, fallback: number): number {
  const raw = request.query[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badParameter(name, `an integer from ${min} to ${max}`, describeValue(raw));
  }
  return value;
}
