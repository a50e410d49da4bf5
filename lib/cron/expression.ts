/**
 * Cron expressions in the two forms Hopper accepts, and when they next fire in a time zone.
 *
 * - Crontab, 5 fields: `minute hour day-of-month month day-of-week` (day of week 0–7, 0 and 7 are
 *   Sunday). Converted to EventBridge's form for the schedule.
 * - EventBridge, 6 fields (optionally wrapped in `cron(…)`): `minute hour day-of-month month
 *   day-of-week year` (day of week 1–7, 1 is Sunday), exactly one of the two day fields `?`, and
 *   the extensions `L`, `W` and `#`.
 *
 * The one evaluator of cron expressions: the construct validates crons with it, the cron function
 * records next runs with it, and the local runtime's scheduler fires schedules with it.
 *
 * Evaluation follows EventBridge Scheduler in a time zone with daylight saving time: a wall time the
 * clock skips (spring forward) does not fire; a wall time the clock passes twice (fall back) fires
 * once, the first time. Pure: no I/O; the clock is a parameter.
 */
import { CronExpressionError } from '../errors/cron.js';
import { instantsOf, offsetMsAt, wallTimeOf } from './time-zone.js';

/** The forms of {@link CronExpression}. */
export const CRON_FORMS = { crontab: 'crontab', eventBridge: 'eventbridge' } as const;
export type CronForm = (typeof CRON_FORMS)[keyof typeof CRON_FORMS];

/** EventBridge accepts years up to 2199; the evaluator looks no further. */
export const CRON_YEAR_RANGE = { min: 1970, max: 2199 } as const;

/** Which days of the month fire; `any` for `*` or `?`. */
type DayOfMonthRule = 'any' | {
  readonly days: ReadonlySet<number>;
  /** `L`: the last day of the month. */
  readonly last: boolean;
  /** `LW`: the last weekday (Monday to Friday) of the month. */
  readonly lastWeekday: boolean;
  /** `15W`: the weekday nearest to the 15th, within the month. */
  readonly nearestWeekday?: number;
};

/** Which days of the week fire (0 = Sunday); `any` for `*` or `?`. */
type DayOfWeekRule = 'any' | {
  readonly days: ReadonlySet<number>;
  /** `6L`: the last Friday of the month. */
  readonly lastOfMonth?: number;
  /** `3#2`: the second Tuesday of the month. */
  readonly nth?: { readonly day: number; readonly n: number };
};

/** A parsed cron expression. */
export interface CronExpression {
  /** The expression as given. */
  readonly source: string;
  readonly form: CronForm;
  /** The same schedule as EventBridge Scheduler spells it: `cron(0 3 * * ? *)`. */
  readonly eventBridge: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: ReadonlySet<number>;
  readonly years: ReadonlySet<number> | 'any';
  readonly dayOfMonth: DayOfMonthRule;
  readonly dayOfWeek: DayOfWeekRule;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** How one field is written: its bounds and names, in the units of its form. */
interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
}

const names = (list: readonly string[], first: number): Record<string, number> =>
  Object.fromEntries(list.map((name, index) => [name, index + first]));

