/**
 * `hopper retries|scheduled|dead`: list entries, retry or delete one, or retry or delete every
 * entry matching a filter. The bulk forms count the matching entries first (one listing pass) so
 * the progress bar has a total, then call the API's bulk route page by page, following its cursor
 * until it answers `done`.
 */
import type { Command, CommandContext } from './command.js';
import { targetOf } from './command.js';
import { call, CliError, cell, fieldOf, listOf, printJson, usageError, type ApiCaller } from './io.js';
import { intOption, parseCommand } from './options.js';
import { progressBar } from './progress.js';
import { renderTable } from './table.js';

/** Entries one bulk call examines: small enough for a lively bar, large enough to be quick. */
const BULK_PAGE = 100;
/** Entries per page while counting. */
const COUNT_PAGE = 1000;

const SET_LABELS = { retries: 'retry', scheduled: 'scheduled', dead: 'dead' } as const;
type SetPath = keyof typeof SET_LABELS;

interface Filter {
  readonly jobtype?: string | undefined;
  readonly queue?: string | undefined;
}

function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

function filterOf(filter: Filter): { jobtype?: string; queue?: string } {
  return { ...(filter.jobtype === undefined ? {} : { jobtype: filter.jobtype }), ...(filter.queue === undefined ? {} : { queue: filter.queue }) };
}

/** How many entries of `set` match `filter` now. */
async function countMatching(api: ApiCaller, set: SetPath, filter: Filter): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const body = await call(api, 'GET', `/v1/${set}${query({ ...filterOf(filter), limit: COUNT_PAGE, cursor })}`);
    count += listOf(body, 'entries').length;
    const next = fieldOf(body, 'cursor');
    cursor = typeof next === 'string' ? next : undefined;
  } while (cursor !== undefined);
  return count;
}

/** Totals of a bulk run. */
export interface BulkTotals {
  scanned: number;
  matched: number;
  done: number;
  skipped: number;
  failed: { id: string; reason: string }[];
}

function numberField(body: unknown, name: string): number {
  const value = fieldOf(body, name);
  return typeof value === 'number' ? value : 0;
}

/** Runs the bulk `action` over every entry of `set` matching `filter`, page by page. */
export async function runBulk(ctx: CommandContext, api: ApiCaller, set: SetPath, action: 'retry' | 'delete', filter: Filter): Promise<BulkTotals> {
  const total = await countMatching(api, set, filter);
  const verb = action === 'retry' ? 'retried' : 'deleted';
  const bar = progressBar(ctx.io, `${action === 'retry' ? 'retrying' : 'deleting'} ${set}`);
  const totals: BulkTotals = { scanned: 0, matched: 0, done: 0, skipped: 0, failed: [] };
  let cursor: string | undefined;
  bar.update(0, total, '');
  try {
    for (;;) {
      const body = await call(api, 'POST', `/v1/${set}/${action}`, { ...filterOf(filter), limit: BULK_PAGE, ...(cursor === undefined ? {} : { cursor }) });
      totals.scanned += numberField(body, 'scanned');
      totals.matched += numberField(body, 'matched');
      totals.done += numberField(body, verb);
      totals.skipped += numberField(body, 'skipped');
      for (const failure of listOf(body, 'failed')) totals.failed.push({ id: cell(failure.id), reason: cell(failure.reason) });
      bar.update(totals.matched, total, `${verb} ${totals.done}, skipped ${totals.skipped}, failed ${totals.failed.length}`);
      const next = fieldOf(body, 'cursor');
      if (fieldOf(body, 'done') === true || typeof next !== 'string') break;
      cursor = next;
    }
  } finally {
    bar.finish();
  }
  return totals;
}

function listTable(set: SetPath, body: unknown): string {
  const timeHeader = set === 'dead' ? 'FAILED AT' : 'DUE';
  return renderTable(listOf(body, 'entries'), [
    { header: 'ID', value: (entry) => cell(entry.id) },
    { header: 'JOBTYPE', value: (entry) => cell(entry.jobtype) },
    { header: 'QUEUE', value: (entry) => cell(entry.queue) },
    { header: timeHeader, value: (entry) => cell(set === 'dead' ? entry.failed_at : entry.at) },
    { header: 'RETRIES', value: (entry) => cell(entry.retry_count) },
    { header: 'ERROR', value: (entry) => { const error = entry.error; return typeof error === 'object' && error !== null ? `${cell(fieldOf(error, 'errtype'))}: ${cell(fieldOf(error, 'message'))}` : ''; }, max: 60 },
  ], `(the ${SET_LABELS[set]} set has no matching entries)`);
}

