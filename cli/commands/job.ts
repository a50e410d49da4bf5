/** `hopper job <jid>`: where a job is (`GET /v1/find/{jid}`). */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { progressLine } from './progress.js';

/** The command. */
export const jobCommand: Command = {
  name: 'job',
  summary: 'where a job is, found by its jid',
  usage: 'Usage: hopper job <jid>\n',
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    const [jid, extra] = positionals;
    if (jid === undefined || jid === '') throw usageError('job needs a job id (jid)');
    if (extra !== undefined) throw usageError(`job takes one jid, but ${JSON.stringify(extra)} was also provided`);
    const body = await call(await ctx.connect(targetOf(values)), 'GET', `/v1/find/${encodeURIComponent(jid)}`);
    if (values.json) return printJson(ctx.io, body);
    const lines = [`job          ${cell(fieldOf(body, 'jid'))}`, `where        ${cell(fieldOf(body, 'summary'))}`];
    const tracked = fieldOf(body, 'tracked');
    if (tracked !== null && tracked !== undefined) {
      lines.push(`jobtype      ${cell(fieldOf(tracked, 'jobtype'))} on ${cell(fieldOf(tracked, 'queue'))}`);
      const progress = fieldOf(tracked, 'progress');
      if (typeof progress === 'number') lines.push(`progress     ${progressLine('', Math.round(progress), 100, cell(fieldOf(tracked, 'message'))).trimStart()}`);
      const result = fieldOf(tracked, 'result');
      if (result !== null && result !== undefined) lines.push(`result       ${cell(result)}`);
    }
    const iteration = fieldOf(body, 'iteration');
    if (iteration !== null && iteration !== undefined) {
      lines.push(`iteration    ${cell(fieldOf(iteration, 'items_done'))} items in ${cell(fieldOf(iteration, 'slices'))} slices${fieldOf(iteration, 'done') === true ? ', done' : ''}`);
    }
    for (const entry of listOf(body, 'entries')) {
      const error = fieldOf(entry, 'error');
      lines.push(`${cell(entry.set).padEnd(13)}${cell(entry.id)}  ${cell(entry.jobtype)} on ${cell(entry.queue)}${error === null ? '' : `  ${cell(fieldOf(error, 'errtype'))}: ${cell(fieldOf(error, 'message'))}`}`);
    }
    ctx.io.stdout(`${lines.join('\n')}\n`);
  },
};
