/**
 * Busy (`GET /v1/busy`): what runs now. Each queue's in-flight count (SQS), and the jobs that have
 * run longer than the report threshold, longest first, with their instance and progress. Shorter jobs
 * are counted, not listed: their workers write nothing for them.
 */
import { get } from '../api.js';
import { duration, h, meter, num, replace, table, time } from '../dom.js';

export const title = 'Busy';

const QUEUE_COLUMNS = [
  { header: 'Queue', cell: (queue) => h('a', { href: `#/queues` }, queue.name) },
  { header: 'In flight', class: 'n', cell: (queue) => num(queue.in_flight) },
  { header: 'Running long', class: 'n', cell: (queue) => num(queue.long_running) },
];

const JOB_COLUMNS = [
  { header: 'Jid', cell: (job) => h('a', { href: `#/jobs/${encodeURIComponent(job.jid)}` }, h('code', {}, job.jid)) },
  { header: 'Jobtype', cell: (job) => job.jobtype },
  { header: 'Queue', cell: (job) => job.queue },
  { header: 'Started', cell: (job) => time(job.started_at) },
  { header: 'Running for', class: 'n', cell: (job) => duration(job.elapsed_ms) },
  { header: 'Attempt', class: 'n', cell: (job) => num(job.attempt) },
  { header: 'Progress', cell: (job) => job.progress === undefined
    ? h('span', { class: 'muted' }, '–')
    : h('span', { class: 'progress-cell' }, meter(job.progress.percent, 100, `Progress of ${job.jid}`), ` ${num(job.progress.percent)}%${job.progress.message === undefined ? '' : ` · ${job.progress.message}`}`) },
  { header: 'Instance', cell: (job) => h('code', { title: `reported ${job.reported_at}` }, job.instance) },
];

export async function render(main) {
  const area = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, title), area);
  const refresh = async () => {
    const busy = await get('/v1/busy');
    const inFlight = busy.queues.reduce((sum, queue) => sum + queue.in_flight, 0);
    replace(area,
      h('p', { id: 'busy-freshness', class: 'muted' },
        `${num(inFlight)} in flight. Jobs are listed once they have run ${duration(busy.report_after_ms)}; their workers report them every ${duration(busy.report_every_ms)}, so the list is at most that old (answered `, time(busy.at), ').',
        busy.stale_reports > 0 ? ` ${num(busy.stale_reports)} report${busy.stale_reports === 1 ? '' : 's'} left out: the instance stopped without clearing it (a timeout or a crash).` : ''),
      h('section', { 'aria-labelledby': 'busy-jobs-title' },
        h('h2', { id: 'busy-jobs-title' }, 'Running long'),
        table(JOB_COLUMNS, busy.jobs, { empty: `No job has run longer than ${duration(busy.report_after_ms)}.`, key: (job) => job.jid })),
      h('section', { 'aria-labelledby': 'busy-queues-title' },
        h('h2', { id: 'busy-queues-title' }, 'Per queue'),
        table(QUEUE_COLUMNS, busy.queues, { empty: 'No queues.', key: (queue) => queue.name })));
  };
  await refresh();
  return { refresh, refreshMs: 5000 };
}
