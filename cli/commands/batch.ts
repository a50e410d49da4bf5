/** `hopper batch status <bid>`: where a batch stands; `hopper batch list`: the recent batches. */
import type { Command } from './command.js';
import { targetOf, type CommandContext } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { intOption, parseCommand } from './options.js';
import { renderTable } from './table.js';

const STATES = ['running', 'succeeded', 'failed'];

/** `hopper batch list`: a page of recent batches, newest first, and the command for the next. */
async function listBatches(values: Record<string, unknown>, ctx: CommandContext): Promise<void> {
  const limit = intOption(values.limit as string | undefined, 'limit', 1, 100) ?? 25;
  const state = values.state as string | undefined;
  if (state !== undefined && !STATES.includes(state)) throw usageError(`--state must be one of ${STATES.join(', ')}, but ${JSON.stringify(state)} was provided`);
  const query = new URLSearchParams({ limit: String(limit) });
  for (const name of ['q', 'state', 'cursor'] as const) {
    const value = values[name];
    if (typeof value === 'string' && value !== '') query.set(name, value);
  }
  const body = await call(await ctx.connect(targetOf(values)), 'GET', `/v1/batches?${query.toString()}`);
  if (values.json === true) return printJson(ctx.io, body);
  ctx.io.stdout(renderTable(listOf(body, 'batches'), [
    { header: 'BID', value: (batch) => cell(batch.bid) },
    { header: 'CREATED', value: (batch) => cell(batch.created_at) },
    { header: 'STATE', value: (batch) => (batch.success === true ? 'succeeded' : batch.complete === true ? 'failed' : 'running') },
    { header: 'RAN', value: (batch) => `${Number(batch.total) - Number(batch.pending)}/${cell(batch.total)}` },
    { header: 'DEAD', value: (batch) => cell(batch.dead) },
    { header: 'DESCRIPTION', value: (batch) => (batch.description === null ? '-' : cell(batch.description)), max: 60 },
  ], '(no batches)'));
  const cursor = fieldOf(body, 'cursor');
  if (typeof cursor === 'string') ctx.io.stderr(`more: hopper batch list --cursor '${cursor}'${query.has('q') ? ` --q '${query.get('q') ?? ''}'` : ''}${state === undefined ? '' : ` --state ${state}`}\n`);
}

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
  summary: 'the status of a batch, or the recent batches',
  usage: `Usage: hopper batch status <bid>
       hopper batch list [--q <text>] [--state running|succeeded|failed] [--limit 25] [--cursor <c>]

list shows the recent batches, newest first; --q keeps those whose bid or description contains the
text; when there are more, the command for the next page is printed on stderr.
`,
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, { q: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } });
    const [action, bid, extra] = positionals;
    if (action === 'list') {
      if (bid !== undefined) throw usageError(`batch list takes no arguments, but ${JSON.stringify(bid)} was provided`);
      return listBatches(values, ctx);
    }
    if (action !== 'status') throw usageError(`batch needs an action, status or list, but ${JSON.stringify(action ?? '')} was provided`);
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
