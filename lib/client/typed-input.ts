/**
 * What `Client` and `ApiClient` share of a producer's call: the typed forms of a job (jobtype and
 * argument tuple), its options (`in`, `at`, `expiresIn`) and the durations they take. Pure.
 */
import { InvalidJobError } from '../errors/base.js';
import type { JobInput } from '../job/model.js';
import type { JobArgs, JobShapes } from '../job/typed.js';

/** When to run a job: `at` a time, or `in` a duration (seconds, or a string like '90s', '15m', '3h', '2d'). */
export type ScheduleWhen = { readonly at: Date | string } | { readonly in: number | string };

/** Options of one enqueue (or of every job of an `enqueueMany`). */
export interface EnqueueOptions {
  /**
   * Drop the job instead of running it when a worker gets it more than this long after it was due
   * (its `at`, or the time of the enqueue): seconds, or a string like '90s', '5m', '2h'. Sets
   * `custom.expires_at`; a job that already has one must not also use this option.
   * @default - the job never expires
   */
  readonly expiresIn?: number | string;
}

/** A job of `Jobs` as an object: its jobtype, and the argument tuple its handler takes. */
export type TypedJobInput<Jobs extends JobShapes> = {
  [Type in keyof Jobs & string]: Omit<JobInput, 'jobtype' | 'args'> & { readonly jobtype: Type } & ArgsField<JobArgs<Jobs[Type]>>;
}[keyof Jobs & string];

/** `args`, optional when the job takes none. */
type ArgsField<Args> = [] extends Args ? { readonly args?: Args } : { readonly args: Args };

/** Options of `enqueue(jobtype, args, options)`: the job's other fields, and when to run it. */
export type TypedEnqueueOptions = EnqueueOptions & Omit<JobInput, 'jobtype' | 'args' | 'at'> & {
  /** Run it at this time. */
  readonly at?: Date | string;
  /** Run it after this long: seconds, or a string such as '90s', '15m', '3h', '2d'. */
  readonly in?: number | string;
};

/**
 * The job and the options of `enqueue(jobtype, args, options)`: `in` and `at` become the job's
 * `at`, `expiresIn` stays an option; the other options are the job's fields.
 *
 * @throws InvalidJobError naming `args` when they are not an array, `in` when both `in` and `at` are given
 */
export function typedJob(jobtype: string, args: unknown, options: TypedEnqueueOptions, now: Date): [JobInput, EnqueueOptions] {
  if (args !== undefined && !Array.isArray(args)) throw new InvalidJobError('args', 'an array of arguments', JSON.stringify(args));
  const { expiresIn, in: after, at, ...fields } = options;
  if (after !== undefined && at !== undefined) throw new InvalidJobError('in', 'either in or at, not both', JSON.stringify(after));
  const when = after === undefined ? (at === undefined ? {} : { at: runAt({ at }, now) }) : { at: runAt({ in: after }, now) };
  return [{ ...fields, jobtype, ...(args === undefined ? {} : { args: args as readonly unknown[] }), ...when }, expiresIn === undefined ? {} : { expiresIn }];
}

/** The time `when` names, `in` counted from `now`. */
export function runAt(when: ScheduleWhen, now: Date): Date {
  return 'at' in when ? toDate(when.at, 'at') : new Date(now.getTime() + parseDuration(when.in) * 1000);
}

/**
 * Parses a duration: a number of seconds, or a string such as '90s', '15m', '3h', '2d'.
 *
 * @param field the option being parsed, named in errors. @default 'in'
 * @throws InvalidJobError naming `field` when the text is not a duration.
 */
export function parseDuration(value: number | string, field = 'in'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidJobError(field, 'a non-negative number of seconds', String(value));
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match?.[1]) throw new InvalidJobError(field, "a duration such as 90, '90s', '15m', '3h' or '2d'", JSON.stringify(value));
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  const seconds = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[unit] ?? 1;
  return amount * seconds;
}

export function toDate(value: Date | string, field: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidJobError(field, 'a Date or an ISO-8601 date-time string', JSON.stringify(value));
  return date;
}

/** The `expiresIn` option in seconds, as enqueueJobs takes it. */
export function expiry(options: EnqueueOptions): { expiresInSeconds?: number } {
  return options.expiresIn === undefined ? {} : { expiresInSeconds: parseDuration(options.expiresIn, 'expiresIn') };
}