function setCommand(set: SetPath, summary: string): Command {
  return {
    name: set,
    summary,
    usage: `Usage: hopper ${set} list [--jobtype <t>] [--queue <q>] [--limit 50] [--cursor <id>]
       hopper ${set} retry|delete <id>
       hopper ${set} retry-all|delete-all [--jobtype <t>] [--queue <q>]

  <id>                 an entry's ID as list shows it (<ms>#<jid>)
  retry                send the job to its queue now${set === 'dead' ? ' (it keeps its failure record)' : ''}
  retry-all, delete-all  every entry matching the filter, with a progress bar on stderr
`,
    async run(args, ctx) {
      const { values, positionals } = parseCommand(args, { jobtype: { type: 'string' }, queue: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } });
      const [action, id, extra] = positionals;
      if (extra !== undefined) throw usageError(`${set} ${action ?? ''} takes at most one id, but ${JSON.stringify(extra)} was also provided`);
      const filter = { jobtype: values.jobtype, queue: values.queue };
      const needsId = action === 'retry' || action === 'delete';
      if (needsId && (id === undefined || id === '')) throw usageError(`${set} ${action} needs an entry id (hopper ${set} list shows them)`);
      if (!needsId && id !== undefined) throw usageError(`${set} ${action ?? 'list'} takes no id, but ${JSON.stringify(id)} was provided`);
      const limit = intOption(values.limit, 'limit', 1, 1000);
      if (action !== 'list' && action !== undefined && (limit !== undefined || values.cursor !== undefined)) throw usageError('--limit and --cursor apply to list only');

      switch (action) {
        case undefined:
        case 'list': {
          const api = await ctx.connect(targetOf(values));
          const body = await call(api, 'GET', `/v1/${set}${query({ ...filterOf(filter), limit: limit ?? 50, cursor: values.cursor })}`);
          if (values.json) return printJson(ctx.io, body);
          ctx.io.stdout(listTable(set, body));
          const cursor = fieldOf(body, 'cursor');
          if (typeof cursor === 'string') {
            // The same filter and page size, from where this page ended.
            const again = [['jobtype', values.jobtype], ['queue', values.queue], ['limit', values.limit]].flatMap(([name, value]) => (value === undefined ? [] : [`--${name} '${value}'`]));
            ctx.io.stdout(`more: hopper ${set} list ${[...again, `--cursor '${cursor}'`].join(' ')}\n`);
          }
          return;
        }
        case 'retry':
        case 'delete': {
          const api = await ctx.connect(targetOf(values));
          const path = `/v1/${set}/${encodeURIComponent(id ?? '')}`;
          const body = action === 'retry' ? await call(api, 'POST', `${path}/retry`) : await call(api, 'DELETE', path);
          if (values.json) return printJson(ctx.io, body ?? { id, deleted: true });
          ctx.io.stdout(action === 'retry' ? `retried ${cell(fieldOf(body, 'jid'))} on queue ${cell(fieldOf(body, 'queue'))}\n` : `deleted ${id ?? ''}\n`);
          return;
        }
        case 'retry-all':
        case 'delete-all': {
          const api = await ctx.connect(targetOf(values));
          const bulk = action === 'retry-all' ? 'retry' : 'delete';
          const totals = await runBulk(ctx, api, set, bulk, filter);
          const verb = bulk === 'retry' ? 'retried' : 'deleted';
          if (values.json) {
            printJson(ctx.io, { matched: totals.matched, [verb]: totals.done, skipped: totals.skipped, failed: totals.failed });
          } else {
            ctx.io.stdout(`${verb} ${totals.done} of ${totals.matched} matching entries (${totals.skipped} skipped, ${totals.failed.length} failed)\n`);
            for (const failure of totals.failed) ctx.io.stdout(`  failed ${failure.id}: ${failure.reason}\n`);
          }
          if (totals.failed.length > 0) throw new CliError(`${totals.failed.length} matching entries were not ${bulk === 'retry' ? 'retried' : 'deleted'}; run the command again to retry them`);
          return;
        }
        default:
          throw usageError(`${set} needs an action: list, retry, delete, retry-all or delete-all, but ${JSON.stringify(action)} was provided`);
      }
    },
  };
}

/** `hopper retries`, `hopper scheduled`, `hopper dead`. */
export const setCommands: readonly Command[] = [
  setCommand('retries', 'jobs waiting to retry: list, retry now, delete'),
  setCommand('scheduled', 'jobs scheduled for later: list, run now, delete'),
  setCommand('dead', 'jobs out of retries: list, retry, delete'),
];
