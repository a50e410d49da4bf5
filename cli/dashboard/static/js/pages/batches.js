/**
 * Batches: the recent ones, newest first, filtered by text and state and paged (`GET /v1/batches`);
 * or one looked up by its bid, with its progress.
 */
import { get } from '../api.js';
import { stackedBar } from '../chart.js';
import { field, h, meter, num, replace, table, time } from '../dom.js';
import { navigate } from '../route.js';
import { lookupForm } from './lookup.js';

export const title = 'Batches';

function state(batch) {
  if (batch.success) return ['succeeded', 'ok'];
  if (batch.complete) return ['complete, with failures', 'bad'];
  if (batch.dead > 0) return ['running, some jobs died', 'bad'];
  return ['running', ''];
}

function callbacks(batch) {
  const rows = Object.entries(batch.callbacks ?? {});
  if (rows.length === 0) return h('p', { class: 'muted' }, 'No callbacks.');
  return h('ul', {}, rows.map(([name, callback]) => h('li', {}, h('strong', {}, name), ': ',
    callback.configured ? (callback.fired_at === null ? 'not fired yet' : h('span', {}, 'fired ', time(callback.fired_at))) : 'not configured')));
}

function batchView(batch) {
  const [stateText, stateClass] = state(batch);
  const ran = batch.total - batch.pending;
  return h('section', { class: 'batch', 'aria-labelledby': 'batch-title' },
    h('h2', { id: 'batch-title' }, 'Batch ', h('code', {}, batch.bid), batch.description ? ` · ${batch.description}` : ''),
    h('p', {}, h('span', { class: `pill ${stateClass}` }, stateText), ` · created `, time(batch.created_at)),
    h('div', { class: 'progress-block' },
      h('label', { for: 'batch-progress' }, `${num(ran)} of ${num(batch.total)} jobs ran`),
      h('progress', { id: 'batch-progress', value: ran, max: Math.max(1, batch.total) }),
      stackedBar([
        { value: batch.succeeded, class: 'done', label: 'Succeeded' },
        { value: batch.failures, class: 'pending', label: 'Failing' },
        { value: batch.dead, class: 'dead', label: 'Dead' },
      ], batch.total, `${batch.succeeded} succeeded, ${batch.failures} failing, ${batch.dead} dead of ${batch.total}`),
      h('p', { class: 'legend' }, h('span', { class: 'key done' }, 'succeeded'), h('span', { class: 'key pending' }, 'failing'), h('span', { class: 'key dead' }, 'dead'))),
    h('dl', { class: 'cards' },
      ...[['Total', batch.total], ['Pending', batch.pending], ['Succeeded', batch.succeeded], ['Failing', batch.failures], ['Dead', batch.dead]]
        .map(([label, value]) => h('div', { class: 'card' }, h('dt', {}, label), h('dd', {}, num(value))))),
    h('h3', {}, 'Callbacks'), callbacks(batch),
    batch.parent_bid === null && (batch.child_bids ?? []).length === 0 ? null : h('div', {},
      h('h3', {}, 'Related batches'),
      batch.parent_bid === null ? null : h('p', {}, 'Parent ', h('a', { href: `#/batches/${encodeURIComponent(batch.parent_bid)}` }, batch.parent_bid)),
      (batch.child_bids ?? []).length === 0 ? null : h('p', {}, `Children (${num(batch.children.complete)} of ${num(batch.children.total)} complete): `,
        batch.child_bids.map((bid, index) => [index === 0 ? '' : ', ', h('a', { href: `#/batches/${encodeURIComponent(bid)}` }, bid)]))));
}

/** The batch's failing and dead jobs, each linked to where it is (its retry or dead entry, with its error). */
function failuresView(page) {
  return h('section', { 'aria-labelledby': 'failures-title' },
    h('h3', { id: 'failures-title' }, 'Failing and dead jobs'),
    table([
      { header: 'Jid', cell: (job) => h('a', { href: `#/jobs/${encodeURIComponent(job.jid)}` }, h('code', {}, job.jid)) },
      { header: 'Status', cell: (job) => h('span', { class: `pill ${job.status === 'dead' ? 'bad' : ''}` }, job.status === 'failed' ? 'failing (retries left)' : 'dead') },
      { header: 'Since', cell: (job) => time(job.updated_at) },
    ], page.jobs, { empty: 'None: no job of this batch has failed.', key: (job) => job.jid }),
    page.cursor === null ? null : h('p', { class: 'muted' }, 'The first 50 are shown; GET /v1/batches/{bid}/jobs lists the rest along its cursor.'));
}

