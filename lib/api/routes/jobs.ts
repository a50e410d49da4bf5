/**
 * `POST /v1/jobs`: one job, or `{ "jobs": [...] }`. Validated with the job model, stamped with the
 * caller's tenant, checked against backlog limits (503) and quotas (429), then enqueued.
 */
import { jobQueueUrl } from '../../aws/queues.js';
import { MiddlewareError } from '../../errors/middleware.js';
import { EnqueueError } from '../../client/client.js';
import { METRICS, type MetricName } from '../../observability/emf.js';
import { InvalidJobError, isHopperError } from '../../errors/base.js';
import { isRecord, JOB_LIMITS, normalizeJob, type Job } from '../../job/model.js';
import { checkQuotasForQueues, quotaExceededResponse, RATE_LIMITS_HEADER, refundQuotas } from '../../quota/index.js';
import { checkBacklog } from '../backlog.js';
import type { EnqueuedView, JobStatusView } from '../wire.js';
import { enqueueErrorAnswer } from '../enqueue-errors.js';
import { API_DEFAULTS } from '../config.js';
import { isPaused } from '../queue-state.js';
import type { ApiContext } from '../context.js';
import { tenantOf } from '../event.js';
import { API_ERRORS, ApiError, badParameter, describeValue, json, jsonBody, notFound, refusedByMiddleware, type ApiRequest, type ApiResponse } from '../http.js';
import type { Route } from '../router.js';
import type { JobStatus } from '../../storage/job-states.js';

/** The route. */
export function jobRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'POST', path: '/v1/jobs', handle: (request) => enqueue(ctx, request) },
    { method: 'GET', path: '/v1/jobs/{jid}', handle: (_request, params) => jobStatus(ctx, params.jid ?? '') },
  ];
}

/** `GET /v1/jobs/{jid}`: a tracked job's state, progress and result; 404 for any other. */
async function jobStatus(ctx: ApiContext, jid: string): Promise<ApiResponse> {
  const status = await ctx.jobStates.get(validJid(jid));
  if (status === undefined) throw notFound(`no tracked job ${jid} (it is not tracked — custom.track or custom.result —, has not started, or its state expired)`);
  return json(200, statusView(status));
}

/** @throws ApiError 400 when `jid` cannot be a jid */
export function validJid(jid: string): string {
  if (jid.length > JOB_LIMITS.jidMaxLength || !JOB_LIMITS.jidPattern.test(jid)) {
    throw badParameter('jid', `1 to ${JOB_LIMITS.jidMaxLength} letters, digits, '.', '_', ':' or '-'`, describeValue(jid));
  }
  return jid;
}

/** A tracked job's state on the wire. */
export function statusView(status: JobStatus): JobStatusView {
  return {
    jid: status.jid, jobtype: status.jobtype, queue: status.queue, state: status.state, attempt: status.attempt,
    progress: status.progress ?? null, message: status.message ?? null,
    started_at: status.startedAt, updated_at: status.updatedAt, finished_at: status.finishedAt ?? null,
    result: status.result ?? null, result_error: status.resultError ?? null, error: status.error ?? null,
  };
}

async function enqueue(ctx: ApiContext, request: ApiRequest): Promise<ApiResponse> {
  const { maxBodyBytes } = ctx.config;
  if (request.bodyBytes > maxBodyBytes) {
    throw new ApiError(413, API_ERRORS.payloadTooLarge, `the body is ${request.bodyBytes} bytes, over this API's limit of ${maxBodyBytes} bytes; send fewer jobs per request`);
  }
  const body = jsonBody(request, true);
  const many = isRecord(body) && 'jobs' in body;
  const inputs = many ? body.jobs : [body];
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > API_DEFAULTS.maxJobsPerRequest) {
    throw badParameter('jobs', `an array of 1 to ${API_DEFAULTS.maxJobsPerRequest} jobs`, Array.isArray(inputs) ? `${inputs.length} jobs` : describeValue(inputs));
  }
  const tenant = tenantOf(request.caller, ctx.config.tenants);
  const now = new Date(ctx.now());
  const jobs = inputs.map((input: unknown, index) => validJob(ctx, input, many ? `jobs[${index}].` : '', tenant, now));

  const jobsByQueue = new Map<string, number>();
  for (const job of jobs) jobsByQueue.set(job.queue, (jobsByQueue.get(job.queue) ?? 0) + 1);
  await refuseOverBacklog(ctx, jobsByQueue).catch((error: unknown) => {
    if (error instanceof ApiError && error.code === API_ERRORS.backlog) countJobs(ctx, jobs, METRICS.throttled);
    throw error;
  });
  const decision = await checkQuotasForQueues(ctx.config.quotas, { tenant, jobsByQueue }, { store: ctx.quotaStore, now: ctx.now });
  if (!decision.allowed) {
    countJobs(ctx, jobs, METRICS.throttled);
    return quotaExceededResponse(decision);
  }

  let jids: string[];
  try {
    jids = await ctx.client.enqueueMany(jobs);
  } catch (error) {
    if (error instanceof EnqueueError) {
      noteAccepted(ctx, jobs.filter((job) => error.enqueued.includes(job.jid)));
      // The jobs SQS refused cost nothing: their quota points go back.
      const failedJids = new Set(error.failed.map((failure) => failure.jid));
      const unsent = new Map<string, number>();
      for (const job of jobs) if (failedJids.has(job.jid)) unsent.set(job.queue, (unsent.get(job.queue) ?? 0) + 1);
      await refundQuotas(ctx.config.quotas, { tenant, jobsByQueue: unsent }, { store: ctx.quotaStore, now: ctx.now }).catch(() => undefined);
      throw enqueueErrorAnswer(error, !many);
    }
    if (isHopperError(error, 'PayloadTooLargeError')) throw new ApiError(413, API_ERRORS.payloadTooLarge, error.message);
    if (error instanceof MiddlewareError) {
      // Refused before anything was sent: the quota points go back.
      await refundQuotas(ctx.config.quotas, { tenant, jobsByQueue }, { store: ctx.quotaStore, now: ctx.now }).catch(() => undefined);
      throw refusedByMiddleware(error);
    }
    throw error;
  }
  noteAccepted(ctx, jobs);
  countJobs(ctx, jobs, METRICS.enqueued);
  return json(202, (many ? { jids } : { jid: jids[0], jids }) satisfies EnqueuedView);
}

