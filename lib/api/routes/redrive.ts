/**
 * `POST /v1/redrive/retries`: moves messages from the retries queue's dead-letter queue back to the
 * retries queue (receive, send, delete; lib/admin/redrive.ts), a bounded number per call. The answer says
 * whether the DLQ is empty, so a caller (`hopper redrive retries`) repeats until it is.
 */
import { REDRIVE_DEFAULTS } from '../../admin/redrive.js';
import type { ApiContext } from '../context.js';
import { API_ERRORS, ApiError, badParameter, describeValue, json, jsonBody, type ApiRequest, type ApiResponse } from '../http.js';
import type { Route } from '../router.js';
import type { RedriveView } from '../wire.js';

/** The route. */
export function redriveRoutes(ctx: ApiContext): Route[] {
  return [{ method: 'POST', path: '/v1/redrive/retries', handle: (request) => redriveRetries(ctx, request) }];
}

async function redriveRetries(ctx: ApiContext, request: ApiRequest): Promise<ApiResponse> {
  const body = jsonBody(request, false) ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badParameter('body', 'a JSON object with limit', describeValue(body));
  for (const field of Object.keys(body)) if (field !== 'limit') throw badParameter(field, 'absent (redrive takes limit)');
  const limit = 'limit' in body ? body.limit : REDRIVE_DEFAULTS.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > REDRIVE_DEFAULTS.maxLimit) {
    throw badParameter('limit', `an integer from 1 to ${REDRIVE_DEFAULTS.maxLimit}`, describeValue(limit));
  }
  if (ctx.deadLetters === undefined) {
    throw new ApiError(501, API_ERRORS.notConfigured, 'this API does not know the retries queue and its dead-letter queue (HOPPER_RETRIES_QUEUE_URL, HOPPER_RETRIES_DLQ_URL)');
  }
  const result = await ctx.deadLetters.redrive(limit);
  ctx.logger.info('retries DLQ redriven', { moved: result.moved, lingering: result.lingering, failed: result.failed.length, kept: result.kept.length, empty: result.empty });
  return json(200, {
    moved: result.moved,
    lingering: result.lingering,
    failed: result.failed.map((failure) => ({ message_id: failure.messageId, reason: failure.reason })),
    // The batch function's stream failure records: not jobs, left in the DLQ for the operator.
    kept: result.kept.map((record) => ({ message_id: record.messageId, reason: record.reason })),
    done: result.empty,
  } satisfies RedriveView);
}
