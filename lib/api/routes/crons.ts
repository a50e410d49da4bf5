/**
 * `GET /v1/crons` (each cron's definition, last run and next run) and
 * `POST /v1/crons/{name}/trigger` (enqueue the cron's job now, outside its schedule).
 *
 * The definitions come from the construct (HOPPER_CRONS); the last run from the run record the
 * cron function writes. The next run is computed from now, not read from the record: a record's
 * next run is the tick after the last one, which lies in the past when ticks were missed.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedCron } from '../../cron/definition.js';
import { nextRun } from '../../cron/expression.js';
import { EnqueueError } from '../../enqueue/enqueue.js';
import { JOB_DEFAULTS } from '../../job/model.js';
import type { ApiContext } from '../context.js';
import { enqueueErrorAnswer } from '../enqueue-errors.js';
import { json, notFound, type ApiResponse } from '../http.js';
import type { PathParams, Route } from '../router.js';
import type { CronsView, CronTriggerView, CronView } from '../wire.js';

/** The routes. */
export function cronRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'GET', path: '/v1/crons', handle: () => listCrons(ctx) },
    { method: 'POST', path: '/v1/crons/{name}/trigger', handle: (_request, params) => trigger(ctx, params) },
  ];
}

/**
 * The jid of a job triggered by hand. A tick's jid is `cron:<name>:<compact UTC time>`
 * (lib/cron/definition.ts `cronJid`); `manual` can never be such a time, so the two never clash,
 * and the random part keeps two triggers in the same millisecond apart.
 *
 * @example
 * manualCronJid('nightly') // 'cron:nightly:manual:3f2a…'
 */
export function manualCronJid(name: string): string {
  return `cron:${name}:manual:${randomUUID()}`;
}

async function listCrons(ctx: ApiContext): Promise<ApiResponse> {
  const nowMs = ctx.now();
  const crons = await Promise.all(ctx.config.crons.map(async (cron): Promise<CronView> => {
    const run = await ctx.cronRuns.getRun(cron.name);
    const next = nextRun(cron.expression, nowMs, cron.timezone);
    return {
      name: cron.name,
      schedule: cron.expression.source,
      schedule_expression: cron.expression.eventBridge,
      timezone: cron.timezone,
      jobtype: cron.job.jobtype,
      queue: queueOf(cron),
      args: cron.job.args ?? [],
      last_run_at: run?.lastRunAt ?? null,
      last_jid: run?.lastJid ?? null,
      next_run_at: next === undefined ? null : new Date(next).toISOString(),
    };
  }));
  return json(200, { crons } satisfies CronsView);
}

async function trigger(ctx: ApiContext, params: PathParams): Promise<ApiResponse> {
  const name = params.name ?? '';
  const cron = ctx.config.crons.find((candidate) => candidate.name === name);
  if (cron === undefined) {
    const declared = ctx.config.crons.map((candidate) => candidate.name);
    throw notFound(`no cron ${JSON.stringify(name)}; declared crons: ${declared.length === 0 ? 'none' : declared.join(', ')}`);
  }
  const jid = manualCronJid(cron.name);
  try {
    await ctx.client.enqueueMany([{ ...cron.job, jid, retry: cron.job.retry ?? ctx.config.defaultRetry }]);
  } catch (error) {
    // A unique cron job whose lock is held is a 409, an SQS failure a 502: neither is an internal error.
    if (error instanceof EnqueueError) throw enqueueErrorAnswer(error, true);
    throw error;
  }
  ctx.logger.info('cron triggered', { cron: cron.name, jid, jobtype: cron.job.jobtype });
  return json(202, { cron: cron.name, jid, jobtype: cron.job.jobtype, queue: queueOf(cron) } satisfies CronTriggerView);
}

function queueOf(cron: ResolvedCron): string {
  return cron.job.queue ?? JOB_DEFAULTS.queue;
}
