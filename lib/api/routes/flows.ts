/**
 * `GET /v1/flows/{id}`: a flow and each of its steps, with state and timing (lib/flow/status.ts).
 * `POST /v1/flows/{id}/retry`: starts a failed flow again from its failed steps (lib/flow/retry.ts);
 * 409 when it has not failed or a step still runs.
 */
import { isHopperError } from '../../errors/base.js';
import { FLOW_LIMITS } from '../../flow/model.js';
import type { FlowView } from '../../flow/status.js';
import type { ApiContext } from '../context.js';
import { API_ERRORS, ApiError, badParameter, describeValue, json, notFound, type ApiResponse } from '../http.js';
import type { PathParams, Route } from '../router.js';

/** The routes. */
export function flowRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'GET', path: '/v1/flows/{id}', handle: async (_request, params) => flowResponse(await ctx.flows.get(flowIdOf(params)), flowIdOf(params)) },
    { method: 'POST', path: '/v1/flows/{id}/retry', handle: (_request, params) => retry(ctx, flowIdOf(params)) },
  ];
}

function flowIdOf(params: PathParams): string {
  const id = params.id ?? '';
  if (!FLOW_LIMITS.flowIdPattern.test(id)) throw badParameter('id', '1 to 40 letters, digits, _ or -', describeValue(id));
  return id;
}

async function retry(ctx: ApiContext, id: string): Promise<ApiResponse> {
  try {
    return flowResponse(await ctx.flows.retry(id), id);
  } catch (error) {
    if (isHopperError(error, 'FlowNotFoundError')) return flowResponse(undefined, id);
    if (isHopperError(error, 'FlowNotRetryableError')) throw new ApiError(409, API_ERRORS.conflict, error.message);
    throw error;
  }
}

function flowResponse(view: FlowView | undefined, id: string): ApiResponse {
  if (view === undefined) throw notFound(`no flow ${id} (it never existed, or expired after its retention)`);
  return json(200, flowWire(view));
}

/** The wire shape of a flow: snake_case, times as ISO-8601, each step's duration in ms once it ended. */
export function flowWire(view: FlowView): Record<string, unknown> {
  return {
    id: view.id,
    description: view.description ?? null,
    status: view.status,
    settled: view.settled,
    failed_step: view.failedStep ?? null,
    retries: view.retries,
    created_at: view.createdAt,
    finished_at: view.finishedAt ?? null,
    steps: view.steps.map((step) => ({
      name: step.name,
      jobtype: step.jobtype,
      status: step.status,
      attempt: step.attempt,
      bid: step.bid ?? null,
      after: step.after.map((edge) => ({ step: edge.step, on_failure: edge.onFailure })),
      started_at: step.startedAt ?? null,
      ended_at: step.endedAt ?? null,
      duration_ms: step.startedAt === undefined || step.endedAt === undefined ? null : Date.parse(step.endedAt) - Date.parse(step.startedAt),
    })),
  };
}
