/**
 * The dashboard's shell: a hash router (`#/dead?jobtype=X`), the navigation's current page, and
 * auto-refresh for the pages that ask for it. Each page module exports `title` and
 * `render(main, route)`, which may resolve `{ refresh, refreshMs }`.
 */
import { get } from './api.js';
import { clearError, h, replace, showError } from './dom.js';
import * as batches from './pages/batches.js';
import * as busy from './pages/busy.js';
import * as cohorts from './pages/cohorts.js';
import * as crons from './pages/crons.js';
import * as flows from './pages/flows.js';
import * as jobs from './pages/jobs.js';
import * as limits from './pages/limits.js';
import * as overview from './pages/overview.js';
import * as queues from './pages/queues.js';
import { setPage } from './pages/sets.js';
import { currentRoute } from './route.js';

const PAGES = {
  overview,
  queues,
  busy,
  retries: setPage('retries'),
  scheduled: setPage('scheduled'),
  dead: setPage('dead'),
  batches,
  jobs,
  crons,
  flows,
  limits,
  cohorts,
};

let timer;
let generation = 0;

function schedule(page) {
  clearInterval(timer);
  const auto = document.getElementById('auto-refresh');
  if (page?.refresh === undefined || !auto.checked) return;
  timer = setInterval(() => {
    if (document.hidden) return;
    page.refresh().catch((error) => showError(error, 'Refreshing'));
  }, page.refreshMs ?? 5000);
}

let current;
let shownName;

async function render() {
  const route = currentRoute();
  const page = PAGES[route.name];
  const mine = ++generation;
  clearInterval(timer);
  clearError();
  // A notice reports what an action did; it stays while the same page renders again after it.
  if (route.name !== shownName) replace(document.getElementById('notice'));
  shownName = route.name;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${route.name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  if (page === undefined) {
    document.title = 'Not found · Hopper';
    replace(main, h('h1', {}, 'Not found'), h('p', {}, `There is no page "${route.name}". `, h('a', { href: '#/overview' }, 'Go to the overview.')));
    return;
  }
  document.title = `${page.title} · Hopper`;
  replace(main, h('h1', {}, page.title), h('p', { class: 'muted' }, 'Loading…'));
  try {
    const result = await page.render(main, route);
    if (mine !== generation) return;
    current = result;
    schedule(current);
  } catch (error) {
    if (mine !== generation) return;
    replace(main, h('h1', {}, page.title));
    showError(error, `Loading ${page.title}`);
  }
}

/**
 * Badges in the navigation: the sets' counts, and the jobs running now (SQS's in-flight count of
 * every queue). An API without a route shows no badge for it.
 */
async function badges() {
  const [sets, busy] = await Promise.allSettled([get('/v1/sets/counts'), get('/v1/busy')]);
  const counts = sets.status === 'fulfilled' ? { ...sets.value } : {};
  if (busy.status === 'fulfilled') counts.busy = { count: busy.value.queues.reduce((sum, queue) => sum + queue.in_flight, 0), capped: false };
  // Badges are a convenience: the pages say the same, so a failed call only leaves its badges as they were.
  for (const badge of document.querySelectorAll('#nav .badge')) {
    const source = badge.dataset.count === 'busy' ? busy : sets;
    if (source.status !== 'fulfilled') continue;
    const count = counts[badge.dataset.count];
    badge.textContent = count === undefined || count.count === 0 ? '' : `${count.count.toLocaleString('en-US')}${count.capped ? '+' : ''}`;
  }
}

document.getElementById('auto-refresh').addEventListener('change', () => schedule(current));
badges();
setInterval(() => { if (!document.hidden) badges(); }, 30_000);
window.addEventListener('hashchange', badges);
// The skip link moves focus to the page; following its href would change the route.
document.querySelector('a.skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', render);
render();
