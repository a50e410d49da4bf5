/**
 * The local scheduler's expressions: EventBridge cron fields, time zones with daylight saving
 * (a skipped wall time does not fire, a repeated one fires once), rate and at.
 */
import { describe, expect, it } from 'vitest';
import { CronSyntaxError, nextCronTime, parseCron } from '../../local/schedules/cron.js';
import { nextFireTime, parseScheduleExpression } from '../../local/schedules/expression.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function fires(expression: string, fromIso: string, timeZone: string, count: number): (string | undefined)[] {
  const cron = parseCron(expression);
  const times: (string | undefined)[] = [];
  let after = Date.parse(fromIso);
  for (let index = 0; index < count; index += 1) {
    const next = nextCronTime(cron, after, timeZone);
    times.push(iso(next));
    if (next === undefined) break;
    after = next;
  }
  return times;
}

describe('cron expressions', () => {
  it.each([
    { expression: '*/15 * * * ? *', from: '2026-05-01T10:07:00Z', zone: 'UTC', expected: ['2026-05-01T10:15:00.000Z', '2026-05-01T10:30:00.000Z'] },
    { expression: '0 9 ? * MON-FRI *', from: '2026-05-01T12:00:00Z', zone: 'Asia/Tokyo', expected: ['2026-05-04T00:00:00.000Z', '2026-05-05T00:00:00.000Z'] },
    { expression: '0 0 L * ? *', from: '2026-02-01T00:00:00Z', zone: 'UTC', expected: ['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z'] },
    { expression: '0 0 15W * ? *', from: '2026-08-01T00:00:00Z', zone: 'UTC', expected: ['2026-08-14T00:00:00.000Z', '2026-09-15T00:00:00.000Z'] },
    { expression: '0 12 ? * 6L *', from: '2026-04-01T00:00:00Z', zone: 'UTC', expected: ['2026-04-24T12:00:00.000Z', '2026-05-29T12:00:00.000Z'] },
    { expression: '30 8 ? * MON#3 *', from: '2026-04-01T00:00:00Z', zone: 'UTC', expected: ['2026-04-20T08:30:00.000Z', '2026-05-18T08:30:00.000Z'] },
    { expression: '0 0 1 JAN ? 2030-2031', from: '2026-04-01T00:00:00Z', zone: 'UTC', expected: ['2030-01-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z', undefined] },
    { expression: '0 18 ? * FRI-MON *', from: '2026-05-01T00:00:00Z', zone: 'UTC', expected: ['2026-05-01T18:00:00.000Z', '2026-05-02T18:00:00.000Z', '2026-05-03T18:00:00.000Z', '2026-05-04T18:00:00.000Z', '2026-05-08T18:00:00.000Z'] },
  ])('$expression in $zone', ({ expression, from, zone, expected }) => {
    expect(fires(expression, from, zone, expected.length)).toEqual(expected);
  });

  it('skips a wall time that daylight saving skips (London, 29 March 2026)', () => {
    expect(fires('30 1 * * ? *', '2026-03-28T12:00:00Z', 'Europe/London', 2)).toEqual(['2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
  });

  it('fires once in the hour daylight saving repeats (London, 25 October 2026)', () => {
    expect(fires('0/30 1 * * ? *', '2026-10-24T23:00:00Z', 'Europe/London', 3)).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:00:00.000Z']);
  });

  it.each([
    { expression: '0 9 * * *', message: 'a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), but "0 9 * * *" has 5' },
    { expression: '0 9 * * * *', message: 'exactly one of day-of-month and day-of-week must be ?, but "0 9 * * * *" was provided' },
    { expression: '60 9 * * ? *', message: 'minutes: "60" is not a value between 0 and 59' },
    { expression: '0 9 ? * FUNDAY *', message: 'day-of-week: "FUNDAY" is not a value between 1 and 7 or a name (SUN, MON, TUE, WED, THU, FRI, SAT)' },
  ])('rejects $expression', ({ expression, message }) => {
    expect(() => parseCron(expression)).toThrow(new CronSyntaxError(message));
  });
});

describe('rate and at expressions', () => {
  const window = (anchorMs: number) => ({ timeZone: 'UTC', anchorMs, startMs: undefined, endMs: undefined });

  it('fires a rate schedule at its start, then every period', () => {
    const rate = parseScheduleExpression('rate(5 minutes)');
    const start = Date.parse('2026-05-01T10:00:20Z');
    expect(iso(nextFireTime(rate, start, window(start), true))).toBe('2026-05-01T10:00:20.000Z');
    expect(iso(nextFireTime(rate, start, window(start)))).toBe('2026-05-01T10:05:20.000Z');
    expect(iso(nextFireTime(rate, start + 7 * 60_000, window(start), true))).toBe('2026-05-01T10:10:20.000Z');
  });

  it('fires an at schedule once, in its time zone', () => {
    const at = parseScheduleExpression('at(2030-06-01T09:30:00)');
    const zone = { ...window(0), timeZone: 'America/New_York' };
    expect(iso(nextFireTime(at, Date.parse('2026-01-01T00:00:00Z'), zone))).toBe('2030-06-01T13:30:00.000Z');
    expect(nextFireTime(at, Date.parse('2030-06-01T13:30:00Z'), zone)).toBeUndefined();
  });

  it('stops at the end date', () => {
    const rate = parseScheduleExpression('rate(1 hour)');
    const start = Date.parse('2026-05-01T00:00:00Z');
    expect(nextFireTime(rate, start + 30 * 60_000, { ...window(start), endMs: start + 45 * 60_000 })).toBeUndefined();
  });

  it.each(['rate(0 minutes)', 'rate(5 weeks)', 'at(2030-06-01 09:30)', 'every 5 minutes'])('rejects %s', (expression) => {
    expect(() => parseScheduleExpression(expression)).toThrow();
  });
});
