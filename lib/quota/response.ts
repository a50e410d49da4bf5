/**
 * The HTTP answer to a refused enqueue, in Sentry's shape: `429` with `Retry-After` and
 * `X-Hopper-Rate-Limits: <retry_after>:<queues>:<scope>:<reason>` (groups separated by `,`,
 * queues by `;`, no queues meaning every queue), and the same facts in the JSON body. Clients
 * stop sending to the scope until the retry-after has passed.
 */
import { QUOTA_REASONS, type QuotaDecision, type QuotaLimit } from './check.js';

/** The header that carries the refused scopes. */
export const RATE_LIMITS_HEADER = 'X-Hopper-Rate-Limits';

/** An HTTP response as a Function URL handler returns it. */
export interface QuotaResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The `X-Hopper-Rate-Limits` value for `limits`.
 *
 * @example
 * rateLimitsHeader([{ scope: 'tenant', id: 'acme', queues: [], retryAfterSeconds: 12, reason: 'quota_exceeded' }])
 * // '12::tenant:quota_exceeded'
 */
export function rateLimitsHeader(limits: readonly QuotaLimit[]): string {
  return limits.map((limit) => `${limit.retryAfterSeconds}:${limit.queues.join(';')}:${limit.scope}:${limit.reason}`).join(', ');
}

/**
 * The response to a refused request: `429` when the quota is spent for now, `413` when the
 * request holds more jobs than the quota can ever admit at once (retrying cannot help; split it).
 */
export function quotaExceededResponse(decision: Extract<QuotaDecision, { allowed: false }>): QuotaResponse {
  const tooLarge = decision.limits.some((limit) => limit.reason === QUOTA_REASONS.tooLarge);
  const [first] = decision.limits;
  const message =
    first === undefined ? 'quota exceeded'
    : tooLarge ? `the request holds more jobs than the ${first.scope} quota of ${first.id} admits at once; send fewer per request`
    : `the ${first.scope} quota of ${first.id} is spent; retry after ${decision.retryAfterSeconds} s`;
  const headers: Record<string, string> = { 'Content-Type': 'application/json', [RATE_LIMITS_HEADER]: rateLimitsHeader(decision.limits) };
  if (!tooLarge) headers['Retry-After'] = String(decision.retryAfterSeconds);
  return {
    statusCode: tooLarge ? 413 : 429,
    headers,
    body: JSON.stringify({
      error: {
        code: tooLarge ? QUOTA_REASONS.tooLarge : QUOTA_REASONS.exceeded,
        message,
        retry_after: decision.retryAfterSeconds,
        limits: decision.limits.map((limit) => ({ scope: limit.scope, id: limit.id, queues: limit.queues, retry_after: limit.retryAfterSeconds, reason: limit.reason })),
      },
    }),
  };
}
