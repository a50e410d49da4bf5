/**
 * The cron function's logic: one EventBridge Scheduler schedule per cron invokes it with the cron's
 * input and the tick's scheduled time; it enqueues a fresh job for the tick, once.
 *
 * 1. Claim the tick (a conditional put of `cron#<name>` / `tick#<scheduled time>`). A tick that
 *    was enqueued already is a duplicate delivery: nothing is sent again.
 * 2. Enqueue the job, with a jid derived from the cron and the tick.
 * 3. Mark the tick enqueued, then record the run (last run, next run) for the dashboard.
 *
 * A crash after the claim leaves the tick claimed until its claim lapses; Lambda retries the
 * asynchronous invocation later and the retry claims it again and enqueues. A second invocation
 * arriving while the first still holds the claim fails on purpose (`CronTickBusyError`), so that
 * Lambda retries it after the first has finished: it then finds the tick enqueued.
 */
import type { AnyMiddleware } from '../middleware/chain.js';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { Client } from '../client/client.js';
import { cronJid, resolveCron, type CronJobTemplate, type ResolvedCron } from './definition.js';
import { nextRun } from './expression.js';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { InvalidJobError } from '../errors/base.js';
import { CronDefinitionError, CronTickBusyError, InvalidCronEventError } from '../errors/cron.js';
import { JOB_DEFAULTS, isRecord, normalizeJob, type Job, type JobInput } from '../job/model.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import type { CronTickStore } from '../storage/cron-store.js';
import { createLogger, type LogSink } from '../observability/logger.js';
import { METRICS, metricsOf } from '../observability/emf.js';

/** Defaults of the cron function. */
export const CRON_DEFAULTS = {
  /** Tick markers outlive EventBridge Scheduler's retries (24 h) and Lambda's (6 h) with room to spare. */
  tickTtlDays: 3,
  /** How long a claim lasts beyond the invocation's own deadline. */
  claimGraceMs: 30_000,
  /** Claim length when the invocation has no deadline (tests, local runs). */
  claimWithoutDeadlineMs: 60_000,
} as const;

/** A validated tick. */
export interface CronTick {
  readonly name: string;
  readonly scheduledMs: number;
  readonly schedule: string;
  readonly timezone: string;
  readonly job: CronJobTemplate;
}

/**
 * Validates a tick's event (the schedule's input, with the scheduled time filled in).
 *
 * @throws InvalidCronEventError naming the field
 */
export function parseCronTickEvent(event: unknown): CronTick & { readonly definition: ResolvedCron } {
  if (!isRecord(event)) throw new InvalidCronEventError('event', 'the event must be a JSON object');
  const { cron, scheduled_time: scheduledTime, schedule, timezone, job } = event;
  if (typeof cron !== 'string') throw new InvalidCronEventError('cron', `cron must be the cron's name, but ${JSON.stringify(cron)} was provided`);
  const scheduledMs = typeof scheduledTime === 'string' ? Date.parse(scheduledTime) : Number.NaN;
  if (Number.isNaN(scheduledMs)) {
    throw new InvalidCronEventError('scheduled_time', `scheduled_time must be an ISO-8601 time (<aws.scheduler.scheduled-time>), but ${JSON.stringify(scheduledTime)} was provided`);
  }
  if (typeof schedule !== 'string') throw new InvalidCronEventError('schedule', `schedule must be a cron expression, but ${JSON.stringify(schedule)} was provided`);
  if (timezone !== undefined && typeof timezone !== 'string') throw new InvalidCronEventError('timezone', `timezone must be an IANA time zone name, but ${JSON.stringify(timezone)} was provided`);
  if (!isRecord(job)) throw new InvalidCronEventError('job', 'job must be a JSON object with a jobtype');
  const template = jobTemplate(job);
  try {
    const definition = resolveCron({ name: cron, schedule, ...(timezone === undefined ? {} : { timezone }), job: template });
    return { name: cron, scheduledMs, schedule: definition.expression.eventBridge, timezone: definition.timezone, job: template, definition };
  } catch (error) {
    if (error instanceof CronDefinitionError) throw new InvalidCronEventError(error.field, error.message);
    throw error;
  }
}

/** The job template of an event, with the fields it has and no defaults added. */
function jobTemplate(job: Readonly<Record<string, unknown>>): CronJobTemplate {
  let normalized: Job;
  try {
    normalized = normalizeJob({ ...job, jid: 'cron-check' }, { now: new Date(0) });
  } catch (error) {
    if (error instanceof InvalidJobError) throw new InvalidCronEventError(`job.${error.field}`, `job.${error.field} must be ${error.expected}`);
    throw error;
  }
  // Defaults (queue, retry) are the JobSystem's to fill in when the job is enqueued.
  return {
    jobtype: normalized.jobtype,
    args: normalized.args,
    ...(job.queue === undefined ? {} : { queue: normalized.queue }),
    ...(job.retry === undefined ? {} : { retry: normalized.retry }),
    ...(normalized.reserve_for === undefined ? {} : { reserve_for: normalized.reserve_for }),
    ...(normalized.custom === undefined ? {} : { custom: normalized.custom }),
  };
}

