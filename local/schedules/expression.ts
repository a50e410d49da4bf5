/**
 * EventBridge Scheduler schedule expressions: `cron(...)`, `rate(value unit)` and
 * `at(yyyy-mm-ddThh:mm:ss)`, and when each fires next. A cron expression is parsed and evaluated
 * by the library's evaluator (lib/cron), the one the JobSystem's crons are validated and
 * recorded with, so that a schedule fires under `hopper dev` when it fires on AWS.
 */
import { nextRun, parseCronExpression, type CronExpression } from '../../lib/cron/expression.js';
import { instantsOf } from '../../lib/cron/time-zone.js';
import { ScheduleExpressionError } from '../../lib/errors/local.js';

/** A parsed schedule expression. */
export type ScheduleExpression =
  | { readonly kind: 'cron'; readonly cron: CronExpression }
  | { readonly kind: 'rate'; readonly periodMs: number }
  | { readonly kind: 'at'; readonly year: number; readonly month: number; readonly day: number; readonly hour: number; readonly minute: number; readonly second: number };

const RATE_UNITS: Readonly<Record<string, number>> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * Parses a schedule expression.
 *
 * @throws ScheduleExpressionError (or CronExpressionError for a cron's fields) saying what is wrong.
 */
export function parseScheduleExpression(text: string): ScheduleExpression {
  const match = /^\s*(cron|rate|at)\((.*)\)\s*$/.exec(text);
  if (match === null) throw new ScheduleExpressionError(`expected cron(...), rate(...) or at(...), but ${JSON.stringify(text)} was provided`);
  const [, kind, body = ''] = match;
  // In cron(…) the library takes EventBridge's 6 fields only, never the 5 of a crontab.
  if (kind === 'cron') return { kind: 'cron', cron: parseCronExpression(`cron(${body})`) };
  if (kind === 'rate') {
    const rate = /^\s*(\d+)\s+([a-z]+)\s*$/.exec(body);
    const value = Number(rate?.[1]);
    const unit = RATE_UNITS[rate?.[2] ?? ''];
    if (rate === null || unit === undefined || !Number.isInteger(value) || value < 1) {
      throw new ScheduleExpressionError(`rate(...) must be a positive whole number and minute(s), hour(s) or day(s), but ${JSON.stringify(text)} was provided`);
    }
    return { kind: 'rate', periodMs: value * unit };
  }
  const at = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body.trim());
  if (at === null) throw new ScheduleExpressionError(`at(...) must be yyyy-mm-ddThh:mm:ss, but ${JSON.stringify(text)} was provided`);
  const [year, month, day, hour, minute, second] = at.slice(1, 7).map(Number);
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined || second === undefined) {
    throw new ScheduleExpressionError(`at(...) must be yyyy-mm-ddThh:mm:ss, but ${JSON.stringify(text)} was provided`);
  }
  return { kind: 'at', year, month, day, hour, minute, second };
}

/** What the next fire time depends on besides the expression. */
export interface FireWindow {
  readonly timeZone: string;
  /** Rate schedules count from here (the StartDate, else when the schedule was created). */
  readonly anchorMs: number;
  readonly startMs: number | undefined;
  readonly endMs: number | undefined;
}

/**
 * The first fire time strictly after `afterMs` (or at `afterMs` for a rate schedule's first
 * period, which fires at once), or undefined when the schedule is over.
 */
export function nextFireTime(expression: ScheduleExpression, afterMs: number, window: FireWindow, inclusive = false): number | undefined {
  const from = Math.max(afterMs, (window.startMs ?? Number.NEGATIVE_INFINITY) - 1);
  let next: number | undefined;
  switch (expression.kind) {
    case 'cron':
      next = nextRun(expression.cron, from, window.timeZone);
      break;
    case 'rate': {
      const elapsed = from - window.anchorMs;
      const periods = elapsed < 0 ? 0 : inclusive ? Math.ceil(elapsed / expression.periodMs) : Math.floor(elapsed / expression.periodMs) + 1;
      next = window.anchorMs + periods * expression.periodMs;
      break;
    }
    case 'at': {
      // A wall time the clock passes twice is its first instant; one it skips never comes.
      const minuteStart = instantsOf(expression, window.timeZone)[0];
      const at = minuteStart === undefined ? undefined : minuteStart + expression.second * 1000;
      next = at !== undefined && (inclusive ? at >= from : at > from) ? at : undefined;
      break;
    }
  }
  if (next === undefined || (window.endMs !== undefined && next > window.endMs)) return undefined;
  return next;
}
