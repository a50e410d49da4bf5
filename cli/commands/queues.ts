/** `hopper queues` (sizes, latency, paused) and `hopper queue pause|resume <queue>`. */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { renderTable } from './table.js';

/** `hopper queues`. */
export const queuesCommand: Command = {
  name: 'queues',
  summary: 'every queue: size, in flight, delayed, latency, paused, most jobs at once',
  usage: 'Usage: hopper queues\n',
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    if (positionals.length > 0) throw usageError(`queues takes no arguments, but ${JSON.stringify(positionals[0])} was provided (did you mean "hopper queue pause|resume <queue>"?)`);
    const body = await call(await ctx.connect(targetOf(values)), 'GET', '/v1/queues');
    if (values.json) return printJson(ctx.io, body);
    ctx.io.stdout(renderTable(listOf(body, 'queues'), [
      { header: 'QUEUE', value: (queue) => cell(queue.name) },
      { header: 'SIZE', value: (queue) => cell(queue.size) },
      { header: 'IN FLIGHT', value: (queue) => cell(queue.in_flight) },
      { header: 'DELAYED', value: (queue) => cell(queue.delayed) },
      { header: 'LATENCY', value: (queue) => (typeof queue.latency === 'number' ? `${queue.latency.toFixed(1)}s` : '-') },
      { header: 'PAUSED', value: (queue) => (queue.paused === null ? '(no worker)' : queue.paused === true ? 'yes' : 'no') },
      // The queue's maxConcurrency: jobs running at once across every invocation.
      { header: 'MAX CONCURRENCY', value: (queue) => (typeof queue.max_concurrency === 'number' ? `${queue.max_concurrency} jobs` : '-') },
    ], '(no queues)'));
  },
};

/** `hopper queue pause|resume <queue>`. */
export const queueCommand: Command = {
  name: 'queue',
  summary: 'pause or resume a queue (its worker stops or starts taking jobs)',
  usage: 'Usage: hopper queue pause|resume <queue>\n',
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    const [action, queue, extra] = positionals;
    if (action !== 'pause' && action !== 'resume') throw usageError(`queue needs an action, pause or resume, but ${JSON.stringify(action ?? '')} was provided`);
    if (queue === undefined || queue === '') throw usageError(`queue ${action} needs a queue name`);
    if (extra !== undefined) throw usageError(`queue ${action} takes one queue, but ${JSON.stringify(extra)} was also provided`);
    const body = await call(await ctx.connect(targetOf(values)), 'POST', `/v1/queues/${encodeURIComponent(queue)}/${action}`);
    if (values.json) return printJson(ctx.io, body);
    ctx.io.stdout(`queue ${queue} ${action === 'pause' ? 'paused' : 'resumed'} (mapping ${cell(fieldOf(body, 'mapping_state'))})\n`);
  },
};
