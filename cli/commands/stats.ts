/** `hopper stats`: processed and failed totals, and the last minutes as a sparkline. */
import type { Command } from './command';
import { targetOf } from './command';
import { call, fieldOf, listOf, printJson } from './io';
import { intOption, parseCommand } from './options';

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of `values`, scaled to their maximum. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((value) => (max === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((value / max) * (BARS.length - 1)))])).join('');
}

/** The command. */
export const statsCommand: Command = {
  name: 'stats',
  summary: 'processed and failed jobs, totals and per minute',
  usage: `Usage: hopper stats [--minutes 60]

Options:
  --minutes <n>        minutes of history, 1 to 1440 (default 60)
`,
  async run(args, ctx) {
    const { values } = parseCommand(args, { minutes: { type: 'string' } });
    const minutes = intOption(values.minutes, 'minutes', 1, 1440) ?? 60;
    const api = await ctx.connect(targetOf(values));
    const body = await call(api, 'GET', `/v1/stats?minutes=${minutes}`);
    if (values.json) return printJson(ctx.io, body);
    const history = listOf(body, 'history');
    const series = (name: string) => history.map((minute) => { const value = minute[name]; return typeof value === 'number' ? value : 0; });
    const sum = (numbers: readonly number[]) => numbers.reduce((total, value) => total + value, 0);
    ctx.io.stdout([
      `processed  ${String(fieldOf(body, 'processed') ?? 0)}`,
      `failed     ${String(fieldOf(body, 'failed') ?? 0)}`,
      `last ${minutes} min, oldest first:`,
      `processed  ${sparkline(series('processed'))}  ${sum(series('processed'))}`,
      `failed     ${sparkline(series('failed'))}  ${sum(series('failed'))}`,
    ].join('\n') + '\n');
  },
};