/** Tells the queue state what went onto each queue, for the next backlog checks of this instance. */
function noteAccepted(ctx: ApiContext, jobs: readonly Job[]): void {
  for (const job of jobs) {
    const url = ctx.config.queueUrls[job.queue];
    if (url !== undefined) ctx.queues.noteAccepted(url, 1);
  }
}

/** One EMF line per queue and jobtype of `jobs`, counting them as `metric`. */
function countJobs(ctx: ApiContext, jobs: readonly Job[], metric: MetricName): void {
  const batch = ctx.metrics?.batch();
  if (batch === undefined) return;
  for (const job of jobs) batch.count(job.queue, job.jobtype, metric);
  batch.flush(ctx.now());
}

/** A job from the request, with the caller's tenant; a body's own `custom.tenant` is replaced. */
function validJob(ctx: ApiContext, input: unknown, path: string, tenant: string, now: Date): Job {
  const withTenant = isRecord(input) && (input.custom === undefined || isRecord(input.custom)) ? { ...input, custom: { ...input.custom, tenant } } : input;
  let job: Job;
  try {
    job = normalizeJob(withTenant, { now, defaultRetry: ctx.config.defaultRetry });
  } catch (error) {
    if (error instanceof InvalidJobError) throw badParameter(`${path}${error.field}`, error.expected, error.received);
    throw error;
  }
  let url: string | undefined;
  try {
    url = jobQueueUrl(job, ctx.config.queueUrls, ctx.config.queueTiers);
  } catch (error) {
    if (error instanceof InvalidJobError) throw badParameter(`${path}${error.field}`, error.expected, error.received);
    throw error;
  }
  if (url === undefined) {
    throw badParameter(`${path}queue`, `one of the declared queues (${Object.keys(ctx.config.queueUrls).join(', ')})`, JSON.stringify(job.queue));
  }
  return job;
}

/**
 * Throws 503 with `Retry-After` when a queue of the request would be over its backlog limits with
 * the request's jobs: what SQS last said (cached up to 5 s), plus what this instance accepted since,
 * plus the request.
 */
async function refuseOverBacklog(ctx: ApiContext, jobsByQueue: ReadonlyMap<string, number>): Promise<void> {
  const verdicts = await Promise.all([...jobsByQueue].map(async ([queue, requested]) => {
    const limit = ctx.config.backlogLimits[queue];
    const url = ctx.config.queueUrls[queue];
    if (limit === undefined || url === undefined) return undefined;
    const uuid = ctx.config.queueMappings[queue];
    // A queue with priority tiers holds what waits on every tier's queue.
    const urls = ctx.config.queueTiers[queue]?.tiers.map((tier) => tier.url) ?? [url];
    const [counts, report, state] = await Promise.all([
      Promise.all(urls.map((tierUrl) => ctx.queues.countsOf(tierUrl))),
      ctx.queues.reportOf(queue, url),
      uuid === undefined ? Promise.resolve(undefined) : ctx.queues.mappingState(uuid),
    ]);
    const paused = state !== undefined && isPaused(state);
    const visible = counts.reduce((sum, tier) => sum + tier.visible, 0);
    const activity = { visible, acceptedSince: ctx.queues.acceptedSince(url), requested, drainPerSecond: report.drainPerSecond, lag: report.lag, paused };
    const verdict = checkBacklog(queue, limit, activity, ctx.now());
    return verdict.over ? { queue, ...verdict } : undefined;
  }));
  const over = verdicts.filter((verdict) => verdict !== undefined);
  const first = over[0];
  if (first === undefined) return;
  const retryAfter = Math.max(...over.map((verdict) => verdict.retryAfterSeconds));
  const limits = over.map((verdict) => ({ scope: 'queue' as const, id: verdict.queue, queues: [verdict.queue], retryAfterSeconds: verdict.retryAfterSeconds, reason: verdict.reason }));
  throw new ApiError(503, API_ERRORS.backlog, `${first.message}; retry after ${retryAfter} s`, {
    // The quota header's shape, so a client stops sending to just these queues.
    headers: { 'Retry-After': String(retryAfter), [RATE_LIMITS_HEADER]: limits.map((limit) => `${limit.retryAfterSeconds}:${limit.id}:queue:${limit.reason}`).join(', ') },
    details: { retry_after: retryAfter, limits: limits.map((limit) => ({ scope: limit.scope, id: limit.id, queues: limit.queues, retry_after: limit.retryAfterSeconds, reason: limit.reason })) },
  });
}
