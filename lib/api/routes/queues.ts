/**
 * `GET /v1/queues` and `POST /v1/queues/{queue}/pause|resume`.
 *
 * Latency: SQS offers no per-message age through GetQueueAttributes, and peeking means receiving
 * (which counts toward the redrive limit). So `latency` is what the workers report: how long the
 * most recently started job had waited since it became due (lib/job/due.ts: a retry's backoff, a
 * schedule or a limiter's delay is not waiting), with the time it started in `latency_observed_at`. It is null when no worker has reported in the last two hours.
 * A paused or stalled queue's latency therefore stops at its last report; the CloudWatch metric
 * ApproximateAgeOfOldestMessage (`JobSystem.metricQueueLatency`) is the one to alarm on.
 *
 * Pause and resume update the worker's event source mapping; Lambda refuses an update while the
 * mapping is still enabling or disabling, and the API answers that with `409 busy` and
 * `Retry-After: 5`.
 */
import type { ApiContext } from '../context.js';
import { API_ERRORS, ApiError, json, notFound, type ApiResponse } from '../http.js';
import { isHopperError } from '../../errors/base.js';
import { isPaused, MAPPING_BUSY_RETRY_AFTER_SECONDS } from '../queue-state.js';
import type { PathParams, Route } from '../router.js';
import { summedCounts, tierViews } from '../tier-view.js';
import type { QueuesView, QueueToggleView, QueueView } from '../wire.js';

/** The routes. */
export function queueRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'GET', path: '/v1/queues', handle: () => listQueues(ctx) },
    { method: 'POST', path: '/v1/queues/{queue}/pause', handle: (_request, params) => setPaused(ctx, params, true) },
    { method: 'POST', path: '/v1/queues/{queue}/resume', handle: (_request, params) => setPaused(ctx, params, false) },
  ];
}

async function listQueues(ctx: ApiContext): Promise<ApiResponse> {
  const queues = await Promise.all(Object.entries(ctx.config.queueUrls).map(async ([name, url]): Promise<QueueView> => {
    const uuid = ctx.config.queueMappings[name];
    const [own, report, state, tiers] = await Promise.all([
      ctx.queues.countsOf(url),
      ctx.queues.reportOf(name, url),
      uuid === undefined ? Promise.resolve(undefined) : ctx.queues.mappingState(uuid),
      tierViews(ctx, name),
    ]);
    const counts = tiers === undefined ? own : summedCounts(tiers);
    const limits = ctx.config.backlogLimits[name];
    const cap = Object.hasOwn(ctx.config.queueConcurrency, name) ? ctx.config.queueConcurrency[name] : undefined;
    return {
      name,
      size: counts.visible,
      in_flight: counts.inFlight,
      delayed: counts.delayed,
      latency: report.lag === undefined ? null : report.lag.ms / 1000,
      latency_observed_at: report.lag === undefined ? null : new Date(report.lag.atMs).toISOString(),
      drain_per_second: report.drainPerSecond ?? null,
      // A queue without a worker has no mapping to pause.
      paused: state === undefined ? null : isPaused(state),
      mapping_state: state ?? null,
      // Most jobs running at once (the queue's maxConcurrency), null without a cap.
      max_concurrency: cap?.jobs ?? null,
      ...(limits === undefined ? {} : { limits: { max_backlog: limits.maxBacklog ?? null, max_latency: limits.maxLatency ?? null } }),
      ...(tiers === undefined ? {} : { tiers }),
    };
  }));
  return json(200, { queues } satisfies QueuesView);
}

async function setPaused(ctx: ApiContext, params: PathParams, paused: boolean): Promise<ApiResponse> {
  const queue = params.queue ?? '';
  if (!Object.hasOwn(ctx.config.queueUrls, queue)) throw notFound(`queue ${JSON.stringify(queue)} is not declared; declared queues: ${Object.keys(ctx.config.queueUrls).join(', ')}`);
  const uuid = ctx.config.queueMappings[queue];
  if (uuid === undefined) throw new ApiError(409, API_ERRORS.conflict, `queue ${queue} has no worker, so there is nothing to ${paused ? 'pause' : 'resume'}`);
  let state: string;
  // A queue with tiers pauses and resumes every tier's mapping (its own is the default tier's).
  const tierMappings = Object.hasOwn(ctx.config.tierMappings, queue) ? ctx.config.tierMappings[queue] : undefined;
  const others = Object.values(tierMappings?.mappings ?? {}).filter((other) => other !== uuid);
  try {
    state = await ctx.queues.setMappingEnabled(uuid, !paused);
    await Promise.all(others.map((other) => ctx.queues.setMappingEnabled(other, !paused)));
  } catch (error) {
    if (!isHopperError(error, 'MappingBusyError')) throw error;
    const seconds = MAPPING_BUSY_RETRY_AFTER_SECONDS;
    throw new ApiError(409, API_ERRORS.busy, `queue ${queue} is still being paused or resumed (its worker's event source mapping is mid-change); try again in ${seconds} s`, {
      headers: { 'Retry-After': String(seconds) },
      details: { retry_after: seconds },
    });
  }
  ctx.logger.info(paused ? 'queue paused' : 'queue resumed', { queue, mapping: uuid, state });
  return json(200, { queue, paused, mapping_state: state } satisfies QueueToggleView);
}