/** What one tick did. */
export interface CronTickResult {
  /** `enqueued` by this invocation, or a `duplicate` delivery of a tick enqueued before. */
  readonly status: 'enqueued' | 'duplicate';
  readonly cron: string;
  readonly jid: string;
  readonly scheduledTime: string;
  readonly nextRunAt?: string;
}

/** Options of {@link createCronHandler}. */
export interface CronHandlerOptions {
  /** @default process.env */
  readonly env?: Env;
  /** @default - the state table named by HOPPER_STATE_TABLE, loaded on first use */
  readonly store?: CronTickStore;
  /** @default - an SQS client for `env` (through `Client`) */
  readonly sqs?: SqsBatchSender;
  /** The clock. @default - the real clock plus HOPPER_CLOCK_OFFSET_MS */
  readonly now?: () => Date;
  /** Where log lines go. @default console.log */
  readonly log?: LogSink;
  /** The team's middleware: its client chain runs on each tick's job (via `cron`). */
  readonly middleware?: AnyMiddleware;
}

/** The cron function's handler. */
export type CronHandler = (event: unknown, context?: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>) => Promise<CronTickResult>;

/**
 * Creates the cron function's handler. Reads `HOPPER_QUEUE_URLS`, `HOPPER_DEFAULT_RETRY` and
 * `HOPPER_CLOCK_OFFSET_MS` at once; `HOPPER_STATE_TABLE` on the first tick.
 */
export function createCronHandler(options: CronHandlerOptions = {}): CronHandler {
  const config = HopperConfig.of(options.env);
  const clock = options.now ?? config.clock;
  const client = new Client({
    env: config.env, now: clock, ...(options.sqs === undefined ? {} : { sqs: options.sqs }), ...(options.middleware === undefined ? {} : { middleware: options.middleware, via: 'cron' }),
  });
  const logger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now: clock });
  const metrics = metricsOf(config, options.log);
  let store: Promise<CronTickStore> | undefined = options.store === undefined ? undefined : Promise.resolve(options.store);
  const cronStore = (): Promise<CronTickStore> => {
    store ??= import('../storage/cron-store.js').then((module) => module.cronStoreOf(config));
    store.catch(() => { store = undefined; });
    return store;
  };

  return async (event, context) => {
    const tick = parseCronTickEvent(event);
    const scheduledTime = new Date(tick.scheduledMs).toISOString();
    const fields = { cron: tick.name, scheduled_time: scheduledTime };
    const ticks = await cronStore();
    const owner = `cron:${context?.awsRequestId ?? randomUUID()}`;
    const nowMs = clock().getTime();
    const left = context?.getRemainingTimeInMillis();
    const untilMs = nowMs + (left !== undefined && Number.isFinite(left) ? left + CRON_DEFAULTS.claimGraceMs : CRON_DEFAULTS.claimWithoutDeadlineMs);
    const ttl = Math.floor(tick.scheduledMs / 1000) + CRON_DEFAULTS.tickTtlDays * 86_400;

    const claim = await ticks.claimTick(tick.name, tick.scheduledMs, { owner, nowMs, untilMs, ttl });
    if (claim.status === 'busy') {
      logger.warn('tick is being enqueued by another invocation; failing so that Lambda retries later', fields);
      throw new CronTickBusyError(tick.name, scheduledTime);
    }
    let jid = cronJid(tick.name, tick.scheduledMs);
    if (claim.status === 'claimed') {
      const input: JobInput = { ...tick.job, jid };
      await client.enqueue(input);
      const enqueued = metrics.batch();
      enqueued.count(tick.job.queue ?? JOB_DEFAULTS.queue, tick.job.jobtype, METRICS.enqueued);
      enqueued.flush(clock().getTime());
      if (!(await ticks.markEnqueued(tick.name, tick.scheduledMs, owner, jid, clock().getTime()))) {
        logger.warn('enqueued a tick whose claim had lapsed; it may have been enqueued twice', { ...fields, jid });
      }
    } else {
      jid = claim.jid ?? jid;
      logger.info('duplicate tick; already enqueued', { ...fields, jid });
    }

    const next = nextRun(tick.definition.expression, tick.scheduledMs, tick.timezone);
    const nextRunAt = next === undefined ? undefined : new Date(next).toISOString();
    await ticks.recordRun({
      name: tick.name, schedule: tick.schedule, timezone: tick.timezone, jobtype: tick.job.jobtype, queue: tick.job.queue ?? JOB_DEFAULTS.queue,
      lastRunAt: scheduledTime, lastJid: jid, ...(nextRunAt === undefined ? {} : { nextRunAt }), updatedAt: clock().toISOString(),
    });
    const status = claim.status === 'claimed' ? 'enqueued' : 'duplicate';
    if (status === 'enqueued') logger.info('cron job enqueued', { ...fields, jid, jobtype: tick.job.jobtype, next_run_at: nextRunAt });
    return { status, cron: tick.name, jid, scheduledTime, ...(nextRunAt === undefined ? {} : { nextRunAt }) };
  };
}
