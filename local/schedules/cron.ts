/**
 * EventBridge cron expressions: `cron(minutes hours day-of-month month day-of-week year)`, with
 * `, - * / ? L W #` as EventBridge defines them, evaluated in an IANA time zone.
 *
 * @example
 * const cron = parseCron('0 9 ? * MON-FRI *');
 * nextCronTime(cron, Date.now(), 'Europe/Paris'); // next weekday 09:00 in Paris, as epoch ms
 */
import { HopperError } from '../../lib/errors/base.js';
import { daysInMonth, instantOf, wallTime, weekdayOf } from './zoned-time.js';

/** A cron expression that cannot be parsed; the message says which field and why. */
export class CronSyntaxError extends HopperError {}

/** A parsed cron expression. */
export interface Cron {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: ReadonlySet<number>;
  readonly years: ReadonlySet<number>;
  readonly dayOfMonth: DayOfMonth;
  readonly dayOfWeek: DayOfWeek;
}

interface DayOfMonth {
  readonly any: boolean;
  readonly days: ReadonlySet<number>;
  readonly last: boolean;
  readonly lastWeekday: boolean;
  /** `15W`: the weekday nearest to these days. */
  readonly nearestWeekday: readonly number[];
}

interface DayOfWeek {
  readonly any: boolean;
  readonly days: ReadonlySet<number>;
  /** `6L`: the last such weekday of the month. */
  readonly last: readonly number[];
  /** `6#3`: the third such weekday of the month. */
  readonly nth: readonly (readonly [weekday: number, n: number])[];
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const YEAR_RANGE = { min: 1970, max: 2199 } as const;

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS = {
  minutes: { name: 'minutes', min: 0, max: 59 },
  hours: { name: 'hours', min: 0, max: 23 },
  dayOfMonth: { name: 'day-of-month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  dayOfWeek: { name: 'day-of-week', min: 1, max: 7, names: DAY_NAMES },
  year: { name: 'year', min: YEAR_RANGE.min, max: YEAR_RANGE.max },
} as const satisfies Record<string, FieldSpec>;

/**
 * Parses the six fields inside `cron(...)`.
 *
 * @throws CronSyntaxError naming the field that is wrong.
 */
export function parseCron(fields: string): Cron {
  const parts = fields.trim().split(/\s+/);
  const [minutes, hours, dom, month, dow, year] = parts;
  if (parts.length !== 6 || minutes === undefined || hours === undefined || dom === undefined || month === undefined || dow === undefined || year === undefined) {
    throw new CronSyntaxError(`a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), but ${JSON.stringify(fields)} has ${parts.length}`);
  }
  if ((dom === '?') === (dow === '?')) {
    throw new CronSyntaxError(`exactly one of day-of-month and day-of-week must be ?, but ${JSON.stringify(fields)} was provided`);
  }
  return {
    minutes: [...parseField(minutes, FIELDS.minutes)].sort((a, b) => a - b),
    hours: [...parseField(hours, FIELDS.hours)].sort((a, b) => a - b),
    months: parseField(month, FIELDS.month),
    years: parseField(year, FIELDS.year),
    dayOfMonth: parseDayOfMonth(dom),
    dayOfWeek: parseDayOfWeek(dow),
  };
}

function parseValue(text: string, field: FieldSpec): number {
  const upper = text.toUpperCase();
  const named = field.names?.indexOf(upper) ?? -1;
  const value = named >= 0 ? named + 1 : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < field.min || value > field.max) {
    throw new CronSyntaxError(`${field.name}: ${JSON.stringify(text)} is not a value between ${field.min} and ${field.max}${field.names === undefined ? '' : ` or a name (${field.names.join(', ')})`}`);
  }
  return value;
}

/** Expands `*`, `a`, `a-b` (wrapping for names like FRI-MON), `*\/n`, `a/n` and `a-b/n`, comma-separated. */
function parseField(text: string, field: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [range = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new CronSyntaxError(`${field.name}: step ${JSON.stringify(stepText)} must be a positive integer`);
    let start: number;
    let end: number;
    if (range === '*') {
      start = field.min;
      end = field.max;
    } else if (range.includes('-')) {
      const [from = '', to = ''] = range.split('-');
      start = parseValue(from, field);
      end = parseValue(to, field);
    } else {
      start = parseValue(range, field);
      end = stepText === undefined ? start : field.max;
    }
    const span = field.max - field.min + 1;
    const length = end >= start ? end - start : end - start + span;
    for (let offset = 0; offset <= length; offset += step) values.add(((start - field.min + offset) % span) + field.min);
  }
  return values;
}

function parseDayOfMonth(text: string): DayOfMonth {
  if (text === '?' || text === '*') return { any: true, days: new Set(), last: false, lastWeekday: false, nearestWeekday: [] };
  let last = false;
  let lastWeekday = false;
  const nearestWeekday: number[] = [];
  const plain: string[] = [];
  for (const item of text.split(',')) {
    const upper = item.toUpperCase();
    if (upper === 'L') last = true;
    else if (upper === 'LW') lastWeekday = true;
    else if (upper.endsWith('W')) nearestWeekday.push(parseValue(upper.slice(0, -1), FIELDS.dayOfMonth));
    else plain.push(item);
  }
  const days = plain.length > 0 ? parseField(plain.join(','), FIELDS.dayOfMonth) : new Set<number>();
  return { any: false, days, last, lastWeekday, nearestWeekday };
}

function parseDayOfWeek(text: string): DayOfWeek {
  if (text === '?' || text === '*') return { any: true, days: new Set(), last: [], nth: [] };
  const last: number[] = [];
  const nth: (readonly [number, number])[] = [];
  const plain: string[] = [];
  for (const item of text.split(',')) {
    const upper = item.toUpperCase();
    if (upper === 'L') last.push(7);
    else if (upper.endsWith('L')) last.push(parseValue(upper.slice(0, -1), FIELDS.dayOfWeek));
    else if (upper.includes('#')) {
      const [day = '', n = ''] = upper.split('#');
      const index = Number(n);
      if (!Number.isInteger(index) || index < 1 || index > 5) throw new CronSyntaxError(`day-of-week: ${JSON.stringify(item)} must be weekday#n with n from 1 to 5`);
      nth.push([parseValue(day, FIELDS.dayOfWeek), index]);
    } else plain.push(item);
  }
  const days = plain.length > 0 ? parseField(plain.join(','), FIELDS.dayOfWeek) : new Set<number>();
  return { any: false, days, last, nth };
}

function nearestWeekdayTo(year: number, month: number, day: number): number {
  const length = daysInMonth(year, month);
  const target = Math.min(day, length);
  const weekday = weekdayOf(year, month, target);
  if (weekday === 7) return target === 1 ? 3 : target - 1; // Saturday: Friday, unless that leaves the month
  if (weekday === 1) return target === length ? target - 2 : target + 1; // Sunday: Monday, unless that leaves the month
  return target;
}

function dayMatches(cron: Cron, year: number, month: number, day: number): boolean {
  const length = daysInMonth(year, month);
  const { dayOfMonth: dom, dayOfWeek: dow } = cron;
  if (!dom.any) {
    if (dom.days.has(day) || (dom.last && day === length)) return true;
    if (dom.lastWeekday && day === nearestWeekdayTo(year, month, length)) return true;
    return dom.nearestWeekday.some((target) => nearestWeekdayTo(year, month, target) === day);
  }
  if (dow.any) return true;
  const weekday = weekdayOf(year, month, day);
  if (dow.days.has(weekday)) return true;
  if (dow.last.includes(weekday) && day + 7 > length) return true;
  return dow.nth.some(([target, n]) => target === weekday && Math.ceil(day / 7) === n);
}

/**
 * The first instant strictly after `afterMs` at which the cron fires in `timeZone`, or undefined
 * when it never fires again (its years are over).
 */
export function nextCronTime(cron: Cron, afterMs: number, timeZone: string): number | undefined {
  const start = wallTime(afterMs, timeZone);
  let year = start.year;
  let month = start.month;
  let day = start.day;
  let firstDay = true;
  while (year <= YEAR_RANGE.max) {
    if (!cron.years.has(year)) {
      year += 1;
      month = 1;
      day = 1;
      firstDay = false;
      continue;
    }
    if (!cron.months.has(month)) {
      ({ year, month } = nextMonth(year, month));
      day = 1;
      firstDay = false;
      continue;
    }
    if (dayMatches(cron, year, month, day)) {
      for (const hour of cron.hours) {
        if (firstDay && hour < start.hour) continue;
        for (const minute of cron.minutes) {
          if (firstDay && hour === start.hour && minute < start.minute) continue;
          const instant = instantOf(year, month, day, hour, minute, timeZone);
          if (instant !== undefined && instant > afterMs) return instant;
        }
      }
    }
    firstDay = false;
    day += 1;
    if (day > daysInMonth(year, month)) {
      ({ year, month } = nextMonth(year, month));
      day = 1;
    }
  }
  return undefined;
}

function nextMonth(year: number, month: number): { year: number; month: number } {
  return month === 12 ? { year: year + 1, month: 1 } : { year, month: month + 1 };
}
