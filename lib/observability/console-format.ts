/**
 * What `hopper dev` and `hopper tail` show of a function's output line. Hopper's functions print one JSON object per
 * line (lib/observability/logger.ts) and CloudWatch EMF metric lines; a person at a terminal wants
 * one short line per job event instead:
 *
 *     SendEmail 996645… done 12 ms
 *     SendEmail 996645… failed: Error: mail server refused, retry 1 in 17 s
 *     AlwaysFails 0c1d2e… dead after 3 attempts: Error: always fails
 *
 * A pure function of the line: the worker's lines say how a run ended (`job done` at DEBUG, which
 * the local runtime turns on for this), the retry function's what happens next (so the worker's
 * own `job failed` line is only shown with --verbose: the retry function's line repeats its error
 * and adds the retry). Other structured lines become `message key=value…`; lines that are not
 * JSON pass unchanged; EMF lines are hidden unless metrics are asked for.
 */
import { isRecord } from '../job/model.js';

/** Severity of a runtime message (function output is `info` on stdout, `error` on stderr). */
export const LOG_LEVELS = { debug: 'debug', info: 'info', warn: 'warn', error: 'error' } as const;
export type LogLevel = (typeof LOG_LEVELS)[keyof typeof LOG_LEVELS];

/** How function output is shown: one readable line per event, or the JSON lines as printed. */
export const LOG_FORMATS = { readable: 'readable', json: 'json' } as const;
export type LogFormat = (typeof LOG_FORMATS)[keyof typeof LOG_FORMATS];

/** Options of {@link formatFunctionLine}. */
export interface ConsoleFormat {
  readonly format: LogFormat;
  /** Show EMF metric lines (compacted in the readable format). */
  readonly metrics: boolean;
}

/** A line to show, at a level (`debug` lines are shown only when asked for). */
export interface ConsoleLine {
  readonly level: LogLevel;
  readonly text: string;
}

/** The messages of Hopper's functions that are job events, and what they become. */
const JOB_EVENTS: Readonly<Record<string, (fields: Readonly<Record<string, unknown>>) => string>> = {
  // The worker (lib/worker/record.ts).
  'job done': (fields) => `done ${text(fields.duration_ms)} ms`,
  'job expired; dropped without running': (fields) => `expired at ${text(fields.expires_at)}; dropped without running`,
  'rate limited; job delayed': (fields) => `rate limited; runs again in ${text(fields.delay_s)} s`,
  // The retry function (lib/retry/handler.ts).
  'retry enqueued': (fields) => `failed: ${errorOf(fields)}, retry ${retryNumber(fields)} in ${text(fields.delay_s)} s`,
  'retry kept in the retry set': (fields) => `failed: ${errorOf(fields)}, retry ${retryNumber(fields)} at ${text(fields.at)}`,
  'job moved to the dead set': (fields) => {
    const attempts = typeof fields.retry_count === 'number' ? ` after ${plural(fields.retry_count + 1, 'attempt')}` : '';
    const reason = typeof fields.reason === 'string' && fields.reason !== fields.error ? fields.reason : errorOf(fields);
    return `dead${attempts}: ${reason}`;
  },
  // The scheduler (lib/scheduler/move.ts): a due entry that can no longer run.
  'due job moved to the dead set': (fields) => `dead (from the ${text(fields.set)} set): ${text(fields.reason)}`,
  // The cron function (lib/cron/handler.ts).
  'cron job enqueued': (fields) => `enqueued by cron ${text(fields.cron)}`,
  // The batch function (lib/batch/handler.ts).
  'batch callback enqueued': (fields) => `enqueued as the callback of batch ${short(text(fields.bid))}`,
};

/** Lines shown only with --verbose: the retry function's line says the same and more. */
const REPEATED: ReadonlySet<string> = new Set(['job failed', 'job failed; not retryable']);

/** Per-invocation summaries, shown only with --verbose unless they warn: the job lines say it. */
const SUMMARIES: ReadonlySet<string> = new Set(['batch done', 'sweep done']);

/** Fields a readable line leaves out: shown in the prefix, or not for a terminal. */
const OMITTED_FIELDS: ReadonlySet<string> = new Set(['level', 'message', 'time', 'request_id', 'jid', 'jobtype', 'queue', 'attempt', 'bid', 'backtrace']);

