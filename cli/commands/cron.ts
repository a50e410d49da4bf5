/** `hopper cron list` and `hopper cron trigger <name>`. */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { renderTable } from './table.js';

/** The command. */
export const cronCommand: Command = {
  name: 'cron',
  summary: 'crons: list (last and next run), trigger one now',
  usage: `Usage: hopper cron list
       hopper cron trigger <name>

  trigger              enqueue the cron's job now; its schedule is unchanged
`,
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    const [action, name, extra] = positionals;
    if (extra !== undefined) throw usageError(`cron ${action ?? ''} takes at most one name, but ${JSON.stringify(extra)} was also provided`);
    if (action === undefined || action === 'list') {
      if (name !== undefined) throw usageError(`cron list takes no name, but ${JSON.stringify(name)} was provided`);
      const body = await call(await ctx.connect(targetOf(values)), 'GET', '/v1/crons');
      if (values.json) return printJson(ctx.io, body);
      ctx.io.stdout(renderTable(listOf(body, 'crons'), [
        { header: 'NAME', value: (cron) => cell(cron.name) },
        { header: 'SCHEDULE', value: (cron) => cell(cron.schedule) },
        { header: 'TIMEZONE', value: (cron) => cell(cron.timezone) },
        { header: 'JOBTYPE', value: (cron) => cell(cron.jobtype) },
        { header: 'QUEUE', value: (cron) => cell(cron.queue) },
        { header: 'LAST RUN', value: (cron) => cell(cron.last_run_at) || 'never' },
        { header: 'NEXT RUN', value: (cron) => cell(cron.next_run_at) || 'never' },
      ], '(no crons)'));
      return;
    }
    if (action !== 'trigger') throw usageError(`cron needs an action, list or trigger, but ${JSON.stringify(action)} was provided`);
    if (name === undefined || name === '') throw usageError('cron trigger needs a cron name (hopper cron list shows them)');
    const body = await call(await ctx.connect(targetOf(values)), 'POST', `/v1/crons/${encodeURIComponent(name)}/trigger`);
    if (values.json) return printJson(ctx.io, body);
    ctx.io.stdout(`triggered ${name}: enqueued ${cell(fieldOf(body, 'jid'))} on queue ${cell(fieldOf(body, 'queue'))}\n`);
  },
};
