/**
 * Cohorts: jobs grouped by the minute they were enqueued (`GET /v1/stats/cohorts`): how many
 * started, how they ended (done, dead, still pending), failed attempts, and how long they waited
 * to start (enqueued_at → first start). An API without the route answers 404: the page says so.
 */
import { ApiError, get } from '../api.js';
import { stackedBar } from '../chart.js';
import { duration, h, num, replace, table } from '../dom.js';
import { navigate } from '../route.js';

export const title = 'Cohorts';

const RANGES = [[60, 'last hour'], [360, 'last 6 hours'], [1440, 'last 24 hours']];

function minuteText(iso) {
  const date = new Date(iso);
  return h('time', { datetime: iso, title: date.toLocaleString() }, `${date.toLocaleDateString('en-CA')} ${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`);
}

export async function render(main, route) {
  const minutes = Number(route.query.get('minutes') ?? 60);
  const select = h('select', { id: 'cohort-range', onchange: (event) => navigate('cohorts', [], { minutes: event.currentTarget.value }) },
    RANGES.map(([value, label]) => h('option', { value, selected: value === minutes }, label)));
  const heading = h('div', { class: 'heading' }, h('h1', {}, title), h('span', { class: 'field' }, h('label', { for: 'cohort-range' }, 'Enqueued in the'), select));
  const intro = h('p', { class: 'muted' }, 'Jobs by the minute they were enqueued: of those that started, how many are done, dead or still pending; failed attempts; and how long they waited to start.');
  let answer;
  try {
    answer = await get('/v1/stats/cohorts', { minutes });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replace(main, heading, h('div', { class: 'banner info', role: 'note' },
        h('p', {}, h('strong', {}, 'Cohort stats are not available from this API version. '), 'The API answered 404 to GET /v1/stats/cohorts; deploy a newer Hopper to see them.')));
      return undefined;
    }
    throw error;
  }
  const cohorts = answer.cohorts;
  const widest = Math.max(1, ...cohorts.map((cohort) => cohort.started));
  const ms = (value) => duration(value);
  replace(main, heading, intro, table([
    { header: 'Enqueued', cell: (cohort) => minuteText(cohort.minute) },
    { header: 'Started', class: 'n', cell: (cohort) => num(cohort.started) },
    { header: 'Done', class: 'n', cell: (cohort) => num(cohort.done) },
    { header: 'Pending', class: 'n', cell: (cohort) => num(cohort.pending) },
    { header: 'Dead', class: 'n', cell: (cohort) => num(cohort.dead) },
    {
      header: 'Outcome',
      class: 'bar-cell',
      cell: (cohort) => stackedBar([
        { value: cohort.done, class: 'done', label: 'Done' },
        { value: cohort.pending, class: 'pending', label: 'Pending' },
        { value: cohort.dead, class: 'dead', label: 'Dead' },
      ], widest, `${cohort.done} done, ${cohort.pending} pending, ${cohort.dead} dead of ${cohort.started} started`),
    },
    { header: 'Failed attempts', class: 'n', cell: (cohort) => num(cohort.failed) },
    { header: 'Wait p50', class: 'n', cell: (cohort) => ms(cohort.latency_ms?.p50) },
    { header: 'p90', class: 'n', cell: (cohort) => ms(cohort.latency_ms?.p90) },
    { header: 'p99', class: 'n', cell: (cohort) => ms(cohort.latency_ms?.p99) },
    { header: 'max', class: 'n', cell: (cohort) => ms(cohort.latency_ms?.max) },
  ], cohorts, {
    caption: `${cohorts.length} minute${cohorts.length === 1 ? '' : 's'} with enqueued jobs, newest first`,
    empty: 'No job was enqueued in this range.',
    key: (cohort) => cohort.minute,
  }), h('p', { class: 'legend' }, h('span', { class: 'key done' }, 'done'), h('span', { class: 'key pending' }, 'pending'), h('span', { class: 'key dead' }, 'dead')));
  return undefined;
}
