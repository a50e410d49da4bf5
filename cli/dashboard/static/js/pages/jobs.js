/**
 * Find a job by its jid (`GET /v1/find/{jid}`): where it is in one line, a tracked job's progress
 * bar, message and result, an iterating job's slices, and its retry, scheduled and dead entries,
 * each linked to its set's page.
 */
import { get } from '../api.js';
import { h, num, replace, time } from '../dom.js';
import { lookupForm } from './lookup.js';

export const title = 'Find a job';

const STATE_CLASSES = { succeeded: 'ok', failed: 'bad', running: '' };

function progressView(tracked) {
  if (tracked.progress === null) return h('p', { class: 'muted' }, 'No progress reported (the handler did not call ctx.progress).');
  return h('div', { class: 'progress-block' },
    h('label', { for: 'job-progress' }, `${num(tracked.progress)}%${tracked.message === null ? '' : ` · ${tracked.message}`}`),
    h('progress', { id: 'job-progress', value: tracked.progress, max: 100 }));
}

function trackedView(tracked) {
  return h('section', { 'aria-labelledby': 'tracked-title' },
    h('h2', { id: 'tracked-title' }, 'Tracked state'),
    h('p', {}, h('span', { class: `pill ${STATE_CLASSES[tracked.state] ?? ''}` }, tracked.state), ` · attempt ${num(tracked.attempt)} · ${tracked.jobtype} on ${tracked.queue} · started `, time(tracked.started_at)),
    progressView(tracked),
    tracked.error === null ? null : h('p', {}, h('strong', {}, `${tracked.error.errtype}: `), tracked.error.message),
    tracked.result === null ? null : h('div', {}, h('h3', {}, 'Result'), h('pre', {}, JSON.stringify(tracked.result, null, 2))),
    tracked.result_error === null ? null : h('p', { class: 'muted' }, `No result kept: ${tracked.result_error}`));
}

function iterationView(iteration) {
  return h('section', { 'aria-labelledby': 'iteration-title' },
    h('h2', { id: 'iteration-title' }, 'Iteration'),
    h('dl', { class: 'cards' },
      h('div', { class: 'card' }, h('dt', {}, 'Items done'), h('dd', {}, num(iteration.items_done))),
      h('div', { class: 'card' }, h('dt', {}, 'Slices'), h('dd', {}, num(iteration.slices))),
      h('div', { class: 'card' }, h('dt', {}, 'State'), h('dd', {}, iteration.done ? 'done' : iteration.held_until === null ? 'waiting for its next slice' : 'a slice is running'))));
}

function entriesView(entries) {
  if (entries.length === 0) return null;
  return h('section', { 'aria-labelledby': 'entries-title' },
    h('h2', { id: 'entries-title' }, 'In the sets'),
    h('ul', {}, entries.map((entry) => h('li', {},
      h('a', { href: `#/${entry.set}?jobtype=${encodeURIComponent(entry.jobtype ?? '')}` }, entry.set), ': ',
      `${entry.jobtype ?? 'not a job'} on ${entry.queue ?? '?'}, `, entry.set === 'dead' ? ['died ', time(entry.failed_at)] : ['due ', time(entry.at)],
      entry.error === null ? '' : ` · ${entry.error.errtype}: ${entry.error.message}`,
      entry.job?.custom?.bid === undefined ? '' : [' · batch ', h('a', { href: `#/batches/${encodeURIComponent(entry.job.custom.bid)}` }, entry.job.custom.bid)]))));
}

function jobView(found) {
  return h('div', { class: 'job' },
    h('p', { id: 'job-summary' }, h('strong', {}, h('code', {}, found.jid)), ': ', found.summary),
    found.tracked === null ? null : trackedView(found.tracked),
    found.iteration === null ? null : iterationView(found.iteration),
    entriesView(found.entries));
}

export async function render(main, route) {
  const jid = route.segments[0] ?? '';
  const form = lookupForm({ page: 'jobs', label: 'Find a job', name: 'jid', value: jid, placeholder: { label: 'Job id (jid)', example: '3f1c…' }, button: 'Find' });
  const area = h('div', {}, jid === '' ? null : h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, title), h('p', { class: 'muted' }, 'Where a job is, by the jid the client returned: its retry, scheduled and dead entries, and its progress when it is tracked (custom.track or custom.result). A job waiting or running in SQS cannot be looked up.'), form, area);
  if (jid === '') return undefined;
  const refresh = async () => replace(area, jobView(await get(`/v1/find/${encodeURIComponent(jid)}`)));
  await refresh();
  return { refresh, refreshMs: 3000 };
}
