/** Batches: look one up by its bid (the API has no list of batches) and see its progress. */
import { get } from '../api.js';
import { stackedBar } from '../chart.js';
import { h, num, replace, time } from '../dom.js';
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

export async function render(main, route) {
  const bid = route.segments[0] ?? '';
  const form = lookupForm({ page: 'batches', label: 'Find a batch', name: 'bid', value: bid, placeholder: { label: 'Batch id (bid)', example: '01JD4…' }, button: 'Show' });
  const area = h('div', {}, bid === '' ? null : h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, title), h('p', { class: 'muted' }, 'Look up a batch by its id: the client returns it when the batch is created, and a job in a batch carries it (custom.bid; the set pages link it).'), form, area);
  if (bid === '') return undefined;
  const refresh = async () => replace(area, batchView(await get(`/v1/batches/${encodeURIComponent(bid)}`)));
  await refresh();
  return { refresh, refreshMs: 5000 };
}
