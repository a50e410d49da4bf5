/**
 * The local scheduler's expressions. Its cron expressions are the library's (lib/cron): the same
 * table of expressions and instants (test/fixtures/cron-cases.ts) that the library's unit tests
 * check is answered here by the local runtime's scheduler, as `hopper dev` plans schedules; rate
 * and at expressions are the scheduler's own.
 */
import { describe, expect, it, vi } from 'vitest';
import { CronExpressionError } from '../../lib/errors/cron.js';
import { Clock } from '../../local/clock.js';
import type { ScheduleSpec } from '../../local/resources/schedule.js';
import { nextFireTime, parseScheduleExpression } from '../../local/schedules/expression.js';
import { LocalScheduler } from '../../local/schedules/scheduler.js';
import { CRON_CASES } from '../fixtures/cron-cases.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A schedule as the template parser makes it (a function target that is never fired here). */
function scheduleSpec(expressionText: string, timeZone: string): ScheduleSpec {
  return {
    logicalId: 'Schedule', name: 'schedule', group: 'default', arn: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/schedule',
    expressionText, expression: parseScheduleExpression(expressionText), timeZone, startMs: undefined, endMs: undefined, enabled: true,
    targetArn: 'arn:aws:lambda:us-east-1:000000000000:function:never', input: undefined, messageGroupId: undefined, maximumRetryAttempts: 0, deadLetterArn: undefined,
  };
}

/**
 * The next `count` fire times the local scheduler plans for `expression` when its clock reads
 * just after `after`, then just after each planned time (the clock moved by its offset, as
 * `hopper dev --clock-offset` moves it).
 */
function plannedRuns(expressionText: string, timeZone: string, after: string, count: number): (string | undefined)[] {
  const clock = new Clock();
  const scheduler = new LocalScheduler([scheduleSpec(expressionText, timeZone)], clock, async () => undefined, () => undefined);
  const runs: (string | undefined)[] = [];
  let from = Date.parse(after) + 1;
  for (let index = 0; index < count; index += 1) {
    clock.setOffset(from - Date.now());
    scheduler.setEnabled('schedule', true);
    const next = scheduler.list()[0]?.nextFireAt;
    runs.push(next);
    if (next === undefined) break;
    from = Date.parse(next) + 1;
  }
  return [...runs, ...Array.from({ length: count - runs.length }, () => undefined)];
}

describe('cron expressions, from the library\'s evaluator', () => {
  it.each(CRON_CASES)('cron($expression) in $timeZone after $after', ({ expression, timeZone, after, runs }) => {
    expect(plannedRuns(`cron(${expression})`, timeZone, after, runs.length)).toEqual(runs);
  });

  it('fires cron(0 9 ? * L *) every Saturday, as AWS does (not once a month)', () => {
    expect(plannedRuns('cron(0 9 ? * L *)', 'UTC', '2026-05-01T00:00:00Z', 5)).toEqual(['2026-05-02T09:00:00.000Z', '2026-05-09T09:00:00.000Z', '2026-05-16T09:00:00.000Z', '2026-05-23T09:00:00.000Z', '2026-05-30T09:00:00.000Z']);
  });

  it.each([
    { expression: 'cron(0 9 * * *)', message: 'a cron(…) expression must have 6 fields (minute hour day-of-month month day-of-week year), but 5 were provided' },
    { expression: 'cron(0 9 * * * *)', message: 'exactly one of day-of-month and day-of-week must be ?, but "*" and "*" were provided' },
    { expression: 'cron(60 9 * * ? *)', message: 'the minute field must be *, values from 0 to 59, ranges (a-b), steps (/n) or lists (a,b), but "60" was provided' },
    { expression: 'cron(0 18 ? * FRI-MON *)', message: 'the day-of-week field range "FRI-MON" must go from low to high' },
  ])('rejects $expression as the library does', ({ expression, message }) => {
    expect(() => parseScheduleExpression(expression)).toThrow(new CronExpressionError(message));
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

  it('never fires an at schedule whose wall time the clock skips', () => {
    const at = parseScheduleExpression('at(2026-03-29T02:30:00)');
    expect(nextFireTime(at, Date.parse('2026-01-01T00:00:00Z'), { ...window(0), timeZone: 'Europe/Vienna' })).toBeUndefined();
  });

  it("fires a rate schedule's first period when the scheduler starts, however long after it was made", async () => {
    const clock = new Clock();
    const fired: number[] = [];
    const scheduler = new LocalScheduler([scheduleSpec('rate(5 minutes)', 'UTC')], clock, async (_spec, _payload, scheduledMs) => { fired.push(scheduledMs); }, () => undefined);
    // Time passes between making the scheduler and starting it (a loaded machine, a slow start).
    clock.setOffset(1_500);
    const startedAt = clock.now();
    scheduler.start();
    try {
      await vi.waitFor(() => expect(fired).toHaveLength(1), { timeout: 2_000, interval: 10 });
      expect(fired[0]).toBeGreaterThanOrEqual(startedAt);
      expect(fired[0]).toBeLessThan(startedAt + 1_000);
      expect(Date.parse(scheduler.list()[0]?.nextFireAt ?? '')).toBe((fired[0] ?? 0) + 5 * 60_000);
    } finally {
      await scheduler.stop();
    }
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
