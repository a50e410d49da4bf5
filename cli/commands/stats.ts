/**
 * `hopper stats`: processed and failed totals, and the last minutes as a sparkline;
 * `hopper stats --cohorts`: the cohorts of jobs by enqueue minute as a table.
 */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, fieldOf, listOf, printJson } from './io.js';
import { intOption, parseCommand } from './options.js';
import { renderTable, type Column } from './table.js';

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of `values`, scaled to their maximum. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((value) => (max === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((value / max) * (BARS.length - 1)))])).join('');
}

type Row = Readonly<Record<string, unknown>>;

/** A count, or `-` when absent. */
function count(row: Row, name: string): string {
  const value = row[name];
  return typeof value === 'number' ? String(value) : '-';
}

/** A latency in ms as `840ms`, `1.9s` or `3.2m`; `-` when none. */
function duration(value: unknown): string {
  if (typeof value !== 'number') return '-';
  if (value < 1000) return `${value}ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)}s`;
  return `${(value / 60_000).toFixed(1)}m`;
}

const latency = (name: string) => (row: Row): string => duration(fieldOf(fieldOf(row, 'latency_ms'), name));

const COHORT_COLUMNS: readonly Column<Row>[] = [
  { header: 'MINUTE (UTC)', value: (row) => String(row.minute ?? '').slice(0, 16).replace('T', ' ') },
  ...['started', 'done', 'dead', 'pending', 'failed'].map((name) => ({ header: name.toUpperCase(), value: (row: Row) => count(row, name) })),
  ...['p50', 'p90', 'p99', 'max'].map((name) => ({ header: name.toUpperCase(), value: latency(name) })),
];

/** The command. */
export const statsCommand: Command = {
  name: 'stats',
  summary: 'processed and failed jobs, totals and per minute',
  usage: `Usage: hopper stats [--minutes 60] [--cohorts]

Options:
  --minutes <n>        minutes of history, 1 to 10080 (a week; per hour beyond 1440), default 60;
                       with --cohorts at most 1440
  --cohorts            jobs by the minute they were enqueued, newest first: started, done, dead,
                       pending, failed attempts and enqueue-to-start latency (p50/p90/p99/max)
`,
  async run(args, ctx) {
    const { values } = parseCommand(args, { minutes: { type: 'string' }, cohorts: { type: 'boolean' } });
    const minutes = intOption(values.minutes, 'minutes', 1, values.cohorts === true ? 1440 : 10_080) ?? 60;
    const api = await ctx.connect(targetOf(values));
    const body = await call(api, 'GET', values.cohorts === true ? `/v1/stats/cohorts?minutes=${minutes}` : `/v1/stats?minutes=${minutes}`);
    if (values.json) return printJson(ctx.io, body);
    if (values.cohorts === true) return ctx.io.stdout(renderTable(listOf(body, 'cohorts'), COHORT_COLUMNS, `(no jobs enqueued in the last ${minutes} min)`));
    const history = listOf(body, 'history');
    const series = (name: string) => history.map((minute) => { const value = minute[name]; return typeof value === 'number' ? value : 0; });
    const sum = (numbers: readonly number[]) => numbers.reduce((total, value) => total + value, 0);
    ctx.io.stdout([
      `processed  ${String(fieldOf(body, 'processed') ?? 0)}`,
      `failed     ${String(fieldOf(body, 'failed') ?? 0)}`,
      `last ${minutes} min${fieldOf(body, 'step_minutes') === 60 ? ', per hour' : ''}, oldest first:`,
      `processed  ${sparkline(series('processed'))}  ${sum(series('processed'))}`,
      `failed     ${sparkline(series('failed'))}  ${sum(series('failed'))}`,
    ].join('\n') + '\n');
  },
};