const FIELDS = {
  minute: { name: 'minute', min: 0, max: 59 },
  hour: { name: 'hour', min: 0, max: 23 },
  dayOfMonth: { name: 'day-of-month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: names(MONTH_NAMES, 1) },
  crontabDayOfWeek: { name: 'day-of-week', min: 0, max: 7, names: names(DAY_NAMES, 0) },
  eventBridgeDayOfWeek: { name: 'day-of-week', min: 1, max: 7, names: names(DAY_NAMES, 1) },
  year: { name: 'year', min: CRON_YEAR_RANGE.min, max: CRON_YEAR_RANGE.max },
} as const satisfies Record<string, FieldSpec>;

/**
 * Parses a 5-field crontab expression or a 6-field EventBridge expression.
 *
 * @throws CronExpressionError naming the field that is wrong and what was expected.
 * @example
 * parseCronExpression('0 3 * * 1-5').eventBridge // 'cron(0 3 ? * 2-6 *)'
 */
export function parseCronExpression(text: string): CronExpression {
  const wrapped = /^\s*cron\((.*)\)\s*$/i.exec(text);
  const body = (wrapped?.[1] ?? text).trim();
  const fields = body.split(/\s+/).filter((field) => field.length > 0).map((field) => field.toUpperCase());
  if (wrapped === null && fields.length === 5) return parseCrontab(text, fields);
  if (fields.length === 6) return parseEventBridge(text, fields);
  throw new CronExpressionError(wrapped === null
    ? `a cron expression must have 5 fields (crontab: minute hour day-of-month month day-of-week) or 6 (EventBridge: … day-of-week year), but ${fields.length} were provided`
    : `a cron(…) expression must have 6 fields (minute hour day-of-month month day-of-week year), but ${fields.length} were provided`);
}

function parseCrontab(source: string, fields: readonly string[]): CronExpression {
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = fields;
  for (const [spec, field] of [[FIELDS.dayOfMonth, dom], [FIELDS.crontabDayOfWeek, dow]] as const) {
    if (/[?LW#]/.test(field)) {
      throw new CronExpressionError(`the ${spec.name} field ${JSON.stringify(field)} uses ?, L, W or #, which only the 6-field EventBridge form has`);
    }
  }
  const domRestricted = dom !== '*';
  const dowRestricted = dow !== '*';
  if (domRestricted && dowRestricted) {
    // Crontab runs when either day field matches; EventBridge can only restrict one of them.
    throw new CronExpressionError(`a crontab expression that restricts both day-of-month (${JSON.stringify(dom)}) and day-of-week (${JSON.stringify(dow)}) runs when either matches, which EventBridge cannot express; set one of them to *`);
  }
  const dayOfWeek = dowRestricted ? new Set([...parseList(dow, FIELDS.crontabDayOfWeek)].map((day) => day % 7)) : undefined;
  const eventBridgeFields = [
    startStepsAtMinimum(minute, FIELDS.minute),
    startStepsAtMinimum(hour, FIELDS.hour),
    domRestricted ? startStepsAtMinimum(dom, FIELDS.dayOfMonth) : dowRestricted ? '?' : '*',
    startStepsAtMinimum(month, FIELDS.month),
    dayOfWeek === undefined ? '?' : renderDays(dayOfWeek),
    '*',
  ];
  return {
    source,
    form: CRON_FORMS.crontab,
    eventBridge: `cron(${eventBridgeFields.join(' ')})`,
    minutes: sorted(parseList(minute, FIELDS.minute)),
    hours: sorted(parseList(hour, FIELDS.hour)),
    months: parseList(month, FIELDS.month),
    years: 'any',
    dayOfMonth: domRestricted ? { days: parseList(dom, FIELDS.dayOfMonth), last: false, lastWeekday: false } : 'any',
    dayOfWeek: dayOfWeek === undefined ? 'any' : { days: dayOfWeek },
  };
}

function parseEventBridge(source: string, fields: readonly string[]): CronExpression {
  const [minute = '', hour = '', dom = '', month = '', dow = '', year = ''] = fields;
  for (const [spec, field] of [[FIELDS.minute, minute], [FIELDS.hour, hour], [FIELDS.month, month], [FIELDS.year, year]] as const) {
    if (/[?LW#]/.test(field)) throw new CronExpressionError(`the ${spec.name} field must not use ?, L, W or #, but ${JSON.stringify(field)} was provided`);
  }
  if ((dom === '?') === (dow === '?')) {
    throw new CronExpressionError(`exactly one of day-of-month and day-of-week must be ?, but ${JSON.stringify(dom)} and ${JSON.stringify(dow)} were provided`);
  }
  return {
    source,
    form: CRON_FORMS.eventBridge,
    eventBridge: `cron(${fields.join(' ')})`,
    minutes: sorted(parseList(minute, FIELDS.minute)),
    hours: sorted(parseList(hour, FIELDS.hour)),
    months: parseList(month, FIELDS.month),
    years: year === '*' ? 'any' : parseList(year, FIELDS.year),
    dayOfMonth: parseDayOfMonth(dom),
    dayOfWeek: parseDayOfWeek(dow),
  };
}

function parseDayOfMonth(field: string): DayOfMonthRule {
  if (field === '?' || field === '*') return 'any';
  if (field === 'L') return { days: new Set(), last: true, lastWeekday: false };
  if (field === 'LW') return { days: new Set(), last: false, lastWeekday: true };
  const nearest = /^(\d{1,2})W$/.exec(field);
  if (nearest?.[1] !== undefined) {
    return { days: new Set(), last: false, lastWeekday: false, nearestWeekday: value(nearest[1], FIELDS.dayOfMonth, field) };
  }
  return { days: parseList(field, FIELDS.dayOfMonth), last: false, lastWeekday: false };
}

function parseDayOfWeek(field: string): DayOfWeekRule {
  const spec = FIELDS.eventBridgeDayOfWeek;
  if (field === '?' || field === '*') return 'any';
  // `L` alone is the last day of the *week* (Saturday, every week), not the last of some day in the
  // month (that is `7L`): "The L wildcard in the Day-of-month or Day-of-week fields specifies the
  // last day of the month or week" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html,
  // the expressions EventBridge Scheduler takes: https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based).
  if (field === 'L') return { days: new Set([6]) };
  const last = /^(\w+)L$/.exec(field);
  if (last?.[1] !== undefined) return { days: new Set(), lastOfMonth: value(last[1], spec, field) - 1 };
  const nth = /^(\w+)#(\d+)$/.exec(field);
  if (nth?.[1] !== undefined && nth[2] !== undefined) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) throw new CronExpressionError(`the day-of-week field ${JSON.stringify(field)} must name an occurrence from 1 to 5 after #`);
    return { days: new Set(), nth: { day: value(nth[1], spec, field) - 1, n } };
  }
  if (/[LW#]/.test(field)) throw new CronExpressionError(`the day-of-week field must use L or # alone (6L, 3#2), but ${JSON.stringify(field)} was provided`);
  return { days: new Set([...parseList(field, spec)].map((day) => day - 1)) };
}

/** Expands a list field (`*`, `5`, `1-5`, `0/15`, `1-30/2`, a step after `*`, names, commas) into its values. */
function parseList(field: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const element of field.split(',')) {
    const match = /^(\*|[A-Z0-9]+)(?:-([A-Z0-9]+))?(?:\/(\d+))?$/.exec(element);
    if (match?.[1] === undefined) throw invalid(spec, field);
    const whole = match[1] === '*';
    if (whole && match[2] !== undefined) throw invalid(spec, field);
    const start = whole ? spec.min : value(match[1], spec, field);
    const stepText = match[3];
    // `5/15` runs from 5 to the end of the range, as in EventBridge; a bare `5` is one value.
    const end = match[2] !== undefined ? value(match[2], spec, field) : whole || stepText !== undefined ? spec.max : start;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (start > end) throw new CronExpressionError(`the ${spec.name} field range ${JSON.stringify(element)} must go from low to high`);
    if (!Number.isInteger(step) || step < 1) throw new CronExpressionError(`the ${spec.name} field step in ${JSON.stringify(element)} must be at least 1`);
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return values;
}

function value(text: string, spec: FieldSpec, field: string): number {
  const named = spec.names?.[text];
  const number = named ?? (/^\d+$/.test(text) ? Number(text) : Number.NaN);
  if (!Number.isInteger(number) || number < spec.min || number > spec.max) throw invalid(spec, field);
  return number;
}

function invalid(spec: FieldSpec, field: string): CronExpressionError {
  const named = spec.names === undefined ? '' : ` or names (${Object.keys(spec.names).slice(0, 3).join(', ')}, …)`;
  return new CronExpressionError(`the ${spec.name} field must be *, values from ${spec.min} to ${spec.max}${named}, ranges (a-b), steps (/n) or lists (a,b), but ${JSON.stringify(field)} was provided`);
}

/** A step after `*` starts at the field's minimum instead (`0/5`, `1/5`): EventBridge documents steps from a start value. */
function startStepsAtMinimum(field: string, spec: FieldSpec): string {
  return field.split(',').map((element) => (element.startsWith('*/') ? `${spec.min}${element.slice(1)}` : element)).join(',');
}

/** Days of the week (0 = Sunday) in EventBridge's numbering (1 = Sunday), runs of three or more as ranges. */
function renderDays(days: ReadonlySet<number>): string {
  const numbers = sorted(new Set([...days].map((day) => day + 1)));
  const parts: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && (numbers[j + 1] ?? 0) === (numbers[j] ?? 0) + 1) j += 1;
    const first = numbers[i];
    const last = numbers[j];
    if (j - i >= 2) parts.push(`${first}-${last}`);
    else parts.push(...numbers.slice(i, j + 1).map(String));
    i = j + 1;
  }
  return parts.join(',');
}

function sorted(values: ReadonlySet<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** No clock change within a day moves a zone by more than this (a pre-filter, not a rule). */
const LARGEST_SHIFT_MS = 3 * HOUR_MS;

/**
 * The first time after `afterMs` (exclusive) at which `expression` fires in `timeZone`, or
 * undefined when it never fires again (a year field in the past).
 *
 * @example
 * nextRun(parseCronExpression('0 3 * * *'), Date.parse('2026-03-28T03:00:00Z'), 'Europe/Vienna')
 * // Date.parse('2026-03-29T01:00:00Z'): 03:00 CEST, the night the clocks go forward
 */
export function nextRun(expression: CronExpression, afterMs: number, timeZone = 'UTC'): number | undefined {
  const start = wallTimeOf(afterMs, timeZone);
  const offset = offsetMsAt(afterMs, timeZone);
  // Without a clock change near `afterMs`, a wall time maps to one instant with the current offset.
  const settled = offsetMsAt(afterMs - LARGEST_SHIFT_MS, timeZone) === offset && offsetMsAt(afterMs + LARGEST_SHIFT_MS, timeZone) === offset;
  // From the day before: a wall time of that day can only be later if the clock went back over midnight.
  let day = Date.UTC(start.year, start.month - 1, start.day) - DAY_MS;
  while (true) {
    const date = new Date(day);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth() + 1;
    if (year > CRON_YEAR_RANGE.max) return undefined;
    if (expression.years !== 'any' && !expression.years.has(year)) {
      day = Date.UTC(year + 1, 0, 1);
      continue;
    }
    if (!expression.months.has(month)) {
      day = Date.UTC(year, month, 1);
      continue;
    }
    const dayOfMonth = date.getUTCDate();
    if (dayMatches(expression, year, month, dayOfMonth, date.getUTCDay())) {
      const run = firstRunOfDay(expression, { year, month, day: dayOfMonth }, { afterMs, offset, settled, timeZone });
      if (run !== undefined) return run;
    }
    day += DAY_MS;
  }
}

/** The next `count` runs after `afterMs`. */
export function nextRuns(expression: CronExpression, afterMs: number, count: number, timeZone = 'UTC'): number[] {
  const runs: number[] = [];
  let after = afterMs;
  while (runs.length < count) {
    const run = nextRun(expression, after, timeZone);
    if (run === undefined) break;
    runs.push(run);
    after = run;
  }
  return runs;
}

/** Where a search starts: after `afterMs`, whose zone offset is `offset` (and stays so nearby when `settled`). */
interface SearchStart {
  readonly afterMs: number;
  readonly offset: number;
  readonly settled: boolean;
  readonly timeZone: string;
}

function firstRunOfDay(expression: CronExpression, date: { year: number; month: number; day: number }, start: SearchStart): number | undefined {
  const { afterMs, offset, settled, timeZone } = start;
  const midnight = Date.UTC(date.year, date.month - 1, date.day);
  for (const hour of expression.hours) {
    for (const minute of expression.minutes) {
      const estimate = midnight + hour * HOUR_MS + minute * 60_000 - offset;
      // Cheap skips of wall times before `afterMs`, without asking Intl.
      if (estimate + LARGEST_SHIFT_MS <= afterMs || (settled && estimate <= afterMs)) continue;
      // A wall time passed twice fires the first time only, as EventBridge Scheduler does.
      const first = instantsOf({ ...date, hour, minute }, timeZone)[0];
      if (first !== undefined && first > afterMs) return first;
    }
  }
  return undefined;
}

function dayMatches(expression: CronExpression, year: number, month: number, day: number, weekday: number): boolean {
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const dom = expression.dayOfMonth;
  const domMatches = dom === 'any'
    || dom.days.has(day)
    || (dom.last && day === lastDay)
    || (dom.lastWeekday && day === lastWeekdayOf(year, month, lastDay))
    || (dom.nearestWeekday !== undefined && day === nearestWeekday(year, month, dom.nearestWeekday, lastDay));
  const dow = expression.dayOfWeek;
  const dowMatches = dow === 'any'
    || dow.days.has(weekday)
    || (dow.lastOfMonth === weekday && day + 7 > lastDay)
    || (dow.nth !== undefined && dow.nth.day === weekday && Math.ceil(day / 7) === dow.nth.n);
  return domMatches && dowMatches;
}

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

function lastWeekdayOf(year: number, month: number, lastDay: number): number {
  const weekday = weekdayOf(year, month, lastDay);
  return weekday === 6 ? lastDay - 1 : weekday === 0 ? lastDay - 2 : lastDay;
}

/** The weekday nearest to `target` without leaving the month (Quartz's and EventBridge's `W`). */
function nearestWeekday(year: number, month: number, target: number, lastDay: number): number | undefined {
  if (target > lastDay) return undefined;
  const weekday = weekdayOf(year, month, target);
  if (weekday === 6) return target === 1 ? 3 : target - 1;
  if (weekday === 0) return target === lastDay ? target - 2 : target + 1;
  return target;
}
