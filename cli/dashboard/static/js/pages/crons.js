/** Cron: every declared cron with its last and next run; trigger one now. */
import { get, post } from '../api.js';
import { h, notify, replace, showError, table, time } from '../dom.js';

export const title = 'Cron';

async function trigger(cron, button) {
  button.disabled = true;
  try {
    const answer = await post(`/v1/crons/${encodeURIComponent(cron.name)}/trigger`);
    notify(`Cron ${answer.cron} triggered: enqueued ${answer.jid} on queue ${answer.queue}.`);
  } catch (error) {
    showError(error, `Triggering ${cron.name}`);
  } finally {
    button.disabled = false;
  }
}

export async function render(main) {
  const { crons } = await get('/v1/crons');
  replace(main, h('h1', {}, title),
    h('p', { class: 'muted' }, 'Triggering enqueues the cron\'s job now; its schedule is unchanged.'),
    table([
      { header: 'Name', cell: (cron) => h('strong', {}, cron.name) },
      { header: 'Schedule', cell: (cron) => h('span', {}, h('code', {}, cron.schedule), ' ', h('span', { class: 'muted' }, cron.timezone)) },
      { header: 'Job', cell: (cron) => h('span', {}, cron.jobtype, ' ', h('code', {}, JSON.stringify(cron.args))) },
      { header: 'Queue', cell: (cron) => cron.queue },
      { header: 'Last run', cell: (cron) => time(cron.last_run_at) },
      { header: 'Next run', cell: (cron) => time(cron.next_run_at) },
      { header: 'Actions', cell: (cron) => h('button', { type: 'button', 'aria-label': `Trigger now ${cron.name}`, onclick: (event) => trigger(cron, event.currentTarget) }, 'Trigger now') },
    ], crons, { empty: 'No crons are declared.', key: (cron) => cron.name }));
  return undefined;
}
