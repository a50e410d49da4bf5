/**
 * Retries, Scheduled and Dead: entries filtered by jobtype and queue, a page at a time along the
 * API's cursor; retry (run now) or delete one; retry or delete every entry matching the filter.
 */
import { del, get, post } from '../api.js';
import { clip, field, h, notify, num, replace, showError, table, time } from '../dom.js';
import { navigate } from '../route.js';

const SETS = {
  retries: { title: 'Retries', when: 'Next retry', timeKey: 'at', run: 'Retry now', runAll: 'Retry all matching', ran: 'retried' },
  scheduled: { title: 'Scheduled', when: 'Due', timeKey: 'at', run: 'Run now', runAll: 'Run all matching now', ran: 'sent to its queue' },
  dead: { title: 'Dead', when: 'Died', timeKey: 'failed_at', run: 'Retry', runAll: 'Retry all matching', ran: 'retried' },
};

const PAGE_SIZE = 25;

/**
 * Retries and Scheduled: the jobs that wait in SQS with a delay, per queue. A retry due within 15
 * minutes and a job scheduled within 15 minutes wait there, not in the set: without this a user
 * looking for one would think it lost.
 */
function delayedNote(set, queues) {
  if (set === 'dead') return null;
  const delayed = queues.filter((queue) => (queue.delayed ?? 0) > 0);
  const total = delayed.reduce((sum, queue) => sum + queue.delayed, 0);
  return h('p', { class: 'banner info', id: 'delayed-note' },
    total === 0 ? 'No job waits in SQS with a delay right now. '
      : `${num(total)} job${total === 1 ? '' : 's'} wait${total === 1 ? 's' : ''} in SQS with a delay (${delayed.map((queue) => `${queue.name}: ${num(queue.delayed)}`).join(', ')}). `,
    'Retries and scheduled jobs due within 15 minutes wait there, not in this set: they run when due, and SQS cannot list them one by one (a queue with listScheduled keeps its scheduled jobs here instead).');
}

/** `every entry`, or `every entry with jobtype X and queue Y`. */
function describeFilter(filter) {
  const parts = [];
  if (filter.jobtype) parts.push(`jobtype ${filter.jobtype}`);
  if (filter.queue) parts.push(`queue ${filter.queue}`);
  return parts.length === 0 ? 'every entry' : `every entry with ${parts.join(' and ')}`;
}

function jobCell(entry) {
  const bid = entry.job?.custom?.bid;
  return h('details', {},
    h('summary', {}, h('code', { class: 'jid' }, entry.jid)),
    h('p', {}, h('a', { href: `#/jobs/${encodeURIComponent(entry.jid)}` }, 'Where else it is')),
    bid === undefined ? null : h('p', {}, 'Batch ', h('a', { href: `#/batches/${encodeURIComponent(bid)}` }, bid)),
    h('pre', {}, JSON.stringify(entry.job ?? entry.raw ?? entry, null, 2)));
}

function errorCell(entry) {
  if (entry.error === null) return h('span', { class: 'muted' }, '–');
  return clip(`${entry.error.errtype}: ${entry.error.message}`, 70);
}

/** Runs a bulk action page by page along the cursor, showing progress in `status`. */
async function bulk(set, action, filter, status) {
  const totals = { scanned: 0, done: 0, skipped: 0, failed: 0 };
  const verb = action === 'retry' ? 'retried' : 'deleted';
  let cursor;
  for (;;) {
    const answer = await post(`/v1/${set}/${action}`, { ...filter, ...(cursor === undefined ? {} : { cursor }) });
    totals.scanned += answer.scanned;
    totals.done += answer[verb] ?? 0;
    totals.skipped += answer.skipped ?? 0;
    totals.failed += answer.failed?.length ?? 0;
    replace(status, `${verb} ${num(totals.done)} (${num(totals.scanned)} examined)… `, h('progress', { 'aria-label': `${verb} so far` }));
    if (answer.done || answer.cursor === null) break;
    cursor = answer.cursor;
  }
  replace(status);
  return { ...totals, verb };
}

