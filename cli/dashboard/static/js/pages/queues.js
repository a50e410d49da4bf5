/** Queues: size, in flight, delayed, latency, paused; pause and resume; a tiered queue's tiers. */
import { get, post } from '../api.js';
import { duration, h, notify, num, replace, showError, table, time } from '../dom.js';

export const title = 'Queues';

/** What a queue's `paused` says: a worker's event source mapping is enabled or not. */
export function pausedText(queue) {
  if (queue.paused === null) return 'no worker';
  return queue.paused ? 'paused' : 'running';
}

/** The columns every queue table shows (the overview shows these alone). */
export const QUEUE_COLUMNS = [
  { header: 'Queue', cell: (queue) => h('strong', {}, queue.name) },
  { header: 'Size', class: 'n', cell: (queue) => num(queue.size) },
  { header: 'In flight', class: 'n', cell: (queue) => num(queue.in_flight) },
  { header: 'Delayed', class: 'n', cell: (queue) => num(queue.delayed) },
  { header: 'Latency', class: 'n', cell: (queue) => (queue.latency === null ? h('span', { class: 'muted', title: 'no worker report in the last two hours' }, '–') : duration(queue.latency * 1000)) },
  { header: 'State', cell: (queue) => h('span', { class: `pill ${pausedText(queue).replace(' ', '-')}` }, pausedText(queue)) },
];

function limitsText(queue) {
  if (queue.limits === undefined) return h('span', { class: 'muted' }, '–');
  const parts = [];
  if (queue.limits.max_backlog !== null) parts.push(`backlog ≤ ${num(queue.limits.max_backlog)}`);
  if (queue.limits.max_latency !== null) parts.push(`latency ≤ ${duration(queue.limits.max_latency * 1000)}`);
  return parts.join(', ');
}

async function toggle(queue, button, reload) {
  const action = queue.paused ? 'resume' : 'pause';
  button.disabled = true;
  try {
    const answer = await post(`/v1/queues/${encodeURIComponent(queue.name)}/${action}`);
    notify(`Queue ${answer.queue} ${answer.paused ? 'paused' : 'resumed'}.`);
    await reload();
  } catch (error) {
    button.disabled = false;
    // The queue's mapping is still changing from the last pause or resume: not a failure.
    if (error.code === 'busy') notify(`Queue ${queue.name} is still changing state; try again in a few seconds.`);
    else showError(error, `${action === 'pause' ? 'Pausing' : 'Resuming'} ${queue.name}`);
  }
}

function tierAge(tier) {
  const age = tier.age === null ? h('span', { class: 'muted', title: 'no worker report yet' }, '–') : duration(tier.age * 1000);
  return h('span', {}, age, ` of ${duration(tier.target_age * 1000)}`, tier.late ? [' ', h('span', { class: 'pill bad' }, 'late')] : null);
}

/** A tiered queue's tiers, most urgent first: the oldest job's age against its target, its share now. */
function tierTable(queue) {
  return table([
    { header: 'Tier', cell: (tier) => h('strong', {}, tier.name) },
    { header: 'Size', class: 'n', cell: (tier) => num(tier.size) },
    { header: 'In flight', class: 'n', cell: (tier) => num(tier.in_flight) },
    { header: 'Oldest job', cell: tierAge },
    { header: 'Concurrency now', class: 'n', cell: (tier) => (tier.max_jobs === null ? '–' : `${num(tier.max_jobs)} jobs`) },
  ], queue.tiers, { caption: `Tiers of ${queue.name} (a governor shares its ${queue.max_concurrency ?? '?'} jobs among them)`, key: (tier) => `${queue.name}.${tier.name}` });
}

export async function render(main) {
  const area = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, title), h('p', { class: 'muted' }, 'Latency is how long the most recently started job waited, as its worker reported it. Pausing a queue stops its worker taking jobs; jobs keep arriving.'), area);
  const refresh = async () => {
    const { queues } = await get('/v1/queues');
    replace(area, table([
      ...QUEUE_COLUMNS,
      { header: 'Drain', class: 'n', cell: (queue) => (queue.drain_per_second === null ? '–' : `${queue.drain_per_second.toFixed(1)}/s`) },
      { header: 'Latency seen', cell: (queue) => time(queue.latency_observed_at) },
      { header: 'Backlog limits', cell: limitsText },
      {
        header: 'Actions',
        cell: (queue) => (queue.paused === null ? '' : h('button', {
          type: 'button',
          class: queue.paused ? 'primary' : '',
          'aria-label': `${queue.paused ? 'Resume' : 'Pause'} queue ${queue.name}`,
          onclick: (event) => toggle(queue, event.currentTarget, refresh),
        }, queue.paused ? 'Resume' : 'Pause')),
      },
    ], queues, { caption: `${queues.length} queue${queues.length === 1 ? '' : 's'}`, empty: 'No queues.', key: (queue) => queue.name }),
    queues.filter((queue) => Array.isArray(queue.tiers)).map(tierTable));
  };
  await refresh();
  return { refresh, refreshMs: 5000 };
}
