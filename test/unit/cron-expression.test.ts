import { describe, expect, it } from 'vitest';
import { nextRun, nextRuns, parseCronExpression } from '../../lib/cron/expression.js';
import { CronExpressionError } from '../../lib/errors/cron.js';
import { CRON_CASES } from '../fixtures/cron-cases.js';
import { instantsOf, isTimeZone, offsetMsAt, timeZoneProblem, wallTimeOf } from '../../lib/cron/time-zone.js';

const VIENNA = 'Europe/Vienna';
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const runs = (expression: string, after: string, count: number, timeZone = 'UTC'): (string | undefined)[] =>
  nextRuns(parseCronExpression(expression), at(after), count, timeZone).map(iso);

describe('parseCronExpression: crontab (5 fields) to EventBridge', () => {
  it.each([
    ['0 3 * * *', 'cron(0 3 * * ? *)'],
    ['*/15 * * * *', 'cron(0/15 * * * ? *)'],
    ['0 */2 1 * *', 'cron(0 0/2 1 * ? *)'],
    ['0 9 * * 1-5', 'cron(0 9 ? * 2-6 *)'],
    ['0 12 * * 0,6', 'cron(0 12 ? * 1,7 *)'],
    ['0 12 * * 7', 'cron(0 12 ? * 1 *)'],
    ['0 12 * * SUN,MON', 'cron(0 12 ? * 1,2 *)'],
    ['30 4 1,15 JAN-MAR *', 'cron(30 4 1,15 JAN-MAR ? *)'],
    ['5 0 */3 * *', 'cron(5 0 1/3 * ? *)'],
  ])('%s → %s', (crontab, eventBridge) => {
    const expression = parseCronExpression(crontab);

    expect(expression.form).toBe('crontab');
    expect(expression.eventBridge).toBe(eventBridge);
  });

  it('keeps a 6-field expression as EventBridge spells it, with or without cron(…)', () => {
    expect(parseCronExpression('0 3 ? * MON-FRI *').eventBridge).toBe('cron(0 3 ? * MON-FRI *)');
    expect(parseCronExpression('cron(0 5 L * ? *)')).toMatchObject({ form: 'eventbridge', eventBridge: 'cron(0 5 L * ? *)' });
  });

  it('gives the converted expression the same runs as the crontab one', () => {
    const crontab = runs('0 9 * * 1-5', '2026-11-20T00:00:00Z', 5);
    const eventBridge = runs(parseCronExpression('0 9 * * 1-5').eventBridge, '2026-11-20T00:00:00Z', 5);

    expect(crontab).toEqual(eventBridge);
    expect(crontab).toEqual(['2026-11-20T09:00:00.000Z', '2026-11-23T09:00:00.000Z', '2026-11-24T09:00:00.000Z', '2026-11-25T09:00:00.000Z', '2026-11-26T09:00:00.000Z']);
  });
});

