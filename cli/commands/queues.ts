/** `hopper queues` (sizes, latency, paused) and `hopper queue pause|resume <queue>`. */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { isRecord } from '../../lib/job/model.js';
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
    // A tiered queue's tiers follow it, most urgent first, their latency the oldest job's age against its target.
    const rows: Readonly<Record<string, unknown>>[] = listOf(body, 'queues').flatMap((queue) => [queue, ...(Array.isArray(queue.tiers) ? queue.tiers.filter(isRecord).map((tier) => ({ ...tier, tierOf: queue.name })) : [])]);
    ctx.io.stdout(renderTable(rows, [
      { header: 'QUEUE', value: (row) => (row.tierOf === undefined ? cell(row.name) : `${cell(row.tierOf)}.${cell(row.name)}`) },
      { header: 'SIZE', value: (row) => cell(row.size) },
      { header: 'IN FLIGHT', value: (row) => cell(row.in_flight) },
      { header: 'DELAYED', value: (row) => cell(row.delayed) },
      { header: 'LATENCY', value: (row) => (row.tierOf === undefined ? (typeof row.latency === 'number' ? `${row.latency.toFixed(1)}s` : '-') : tierAge(row)) },
      { header: 'PAUSED', value: (row) => (row.tierOf !== undefined ? '' : row.paused === null ? '(no worker)' : row.paused === true ? 'yes' : 'no') },
      // The queue's maxConcurrency: jobs running at once across every invocation; a tier's share now.
      { header: 'MAX CONCURRENCY', value: (row) => (typeof row.max_concurrency === 'number' ? `${row.max_concurrency} jobs` : typeof row.max_jobs === 'number' ? `${row.max_jobs} jobs now` : '-') },
    ], '(no queues)'));
  },
};

/** A tier's oldest job's age against its target: `1.5s of 5s`, `12.0s of 5s LATE`. */
function tierAge(tier: Readonly<Record<string, unknown>>): string {
  const target = typeof tier.target_age === 'number' ? `${tier.target_age}s` : '?';
  const age = typeof tier.age === 'number' ? `${tier.age.toFixed(1)}s` : '-';
  return `${age} of ${target}${tier.late === true ? ' LATE' : ''}`;
}

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
