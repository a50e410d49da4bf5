/**
 * Wall-clock time in an IANA time zone, with the Intl API only (no time zone database to ship).
 * Used to evaluate cron expressions the way EventBridge Scheduler does: in the schedule's zone,
 * skipping wall times that do not exist (spring forward) and running once in repeated ones
 * (fall back).
 */

/** A minute of wall-clock time. Months are 1-12; weekday is 1 (Sunday) to 7 (Saturday), as cron counts. */
export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** Whether `timeZone` is an IANA zone name this Node.js knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 1, Mon: 2, Tue: 3, Wed: 4, Thu: 5, Fri: 6, Sat: 7 };

/** The wall-clock time of an instant in a zone (seconds dropped). */
export function wallTime(instantMs: number, timeZone: string): WallTime {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instantMs))) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday ?? ''] ?? 0,
  };
}

/** Days in a month (month 1-12). */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Weekday (1 = Sunday … 7 = Saturday) of a calendar date. */
export function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

/**
 * The instant at which the zone's clocks show the given minute: the earlier one when the minute
 * happens twice (fall back), undefined when it never happens (spring forward).
 */
export function instantOf(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number | undefined {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  const candidates = new Set<number>();
  // The zone's offset on either side of the date covers both sides of any transition that day.
  for (const probe of [asUtc - 86_400_000, asUtc + 86_400_000]) candidates.add(asUtc - offsetMs(probe, timeZone));
  const matching = [...candidates]
    .filter((instant) => {
      const wall = wallTime(instant, timeZone);
      return wall.year === year && wall.month === month && wall.day === day && wall.hour === hour && wall.minute === minute;
    })
    .sort((a, b) => a - b);
  return matching[0];
}

/** The zone's offset from UTC at an instant, in milliseconds (east positive). */
export function offsetMs(instantMs: number, timeZone: string): number {
  const wall = wallTime(instantMs, timeZone);
  const truncated = instantMs - (((instantMs % 60_000) + 60_000) % 60_000);
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) - truncated;
}
