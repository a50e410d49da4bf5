/**
 * What a cron is (`crons: [{ name, schedule, timezone, job }]` in the construct), its validation,
 * and the input its EventBridge Scheduler schedule passes to the cron function. Pure: used at synth
 * time by the construct and at run time by the cron function, so both apply the same rules.
 */
import { InvalidJobError } from '../errors/base.js';
import { CronDefinitionError, CronExpressionError } from '../errors/cron.js';
import { parseCronExpression, type CronExpression } from './expression.js';
import { JOB_DEFAULTS, byteLength, normalizeJob, type JobCustom } from '../job/model.js';
import { timeZoneProblem } from './time-zone.js';

// The construct's validation imports it from here.
export { CronDefinitionError } from '../errors/cron.js';

/** Bounds of a cron definition. */
export const CRON_LIMITS = {
  /** Names are used in schedule names, storage keys and jids. */
  namePattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  /** Largest schedule input (the cron's job travels in it), in bytes. */
  maxInputBytes: 8192,
} as const;

/** The time zone of a cron that does not name one. */
export const CRON_DEFAULT_TIME_ZONE = 'UTC';

/** The job a cron enqueues on every tick (a fresh jid each time). */
export interface CronJobTemplate {
  readonly jobtype: string;
  /** @default [] */
  readonly args?: readonly unknown[];
  /** A declared queue. @default 'default' */
  readonly queue?: string;
  /** @default - the JobSystem's retry default */
  readonly retry?: number;
  /**
   * Seconds the job's message stays reserved while it runs (see `JobInput.reserve_for`: longer than
   * the worker can live only hides a crashed job longer).
   * @default - the queue's visibility timeout
   */
  readonly reserve_for?: number;
  /** @default - none */
  readonly custom?: JobCustom;
}

/** One cron, as the construct declares it. */
export interface CronDefinition {
  /** 1 to 64 letters, digits, `-` or `_`, starting with a letter or digit; unique in the JobSystem. */
  readonly name: string;
  /** 5-field crontab (`0 3 * * *`) or EventBridge's 6-field form (`0 3 ? * MON-FRI *`, optionally in `cron(…)`). */
  readonly schedule: string;
  /**
   * IANA time zone the schedule is read in, daylight saving time included.
   * @default 'UTC'
   */
  readonly timezone?: string;
  readonly job: CronJobTemplate;
}

/** A validated cron. */
export interface ResolvedCron {
  readonly name: string;
  readonly expression: CronExpression;
  readonly timezone: string;
  readonly job: CronJobTemplate;
}

/**
 * Validates one cron definition.
 *
 * @param queues the declared queues, when known (the construct knows them; the function does not need to)
 * @throws CronDefinitionError naming the field and what was expected
 */
export function resolveCron(definition: CronDefinition, queues?: readonly string[]): ResolvedCron {
  const { name, schedule, job } = definition;
  if (typeof name !== 'string' || !CRON_LIMITS.namePattern.test(name)) {
    throw new CronDefinitionError('name', `name must be 1 to 64 letters, digits, - or _, starting with a letter or digit, but ${JSON.stringify(name)} was provided`);
  }
  let expression: CronExpression;
  try {
    expression = parseCronExpression(String(schedule));
  } catch (error) {
    if (!(error instanceof CronExpressionError)) throw error;
    throw new CronDefinitionError('schedule', `schedule ${JSON.stringify(schedule)} is invalid: ${error.message}`);
  }
  const timezone = definition.timezone ?? CRON_DEFAULT_TIME_ZONE;
  const zoneProblem = timeZoneProblem(timezone);
  if (zoneProblem !== undefined) throw new CronDefinitionError('timezone', `timezone ${JSON.stringify(timezone)} ${zoneProblem}`);
  try {
    normalizeJob({ ...job, jid: 'cron-check' }, { now: new Date(0) });
  } catch (error) {
    if (!(error instanceof InvalidJobError)) throw error;
    throw new CronDefinitionError(`job.${error.field}`, `job.${error.field} must be ${error.expected}${error.received === undefined ? '' : `, but ${error.received} was provided`}`);
  }
  const queue = job.queue ?? JOB_DEFAULTS.queue;
  if (queues !== undefined && !queues.includes(queue)) {
    throw new CronDefinitionError('job.queue', `job.queue ${JSON.stringify(queue)} is not declared; declared queues: ${queues.join(', ')}`);
  }
  return { name, expression, timezone, job };
}

/** What each tick of a cron's schedule passes to the cron function. */
export interface CronTickInput {
  readonly hopper: 'cron';
  readonly cron: string;
  /** The tick's scheduled time: EventBridge Scheduler fills in `<aws.scheduler.scheduled-time>`. */
  readonly scheduled_time: string;
  /** The schedule as EventBridge runs it, for the next-run record. */
  readonly schedule: string;
  readonly timezone: string;
  readonly job: CronJobTemplate;
}

/** EventBridge Scheduler's placeholder for a tick's scheduled time. */
export const SCHEDULED_TIME_PLACEHOLDER = '<aws.scheduler.scheduled-time>';

/**
 * The input of a cron's schedule.
 *
 * @throws CronDefinitionError when it exceeds {@link CRON_LIMITS.maxInputBytes}
 */
export function cronTickInput(cron: ResolvedCron, scheduledTime = SCHEDULED_TIME_PLACEHOLDER): CronTickInput {
  const input: CronTickInput = { hopper: 'cron', cron: cron.name, scheduled_time: scheduledTime, schedule: cron.expression.eventBridge, timezone: cron.timezone, job: cron.job };
  const size = byteLength(JSON.stringify(input));
  if (size > CRON_LIMITS.maxInputBytes) {
    throw new CronDefinitionError('job', `job makes a schedule input of ${size} bytes, over the limit of ${CRON_LIMITS.maxInputBytes}; pass large data by reference (an S3 key) in args`);
  }
  return input;
}

/**
 * The jid of the job a cron enqueues for the tick scheduled at `scheduledMs`: derived from both, so
 * a tick delivered twice builds the same job and a handler's own idempotency (keyed on jid) holds.
 *
 * @example
 * cronJid('nightly', Date.parse('2026-11-22T02:00:00Z')) // 'cron:nightly:20261122T020000Z'
 */
export function cronJid(name: string, scheduledMs: number): string {
  const compact = new Date(scheduledMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `cron:${name}:${compact}`;
}
