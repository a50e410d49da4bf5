/**
 * Wall-clock time in IANA time zones, on top of `Intl` (no time-zone database of our own). Pure:
 * used by the cron evaluator at run time and by the construct's validation at synth time.
 */

/** The wall-clock reading of an instant in some time zone. */
export interface WallTime {
  readonly year: number;
  /** 1 to 12. */
  readonly month: number;
  /** 1 to 31. */
  readonly day: number;
  /** 0 to 23. */
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** A wall-clock minute: what a cron expression names. */
export type WallMinute = Omit<WallTime, 'second'>;

const MINUTE_MS = 60_000;
/** No zone has moved its clock by more than a day at once; a transition is looked for this far around. */
const TRANSITION_WINDOW_MS = 86_400_000;
/** What a time-zone name may look like (`Europe/Vienna`, `Etc/GMT+5`, `UTC`); offsets such as `+01:00` are not names. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    // h23: midnight is 0, never 24 (some ICU versions print 24 with hour12: false).
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Why `name` is not a time zone Hopper accepts, or undefined when it is one. */
export function timeZoneProblem(name: string): string | undefined {
  if (!ZONE_NAME.test(name)) return 'is not an IANA time zone name (such as Europe/Vienna or UTC)';
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return 'is not a known IANA time zone';
  }
  // Intl accepts any letter case, EventBridge Scheduler does not.
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) return `is not spelled as IANA spells it (${resolved})`;
  return undefined;
}

/** True when `name` is an IANA time zone (or an alias such as `US/Eastern`) spelled as IANA spells it. */
export function isTimeZone(name: string): boolean {
  return timeZoneProblem(name) === undefined;
}

/** The wall-clock reading of `epochMs` in `timeZone`. */
export function wallTimeOf(epochMs: number, timeZone: string): WallTime {
  const fields = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(epochMs)) {
    const value = Number(part.value);
    switch (part.type) {
      case 'year': fields.year = value; break;
      case 'month': fields.month = value; break;
      case 'day': fields.day = value; break;
      case 'hour': fields.hour = value; break;
      case 'minute': fields.minute = value; break;
      case 'second': fields.second = value; break;
      default: break;
    }
  }
  return fields;
}

/** How far `timeZone`'s clock is ahead of UTC at `epochMs`, in milliseconds (CEST: 7,200,000). */
export function offsetMsAt(epochMs: number, timeZone: string): number {
  const wall = wallTimeOf(epochMs, timeZone);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return wallAsUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The instants at which `timeZone`'s clock reads `wall`, earliest first: none when the clock jumps
 * over it (spring forward), two when it passes it twice (fall back), else one.
 *
 * @example
 * instantsOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Vienna') // [] (02:00 → 03:00)
 */
export function instantsOf(wall: WallMinute, timeZone: string): number[] {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const offsets = new Set([offsetMsAt(asUtc - TRANSITION_WINDOW_MS, timeZone), offsetMsAt(asUtc + TRANSITION_WINDOW_MS, timeZone), offsetMsAt(asUtc, timeZone)]);
  const instants = [...offsets]
    .map((offset) => asUtc - offset)
    .filter((instant) => offsetMsAt(instant, timeZone) === asUtc - instant);
  return [...new Set(instants)].sort((a, b) => a - b);
}

/** The start of the minute `epochMs` falls in. */
export function floorToMinute(epochMs: number): number {
  return Math.floor(epochMs / MINUTE_MS) * MINUTE_MS;
}