describe('parseCronExpression errors name the field and what was expected', () => {
  it.each([
    ['0 3 * *', 'a cron expression must have 5 fields (crontab: minute hour day-of-month month day-of-week) or 6 (EventBridge: … day-of-week year), but 4 were provided'],
    ['cron(0 3 * * *)', 'a cron(…) expression must have 6 fields (minute hour day-of-month month day-of-week year), but 5 were provided'],
    ['61 * * * *', 'the minute field must be *, values from 0 to 59, ranges (a-b), steps (/n) or lists (a,b), but "61" was provided'],
    ['0 24 * * *', 'the hour field must be *, values from 0 to 23, ranges (a-b), steps (/n) or lists (a,b), but "24" was provided'],
    ['0 3 * FOO *', 'the month field must be *, values from 1 to 12 or names (JAN, FEB, MAR, …), ranges (a-b), steps (/n) or lists (a,b), but "FOO" was provided'],
    ['0 3 * * 8', 'the day-of-week field must be *, values from 0 to 7 or names (SUN, MON, TUE, …), ranges (a-b), steps (/n) or lists (a,b), but "8" was provided'],
    ['0 3 1 * 1', 'a crontab expression that restricts both day-of-month ("1") and day-of-week ("1") runs when either matches, which EventBridge cannot express; set one of them to *'],
    ['0 3 L * *', 'the day-of-month field "L" uses ?, L, W or #, which only the 6-field EventBridge form has'],
    ['0 3 * * * *', 'exactly one of day-of-month and day-of-week must be ?, but "*" and "*" were provided'],
    ['0 3 ? * ? *', 'exactly one of day-of-month and day-of-week must be ?, but "?" and "?" were provided'],
    ['0 3 ? * 0 *', 'the day-of-week field must be *, values from 1 to 7 or names (SUN, MON, TUE, …), ranges (a-b), steps (/n) or lists (a,b), but "0" was provided'],
    ['0 3 * * ? 2200', 'the year field must be *, values from 1970 to 2199, ranges (a-b), steps (/n) or lists (a,b), but "2200" was provided'],
    ['0 3 20-10 * ? *', 'the day-of-month field range "20-10" must go from low to high'],
    ['0/0 3 * * ? *', 'the minute field step in "0/0" must be at least 1'],
    ['0 3 ? * 2#6 *', 'the day-of-week field "2#6" must name an occurrence from 1 to 5 after #'],
  ])('%s', (expression, message) => {
    expect(() => parseCronExpression(expression)).toThrow(new CronExpressionError(message));
  });

  it('is a HopperError subclass recognisable by name', () => {
    const error: unknown = (() => {
      try {
        parseCronExpression('nonsense');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CronExpressionError);
    expect(error instanceof Error && error.name).toBe('CronExpressionError');
  });
});

describe('nextRun in UTC', () => {
  it('finds the next run strictly after the given time', () => {
    expect(runs('0 3 * * *', '2026-11-22T03:00:00Z', 2)).toEqual(['2026-11-23T03:00:00.000Z', '2026-11-24T03:00:00.000Z']);
    expect(runs('0 3 * * *', '2026-11-22T02:59:59.999Z', 1)).toEqual(['2026-11-22T03:00:00.000Z']);
    expect(runs('*/15 * * * *', '2026-11-22T10:07:00Z', 3)).toEqual(['2026-11-22T10:15:00.000Z', '2026-11-22T10:30:00.000Z', '2026-11-22T10:45:00.000Z']);
  });

  it.each([
    ['last day of the month', 'cron(0 5 L * ? *)', '2026-02-01T00:00:00Z', ['2026-02-28T05:00:00.000Z', '2026-03-31T05:00:00.000Z']],
    ['last day of February in a leap year', 'cron(0 5 L 2 ? *)', '2027-03-01T00:00:00Z', ['2028-02-29T05:00:00.000Z']],
    ['last weekday of May 2026 (the 31st is a Sunday)', 'cron(0 5 LW 5 ? *)', '2026-05-01T00:00:00Z', ['2026-05-29T05:00:00.000Z']],
    ['weekday nearest the 15th (Saturday 15 August → Friday 14th)', 'cron(0 5 15W 8 ? *)', '2026-08-01T00:00:00Z', ['2026-08-14T05:00:00.000Z']],
    ['weekday nearest the 1st stays in the month (Saturday 1 August → Monday 3rd)', 'cron(0 5 1W 8 ? *)', '2026-07-31T00:00:00Z', ['2026-08-03T05:00:00.000Z']],
    ['last Friday of the month', 'cron(0 9 ? * 6L *)', '2026-04-01T00:00:00Z', ['2026-04-24T09:00:00.000Z', '2026-05-29T09:00:00.000Z']],
    ['second Tuesday of the month', 'cron(0 9 ? * 3#2 *)', '2026-04-01T00:00:00Z', ['2026-04-14T09:00:00.000Z', '2026-05-12T09:00:00.000Z']],
    ['a 29 February', '0 0 29 2 *', '2026-01-01T00:00:00Z', ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']],
    ['a year field', 'cron(0 0 1 1 ? 2027-2028)', '2026-06-01T00:00:00Z', ['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']],
  ])('%s', (_name, expression, after, expected) => {
    expect(runs(expression, after, expected.length)).toEqual(expected);
  });

  it('returns undefined when the expression never fires again', () => {
    expect(nextRun(parseCronExpression('cron(0 0 1 1 ? 2027)'), at('2027-01-01T00:00:00Z'))).toBeUndefined();
    expect(nextRun(parseCronExpression('cron(0 0 29 2 ? 2199)'), at('2026-01-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('L in day-of-week, as AWS documents it', () => {
  // "The L wildcard in the Day-of-month or Day-of-week fields specifies the last day of the month
  // or week": https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
  it('fires a bare L every Saturday, and 7L on the last Saturday of the month', () => {
    expect(runs('cron(0 9 ? * L *)', '2026-05-01T00:00:00Z', 5)).toEqual(['2026-05-02T09:00:00.000Z', '2026-05-09T09:00:00.000Z', '2026-05-16T09:00:00.000Z', '2026-05-23T09:00:00.000Z', '2026-05-30T09:00:00.000Z']);
    expect(runs('cron(0 9 ? * 7L *)', '2026-05-01T00:00:00Z', 2)).toEqual(['2026-05-30T09:00:00.000Z', '2026-06-27T09:00:00.000Z']);
  });
});

describe('the cron table the local scheduler shares (test/fixtures/cron-cases.ts)', () => {
  it.each(CRON_CASES)('cron($expression) in $timeZone after $after', ({ expression, timeZone, after, runs: expected }) => {
    const found = nextRuns(parseCronExpression(`cron(${expression})`), at(after), expected.length, timeZone).map(iso);

    expect([...found, ...Array.from({ length: expected.length - found.length }, () => undefined)]).toEqual(expected);
  });
});

describe('nextRun in Europe/Vienna across daylight saving time', () => {
  // 2026: clocks go forward at 02:00 CET on 29 March (01:00Z) and back at 03:00 CEST on 25 October (01:00Z).
  it('keeps a daily 03:00 at 03:00 local: 02:00Z in winter, 01:00Z in summer', () => {
    expect(runs('0 3 * * *', '2026-03-27T12:00:00Z', 3, VIENNA)).toEqual(['2026-03-28T02:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T01:00:00.000Z']);
    expect(runs('0 3 * * *', '2026-10-24T12:00:00Z', 2, VIENNA)).toEqual(['2026-10-25T02:00:00.000Z', '2026-10-26T02:00:00.000Z']);
  });

  it('skips a wall time the clock jumps over in spring', () => {
    expect(runs('30 2 * * *', '2026-03-28T00:00:00Z', 2, VIENNA)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(runs('0 * * * *', '2026-03-28T23:30:00Z', 3, VIENNA)).toEqual(['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']);
  });

  it('runs a wall time the clock passes twice in autumn once, the first time', () => {
    expect(runs('30 2 * * *', '2026-10-24T12:00:00Z', 2, VIENNA)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    expect(runs('*/30 * * * *', '2026-10-25T00:00:00Z', 4, VIENNA)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T02:00:00.000Z', // 03:00 CET: 02:00 and 02:30 CET are the second pass, not run again
      '2026-10-25T02:30:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
  });

  it('does not run again when asked from inside the repeated hour', () => {
    expect(runs('30 2 * * *', '2026-10-25T01:15:00Z', 1, VIENNA)).toEqual(['2026-10-26T01:30:00.000Z']);
  });
});

describe('time zones', () => {
  it.each([
    ['Europe/Vienna', undefined],
    ['UTC', undefined],
    ['US/Eastern', undefined],
    ['Etc/GMT+5', undefined],
    ['Europe/Vienn', 'is not a known IANA time zone'],
    ['europe/vienna', 'is not spelled as IANA spells it (Europe/Vienna)'],
    ['+01:00', 'is not an IANA time zone name (such as Europe/Vienna or UTC)'],
    ['', 'is not an IANA time zone name (such as Europe/Vienna or UTC)'],
  ])('%j: %s', (name, problem) => {
    expect(timeZoneProblem(name)).toBe(problem);
    expect(isTimeZone(name)).toBe(problem === undefined);
  });

  it('reads wall time and offset', () => {
    expect(wallTimeOf(at('2026-07-01T10:15:30Z'), VIENNA)).toEqual({ year: 2026, month: 7, day: 1, hour: 12, minute: 15, second: 30 });
    expect(offsetMsAt(at('2026-07-01T10:00:00Z'), VIENNA)).toBe(7_200_000);
    expect(offsetMsAt(at('2026-01-01T10:00:00Z'), VIENNA)).toBe(3_600_000);
    expect(wallTimeOf(at('2026-01-01T00:00:00Z'), 'UTC').hour).toBe(0);
  });

  it('maps a wall time to none, one or two instants', () => {
    expect(instantsOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, VIENNA)).toEqual([]);
    expect(instantsOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, VIENNA).map(iso)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z']);
    expect(instantsOf({ year: 2026, month: 7, day: 1, hour: 12, minute: 0 }, VIENNA).map(iso)).toEqual(['2026-07-01T10:00:00.000Z']);
  });
});
