/**
 * Structured logging: one JSON object per line, which CloudWatch Logs Insights queries by field
 * (`filter jid = "…"`). Deliberately tiny: a worker's logger must cost nothing to import.
 */

import { ConfigurationError } from '../errors/base.js';
import type { Job } from '../job/model.js';

/** Fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where log lines go. @default console.log, which Lambda ships to CloudWatch Logs */
export type LogSink = (line: string) => void;

/** Log severity, as the `level` field shows it. */
export const LOG_LEVELS = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
} as const;

export type LogLevel = (typeof LOG_LEVELS)[keyof typeof LOG_LEVELS];

/**
 * A structured logger.
 *
 * @example
 * ctx.logger.info('email sent', { to });
 * // {"level":"INFO","message":"email sent","time":"…","jid":"…","jobtype":"SendEmail","queue":"default","attempt":1,"to":"a@example.com"}
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** The default sink. */
export const consoleSink: LogSink = (line) => {
  console.log(line);
};

const SEVERITY: Readonly<Record<LogLevel, number>> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

/**
 * The level `text` names (`HOPPER_LOG_LEVEL`, any case), or `fallback` when it is unset.
 *
 * @throws ConfigurationError naming the variable and the levels when `text` is not one of them.
 */
export function logLevelFrom(text: string | undefined, fallback: LogLevel): LogLevel {
  if (text === undefined || text === '') return fallback;
  const level = Object.values(LOG_LEVELS).find((candidate) => candidate === text.toUpperCase());
  if (level === undefined) throw new ConfigurationError(`HOPPER_LOG_LEVEL must be one of ${Object.values(LOG_LEVELS).join(', ')}, but ${JSON.stringify(text)} was provided`);
  return level;
}

/**
 * Creates a logger writing to `sink`, with `base` fields on every line, dropping lines below
 * `level` (default: every line).
 */
export function createLogger(options: { readonly sink?: LogSink; readonly base?: LogFields; readonly now?: () => Date; readonly level?: LogLevel } = {}): Logger {
  const output: LogOutput = { sink: options.sink ?? consoleSink, now: options.now ?? (() => new Date()), threshold: SEVERITY[options.level ?? LOG_LEVELS.debug] };
  return new FieldsLogger(output, options.base ?? {}, undefined);
}

interface LogOutput {
  readonly sink: LogSink;
  readonly now: () => Date;
  readonly threshold: number;
}

/**
 * A logger as a chain of field sets: `child()` is one small object (a worker makes one per job),
 * and the fields are merged only when a line is written, outermost first, so a child's field
 * replaces its parent's of the same name.
 */
class FieldsLogger implements Logger {
  constructor(
    private readonly output: LogOutput,
    private readonly fields: LogFields,
    private readonly parent: FieldsLogger | undefined,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.write(LOG_LEVELS.debug, message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.write(LOG_LEVELS.info, message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.write(LOG_LEVELS.warn, message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.write(LOG_LEVELS.error, message, fields);
  }

  child(fields: LogFields): Logger {
    return new FieldsLogger(this.output, fields, this);
  }

  private write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (SEVERITY[level] < this.output.threshold) return;
    const record: Record<string, unknown> = { level, message, time: this.output.now().toISOString() };
    this.assign(record);
    if (fields !== undefined) Object.assign(record, fields);
    this.output.sink(stringify(record));
  }

  private assign(record: Record<string, unknown>): void {
    this.parent?.assign(record);
    Object.assign(record, this.fields);
  }
}

/** JSON.stringify that never throws: a log call must not turn a success into a failure. */
function stringify(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : typeof value === 'bigint' ? value.toString() : value));
  } catch {
    return JSON.stringify({ level: record.level, message: record.message, time: record.time, note: 'fields could not be serialized' });
  }
}

/**
 * The fields every log line about a job carries: `jid`, `jobtype`, `queue`, `attempt` (1 on the
 * first run, `failure.retry_count + 2` after a failure) and `bid` when the job is in a batch. Never
 * the job's arguments: they may hold personal data, and a handler that wants them logged logs them.
 */
export function jobLogFields(job: Job): LogFields {
  const bid = job.custom?.bid;
  return { jid: job.jid, jobtype: job.jobtype, queue: job.queue, attempt: (job.failure?.retry_count ?? -1) + 2, ...(bid === undefined ? {} : { bid }) };
}
