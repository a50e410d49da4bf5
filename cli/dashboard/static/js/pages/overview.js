/** Overview: processed and failed totals, per-minute history, and every queue at a glance. */
import { get } from '../api.js';
import { lineChart } from '../chart.js';
import { h, num, replace, table } from '../dom.js';
import { failedShare } from '../rates.js';
import { navigate } from '../route.js';
import { QUEUE_COLUMNS } from './queues.js';

export const title = 'Overview';

const RANGES = [[60, 'last hour'], [360, 'last 6 hours'], [1440, 'last 24 hours'], [10080, 'last 7 days']];

function card(label, value, extra) {
  return h('div', { class: `card ${extra ?? ''}` }, h('dt', {}, label), h('dd', {}, value));
}

export async function render(main, route) {
  const minutes = Number(route.query.get('minutes') ?? 60);
  const select = h('select', { id: 'history-range', onchange: (event) => navigate('overview', [], { minutes: event.currentTarget.value }) },
    RANGES.map(([value, label]) => h('option', { value, selected: value === minutes }, label)));
  const area = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('div', { class: 'heading' }, h('h1', {}, title), h('span', { class: 'field' }, h('label', { for: 'history-range' }, 'History'), select)), area);
  const refresh = async () => {
    const [stats, { queues }, counts] = await Promise.all([get('/v1/stats', { minutes }), get('/v1/queues'), get('/v1/sets/counts')]);
    const setCard = (label, page, count) => card(label, h('a', { href: `#/${page}` }, `${num(count.count)}${count.capped ? '+' : ''}`), page === 'dead' && count.count > 0 ? 'bad' : '');
    const windowProcessed = stats.history.reduce((sum, point) => sum + point.processed, 0);
    const windowFailed = stats.history.reduce((sum, point) => sum + point.failed, 0);
    const sum = (key) => queues.reduce((acc, queue) => acc + (queue[key] ?? 0), 0);
    const per = stats.step_minutes === 60 ? 'hour' : 'minute';
    const rangeLabel = RANGES.find(([value]) => value === minutes)?.[1] ?? `last ${minutes} minutes`;
    replace(area,
      h('dl', { class: 'cards' },
        card('Processed', h('a', { href: '#/cohorts' }, num(stats.processed)), 'ok'),
        card('Failed', h('a', { href: '#/retries' }, num(stats.failed)), 'bad'),
        card('Enqueued', h('a', { href: '#/queues' }, num(sum('size')))),
        card('Busy', h('a', { href: '#/busy' }, num(sum('in_flight')))),
        card('Delayed', h('a', { href: '#/queues' }, num(sum('delayed')))),
        setCard('Retries', 'retries', counts.retries),
        setCard('Scheduled', 'scheduled', counts.scheduled),
        setCard('Dead', 'dead', counts.dead),
        card(`Failed, ${rangeLabel}`, failedShare(windowProcessed, windowFailed))),
      h('section', { 'aria-labelledby': 'history-title' },
        h('h2', { id: 'history-title' }, `Jobs per ${per}, ${rangeLabel}`),
        lineChart(stats.history, [
          { key: 'processed', label: `Processed (${num(windowProcessed)})`, class: 'processed' },
          { key: 'failed', label: `Failed (${num(windowFailed)})`, class: 'failed' },
        ], `Jobs per ${per}, ${rangeLabel}: ${windowProcessed} processed, ${windowFailed} failed`)),
      h('section', { 'aria-labelledby': 'queues-title' },
        h('h2', { id: 'queues-title' }, h('a', { href: '#/queues' }, 'Queues')),
        table(QUEUE_COLUMNS, queues, { empty: 'No queues.', key: (queue) => queue.name })));
  };
  await refresh();
  // A week's history is hourly: it changes slowly, and each read queries a week of rollups.
  return { refresh, refreshMs: minutes > 1440 ? 60_000 : 5000 };
}
