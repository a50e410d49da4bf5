/** `hopper batch status <bid>`: where a batch stands. */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';

function callbackText(body: unknown, event: string): string {
  const callback = fieldOf(fieldOf(body, 'callbacks'), event);
  if (fieldOf(callback, 'configured') !== true) return '-';
  const sent = fieldOf(callback, 'sent_at');
  const fired = fieldOf(callback, 'fired_at');
  return typeof sent === 'string' ? `sent ${sent}` : typeof fired === 'string' ? `fired ${fired}` : 'waiting';
}

/** The command. */
export const batchCommand: Command = {
  name: 'batch',
  summary: 'the status of a batch',
  usage: 'Usage: hopper batch status <bid>\n',
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    const [action, bid, extra] = positionals;
    if (action !== 'status') throw usageError(`batch needs an action, status, but ${JSON.stringify(action ?? '')} was provided`);
    if (bid === undefined || bid === '') throw usageError('batch status needs a batch id (bid)');
    if (extra !== undefined) throw usageError(`batch status takes one bid, but ${JSON.stringify(extra)} was also provided`);
    const body = await call(await ctx.connect(targetOf(values)), 'GET', `/v1/batches/${encodeURIComponent(bid)}`);
    if (values.json) return printJson(ctx.io, body);
    const total = Number(fieldOf(body, 'total') ?? 0);
    const pending = Number(fieldOf(body, 'pending') ?? 0);
    const state = fieldOf(body, 'sealed') === false ? 'filling (not sealed: no callback fires yet)'
      : fieldOf(body, 'success') === true ? 'succeeded' : fieldOf(body, 'complete') === true ? 'complete' : 'running';
    const children = fieldOf(body, 'children');
    const lines = [
      `batch        ${cell(fieldOf(body, 'bid'))}${fieldOf(body, 'description') === null ? '' : `  ${cell(fieldOf(body, 'description'))}`}`,
      `state        ${state}`,
      `created      ${cell(fieldOf(body, 'created_at'))}`,
      `jobs         ${total} total, ${total - pending} ran, ${pending} pending`,
      `             ${cell(fieldOf(body, 'succeeded'))} succeeded, ${cell(fieldOf(body, 'failures'))} failing, ${cell(fieldOf(body, 'dead'))} dead`,
      `children     ${cell(fieldOf(children, 'total'))} total, ${cell(fieldOf(children, 'complete'))} complete, ${cell(fieldOf(children, 'succeeded'))} succeeded`,
      `on complete  ${callbackText(body, 'complete')}`,
      `on success   ${callbackText(body, 'success')}`,
      `on death     ${callbackText(body, 'death')}`,
    ];
    ctx.io.stdout(`${lines.join('\n')}\n`);
  },
};