const LEVELS: Readonly<Record<string, LogLevel>> = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * How one line a function printed is shown, or undefined to hide it. `level` is the stream's
 * (`info` for stdout, `error` for stderr).
 *
 * @example
 * formatFunctionLine('{"level":"DEBUG","message":"job done","jid":"9966451bfa2e","jobtype":"SendEmail","duration_ms":12}', 'info', { format: 'readable', metrics: false });
 * // { level: 'info', text: 'SendEmail 996645… done 12 ms' }
 */
export function formatFunctionLine(line: string, level: LogLevel, options: ConsoleFormat): ConsoleLine | undefined {
  const parsed = parseObject(line);
  if (parsed === undefined) return { level, text: line };
  if (isEmf(parsed)) {
    if (!options.metrics) return undefined;
    return { level, text: options.format === LOG_FORMATS.json ? line : metricsLine(parsed) };
  }
  if (options.format === LOG_FORMATS.json || typeof parsed.message !== 'string' || typeof parsed.level !== 'string') return { level, text: line };
  const lineLevel = LEVELS[parsed.level] ?? level;
  const event = JOB_EVENTS[parsed.message];
  const prefix = jobPrefix(parsed);
  if (event !== undefined) return { level: parsed.message === 'job done' ? 'info' : lineLevel, text: `${prefix || 'job '}${event(parsed)}` };
  const fields = Object.entries(parsed)
    .filter(([key]) => !OMITTED_FIELDS.has(key))
    .map(([key, value]) => ` ${key}=${fieldText(value)}`)
    .join('');
  const marker = lineLevel === 'warn' || lineLevel === 'error' ? `${parsed.level} ` : '';
  const quiet = REPEATED.has(parsed.message) || (SUMMARIES.has(parsed.message) && (lineLevel === 'info' || lineLevel === 'debug'));
  return { level: quiet ? 'debug' : lineLevel, text: `${prefix}${marker}${parsed.message}${fields}` };
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isEmf(record: Readonly<Record<string, unknown>>): boolean {
  return isRecord(record._aws) && Array.isArray(record._aws.CloudWatchMetrics);
}

/** `metrics default/SendEmail: Processed 1, Duration 2, 5 ms` */
function metricsLine(record: Readonly<Record<string, unknown>>): string {
  const directives = records(isRecord(record._aws) ? record._aws.CloudWatchMetrics : undefined);
  const dimensions = [...new Set(directives.flatMap((directive) => strings(directive.Dimensions)))];
  const values = directives.flatMap((directive) => records(directive.Metrics)).map((metric) => {
    const name = text(metric.Name);
    const value: unknown = record[name];
    const unit = metric.Unit === 'Milliseconds' ? ' ms' : '';
    return `${name} ${Array.isArray(value) ? value.map((item: unknown) => text(item)).join(', ') : text(value)}${unit}`;
  });
  return `metrics ${dimensions.map((name) => text(record[name])).join('/')}: ${values.join(', ')}`;
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item: unknown) => isRecord(item)) : [];
}

/** The strings of an array of strings or of arrays of strings (EMF's dimension sets). */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.flat().filter((item: unknown): item is string => typeof item === 'string') : [];
}

/** `SendEmail 996645… ` for a line about a job, else nothing. */
function jobPrefix(fields: Readonly<Record<string, unknown>>): string {
  if (typeof fields.jid !== 'string') return '';
  return `${typeof fields.jobtype === 'string' ? `${fields.jobtype} ` : ''}${short(fields.jid)} `;
}

/** The first six characters of an id, enough to tell the jobs of a session apart. */
function short(id: string): string {
  return id.length > 6 ? `${id.slice(0, 6)}…` : id;
}

function errorOf(fields: Readonly<Record<string, unknown>>): string {
  return typeof fields.errtype === 'string' ? `${fields.errtype}: ${text(fields.error)}` : text(fields.error);
}

/** The retry a re-enqueued job is on: its failure's retry_count counts from 0. */
function retryNumber(fields: Readonly<Record<string, unknown>>): string {
  return typeof fields.retry_count === 'number' ? String(fields.retry_count + 1) : '?';
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '?';
  return JSON.stringify(value) ?? String(value);
}

/** A field's value as it reads best on one line: bare words bare, anything else as JSON. */
function fieldText(value: unknown): string {
  return typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value) ?? String(value);
}
