/**
 * `hopper limits` (every queue's per-tenant cap and the overrides in force), `hopper limits set
 * tenant:<id> concurrency=<n> rate=<n>/<interval> [--queue <q>]` and `hopper limits unset
 * tenant:<id> [--queue <q>]`: changes take effect within a minute, without a deploy.
 */
import { isRecord } from '../../lib/job/model.js';
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { renderTable } from './table.js';

const USAGE = `Usage: hopper limits
       hopper limits set tenant:<id> [concurrency=<n>] [rate=<n>/<second|minute|hour|day|<seconds>s>] [--queue <queue>]
       hopper limits unset tenant:<id> [--queue <queue>]

Per-tenant caps of the queues that declare perTenant. "set" replaces the tenant's override on
--queue, or on every such queue without it; workers apply it within a minute.
`;

/** `hopper limits`. */
export const limitsCommand: Command = {
  name: 'limits',
  summary: 'per-tenant caps: list them, override one tenant\'s at runtime',
  usage: USAGE,
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, { queue: { type: 'string' } });
    const [action, target, ...settings] = positionals;
    if (action !== undefined && action !== 'set' && action !== 'unset') throw usageError(`limits takes set or unset, but ${JSON.stringify(action)} was provided`);
    const api = await ctx.connect(targetOf(values));
    if (action === undefined) {
      const body = await call(api, 'GET', '/v1/limits/tenants');
      if (values.json) return printJson(ctx.io, body);
      const declared = fieldOf(body, 'declared');
      const rows: Readonly<Record<string, unknown>>[] = [
        ...Object.entries(isRecord(declared) ? declared : {}).map(([queue, cap]) => ({ tenant: '(every tenant)', queue, cap, updated_at: '' })),
        ...listOf(body, 'overrides').map((override) => ({ ...override, queue: override.queue ?? '(every capped queue)' })),
      ];
      ctx.io.stdout(renderTable(rows, [
        { header: 'TENANT', value: (row) => cell(row.tenant) },
        { header: 'QUEUE', value: (row) => cell(row.queue) },
        { header: 'CONCURRENCY', value: (row) => cell(isRecord(row.cap) ? row.cap.concurrency ?? '-' : '-') },
        { header: 'RATE', value: (row) => rateCell(isRecord(row.cap) ? row.cap.rate : undefined) },
        { header: 'SET AT', value: (row) => cell(row.updated_at) },
      ], '(no queue declares perTenant)'));
      if (fieldOf(body, 'truncated') === true) ctx.io.stdout('(more overrides than listed)\n');
      return undefined;
    }
    const tenant = tenantOf(target);
    const queue = values.queue;
    const path = `/v1/limits/tenants/${encodeURIComponent(tenant)}`;
    if (action === 'unset') {
      if (settings.length > 0) throw usageError(`limits unset takes no settings, but ${JSON.stringify(settings[0])} was provided`);
      await call(api, 'DELETE', queue === undefined ? path : `${path}?queue=${encodeURIComponent(queue)}`);
      if (values.json) return printJson(ctx.io, { tenant, queue: queue ?? null, removed: true });
      ctx.io.stdout(`override of tenant ${tenant} ${queue === undefined ? 'on every capped queue' : `on queue ${queue}`} removed\n`);
      return undefined;
    }
    const body = await call(api, 'PUT', path, { ...(queue === undefined ? {} : { queue }), ...settingsOf(settings) });
    if (values.json) return printJson(ctx.io, body);
    const cap = fieldOf(body, 'cap');
    const parts = isRecord(cap) ? [cap.concurrency === undefined ? undefined : `concurrency ${cell(cap.concurrency)}`, cap.rate === undefined ? undefined : `rate ${rateCell(cap.rate)}`] : [];
    ctx.io.stdout(`tenant ${tenant} ${queue === undefined ? 'on every capped queue' : `on queue ${queue}`}: ${parts.filter((part) => part !== undefined).join(', ')} (in force within a minute)\n`);
    return undefined;
  },
};

function tenantOf(target: string | undefined): string {
  if (target === undefined || !target.startsWith('tenant:') || target.length === 'tenant:'.length) {
    throw usageError(`limits set and unset need tenant:<id>, but ${JSON.stringify(target ?? '')} was provided`);
  }
  return target.slice('tenant:'.length);
}

/** `concurrency=20 rate=100/minute` as the API's body. */
function settingsOf(settings: readonly string[]): Record<string, unknown> {
  if (settings.length === 0) throw usageError('limits set needs concurrency=<n>, rate=<n>/<interval> or both');
  const body: Record<string, unknown> = {};
  for (const setting of settings) {
    const [name, value = ''] = setting.split('=', 2);
    if (name === 'concurrency') {
      if (!/^\d+$/.test(value)) throw usageError(`concurrency must be a whole number, but ${JSON.stringify(value)} was provided`);
      body.concurrency = Number(value);
    } else if (name === 'rate') {
      const match = /^(\d+)\/(second|minute|hour|day|(\d+)s)$/.exec(value);
      if (match === null) throw usageError(`rate must be <n>/<second|minute|hour|day|<seconds>s>, e.g. 100/minute, but ${JSON.stringify(value)} was provided`);
      body.rate = { limit: Number(match[1]), per: match[3] === undefined ? match[2] : Number(match[3]) };
    } else {
      throw usageError(`limits set takes concurrency=<n> and rate=<n>/<interval>, but ${JSON.stringify(setting)} was provided`);
    }
  }
  return body;
}

function rateCell(rate: unknown): string {
  if (!isRecord(rate)) return '-';
  const per = rate.per_seconds;
  const named = per === 1 ? 'second' : per === 60 ? 'minute' : per === 3600 ? 'hour' : per === 86_400 ? 'day' : `${cell(per)}s`;
  return `${cell(rate.limit)}/${named}`;
}