const LIST_COLUMNS = [
  { header: 'Batch', cell: (batch) => h('a', { href: `#/batches/${encodeURIComponent(batch.bid)}` }, h('code', {}, batch.bid)) },
  { header: 'Description', cell: (batch) => batch.description ?? h('span', { class: 'muted' }, '–') },
  { header: 'Created', cell: (batch) => time(batch.created_at) },
  { header: 'State', cell: (batch) => { const [text, cls] = state(batch); return h('span', { class: `pill ${cls}` }, text); } },
  { header: 'Progress', cell: (batch) => h('span', { class: 'progress-cell' }, meter(batch.total - batch.pending, batch.total, `Jobs of ${batch.bid} that ran`), ` ${num(batch.total - batch.pending)} of ${num(batch.total)}`) },
  { header: 'Dead', class: 'n', cell: (batch) => num(batch.dead) },
];

const STATES = [['', 'any state'], ['running', 'running'], ['succeeded', 'succeeded'], ['failed', 'complete, with failures']];

function listFilters(query) {
  const stateSelect = h('select', { id: 'f-state', name: 'state' }, STATES.map(([value, label]) => h('option', { value, selected: value === (query.get('state') ?? '') }, label)));
  return h('form', {
    class: 'filters',
    role: 'search',
    'aria-label': 'Filter recent batches',
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.currentTarget);
      const next = {};
      for (const name of ['q', 'state']) {
        const value = String(data.get(name) ?? '').trim();
        if (value !== '') next[name] = value;
      }
      navigate('batches', [], next);
    },
  }, field('Bid or description contains', { name: 'q', value: query.get('q') ?? '' }),
  h('span', { class: 'field' }, h('label', { for: 'f-state' }, 'State'), stateSelect),
  h('button', { type: 'submit' }, 'Filter'));
}

function pageHref(query) {
  const params = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== undefined));
  const text = params.toString();
  return `#/batches${text === '' ? '' : `?${text}`}`;
}

async function renderList(main, route) {
  const area = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const form = lookupForm({ page: 'batches', label: 'Find a batch', name: 'bid', value: '', placeholder: { label: 'Batch id (bid)', example: '01JD4…' }, button: 'Show' });
  replace(main, h('h1', {}, title), form, h('section', { 'aria-labelledby': 'recent-title' }, h('h2', { id: 'recent-title' }, 'Recent batches'), listFilters(route.query), area));
  const params = {};
  for (const name of ['q', 'state', 'cursor']) if (route.query.get(name)) params[name] = route.query.get(name);
  const refresh = async () => {
    const page = await get('/v1/batches', params);
    const next = page.cursor === null ? null : { ...params, cursor: page.cursor };
    replace(area,
      table(LIST_COLUMNS, page.batches, { empty: page.cursor === null ? 'No batches.' : 'None on this page; there are more.', key: (batch) => batch.bid }),
      h('p', { class: 'pager' },
        params.cursor === undefined ? null : h('a', { href: pageHref({ ...params, cursor: undefined }) }, 'Newest'),
        next === null ? null : [' ', h('a', { href: pageHref(next), id: 'batches-next' }, 'Next page')]));
  };
  await refresh();
  return { refresh, refreshMs: 10_000 };
}

export async function render(main, route) {
  const bid = route.segments[0] ?? '';
  if (bid === '') return renderList(main, route);
  const form = lookupForm({ page: 'batches', label: 'Find a batch', name: 'bid', value: bid, placeholder: { label: 'Batch id (bid)', example: '01JD4…' }, button: 'Show' });
  const area = h('div', {}, bid === '' ? null : h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, title), h('p', {}, h('a', { href: '#/batches' }, 'Recent batches')), form, area);
  const refresh = async () => {
    const batch = await get(`/v1/batches/${encodeURIComponent(bid)}`);
    const failing = batch.failures + batch.dead > 0 ? await get(`/v1/batches/${encodeURIComponent(bid)}/jobs`, { status: 'failed,dead', limit: 50 }) : { jobs: [], cursor: null };
    replace(area, batchView(batch), failuresView(failing));
  };
  await refresh();
  return { refresh, refreshMs: 5000 };
}