/** The page of one set (`retries`, `scheduled`, `dead`). */
export function setPage(set) {
  const copy = SETS[set];
  return {
    title: copy.title,
    async render(main, route) {
      const filter = { jobtype: route.query.get('jobtype') ?? '', queue: route.query.get('queue') ?? '' };
      const cursor = route.query.get('cursor') ?? '';
      const apiFilter = Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== ''));
      const [page, { queues }] = await Promise.all([
        get(`/v1/${set}`, { ...apiFilter, cursor, limit: PAGE_SIZE }),
        get('/v1/queues'),
      ]);

      const queueSelect = h('select', { id: 'f-queue', name: 'queue' },
        h('option', { value: '' }, 'any queue'),
        queues.map((queue) => h('option', { value: queue.name, selected: queue.name === filter.queue }, queue.name)));
      const form = h('form', {
        class: 'filters',
        role: 'search',
        'aria-label': `Filter ${copy.title.toLowerCase()}`,
        onsubmit: (event) => {
          event.preventDefault();
          const data = new FormData(event.currentTarget);
          navigate(set, [], { jobtype: String(data.get('jobtype') ?? '').trim(), queue: String(data.get('queue') ?? '') });
        },
      },
      field('Jobtype', { name: 'jobtype', value: filter.jobtype, placeholder: 'any jobtype' }),
      h('span', { class: 'field' }, h('label', { for: 'f-queue' }, 'Queue'), queueSelect),
      h('button', { type: 'submit', class: 'primary' }, 'Filter'),
      h('button', { type: 'button', onclick: () => navigate(set) }, 'Clear'));

      const status = h('p', { class: 'progress-line', role: 'status' });
      const runBulk = async (action, button) => {
        const what = describeFilter(apiFilter);
        const label = action === 'retry' ? copy.runAll : 'Delete all matching';
        if (!window.confirm(`${label}: ${what} in ${copy.title}. Continue?`)) return;
        button.disabled = true;
        try {
          const result = await bulk(set, action, apiFilter, status);
          notify(`${label}: ${result.verb} ${num(result.done)} (${what}; ${num(result.scanned)} examined, ${num(result.skipped)} skipped, ${num(result.failed)} failed).`);
          navigate(set, [], filter);
        } catch (error) {
          showError(error, label);
        } finally {
          button.disabled = false;
        }
      };
      const bulkActions = h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: (event) => runBulk('retry', event.currentTarget) }, copy.runAll),
        h('button', { type: 'button', class: 'danger', onclick: (event) => runBulk('delete', event.currentTarget) }, 'Delete all matching'));

      const rowAction = async (entry, action, button) => {
        const row = button.closest('tr');
        for (const other of row.querySelectorAll('button')) other.disabled = true;
        const path = `/v1/${set}/${encodeURIComponent(entry.id)}`;
        try {
          if (action === 'retry') {
            const answer = await post(`${path}/retry`);
            notify(`Job ${answer.jid} ${copy.ran} (queue ${answer.queue}).`);
          } else {
            await del(path);
            notify(`Job ${entry.jid} deleted.`);
          }
          row.remove();
        } catch (error) {
          for (const other of row.querySelectorAll('button')) other.disabled = false;
          showError(error, `${action === 'retry' ? copy.run : 'Delete'} ${entry.jid}`);
        }
      };

      const rows = table([
        { header: copy.when, cell: (entry) => time(entry[copy.timeKey]) },
        { header: 'Job', cell: (entry) => h('strong', {}, entry.jobtype ?? '(invalid)') },
        { header: 'Queue', cell: (entry) => entry.queue ?? '–' },
        { header: 'Arguments', cell: (entry) => h('code', {}, clip(JSON.stringify(entry.job?.args ?? []), 40)) },
        { header: 'Retries', class: 'n', cell: (entry) => num(entry.retry_count) },
        { header: 'Error', cell: errorCell },
        { header: 'JID', cell: jobCell },
        {
          header: 'Actions',
          cell: (entry) => h('span', { class: 'row-actions' },
            h('button', { type: 'button', 'aria-label': `${copy.run} ${entry.jid}`, onclick: (event) => rowAction(entry, 'retry', event.currentTarget) }, copy.run),
            h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${entry.jid}`, onclick: (event) => rowAction(entry, 'delete', event.currentTarget) }, 'Delete')),
        },
      ], page.entries, {
        caption: `${page.entries.length} entr${page.entries.length === 1 ? 'y' : 'ies'} on this page (${num(page.scanned)} examined)`,
        empty: apiFilter.jobtype || apiFilter.queue ? 'No entries match this filter on this page.' : `The ${copy.title.toLowerCase()} set is empty.`,
        key: (entry) => entry.id,
      });

      const paging = h('nav', { class: 'paging', 'aria-label': 'Pages' },
        cursor === '' ? null : h('button', { type: 'button', onclick: () => navigate(set, [], filter) }, 'First page'),
        page.cursor === null ? null : h('button', { type: 'button', onclick: () => navigate(set, [], { ...filter, cursor: page.cursor }) }, 'Next page'));

      replace(main, h('div', { class: 'heading' }, h('h1', {}, copy.title), bulkActions), delayedNote(set, queues), form, status, rows, paging);
      return undefined;
    },
  };
}
