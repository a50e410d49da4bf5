/**
 * Limits and quotas: every configured quota bucket with its rule and what is left, the per-tenant
 * caps of the queues that declare them with the overrides in force (set and removed here, in force
 * within a minute), plus the tenants and limiters asked for by name (limiters are not listed by the
 * API: each is its own key).
 */
import { del, get, put } from '../api.js';
import { clearError, duration, field, h, meter, notify, num, replace, showError, table, time } from '../dom.js';
import { navigate } from '../route.js';

export const title = 'Limits and quotas';

function ruleText(rule) {
  if (rule === null) return h('span', { class: 'muted' }, 'no quota');
  if (rule === 'unlimited') return 'unlimited';
  return `${num(rule.limit)} per ${duration(rule.per_ms)}, burst ${num(rule.burst)}`;
}

function availableCell(bucket) {
  const state = bucket.state;
  if (state === null || state.available === undefined) return h('span', { class: 'muted' }, '–');
  return h('span', { class: 'meter' }, meter(state.available, state.capacity, `${bucket.scope} ${bucket.id}: ${state.available} of ${state.capacity} available`), ` ${num(state.available)} / ${num(state.capacity)}`);
}

function limiterState(state) {
  switch (state.type) {
    case 'concurrent': return `${num(state.in_use)} in use`;
    case 'window': return `${num(state.admitted)} admitted in the window${state.oldest === null ? '' : ', oldest '}`;
    case 'bucket': return `${num(state.count)} in the bucket of ${duration(state.interval_ms)}`;
    default: return state.available === undefined ? `busy until ${state.busy_until ?? '–'}` : `${num(state.available)} of ${num(state.capacity)} available`;
  }
}

const PER_SECONDS = { second: 1, minute: 60, hour: 3600, day: 86400 };

function rateText(rate) {
  if (rate === undefined) return h('span', { class: 'muted' }, '–');
  const named = Object.entries(PER_SECONDS).find(([, seconds]) => seconds === rate.per_seconds);
  return `${num(rate.limit)} per ${named === undefined ? duration(rate.per_seconds * 1000) : named[0]}`;
}

function capCells(cap) {
  return [cap.concurrency === undefined ? h('span', { class: 'muted' }, '–') : `${num(cap.concurrency)} at once`, rateText(cap.rate)];
}

/** The body of PUT /v1/limits/tenants/{tenant} from the form; only what was filled in. */
function overrideBody(data) {
  const body = {};
  const queue = String(data.get('cap_queue') ?? '');
  if (queue !== '') body.queue = queue;
  const concurrency = String(data.get('cap_concurrency') ?? '').trim();
  if (concurrency !== '') body.concurrency = Number(concurrency);
  const limit = String(data.get('cap_rate') ?? '').trim();
  if (limit !== '') body.rate = { limit: Number(limit), per: String(data.get('cap_per') ?? 'minute') };
  return body;
}

/** Declared caps, the overrides in force with a Remove button each, and a form to set one. */
function tenantCaps(caps, reload) {
  const queues = Object.keys(caps.declared);
  const section = h('section', { 'aria-labelledby': 'tenant-caps-title' }, h('h2', { id: 'tenant-caps-title' }, 'Per-tenant caps'));
  if (queues.length === 0) {
    section.append(h('p', { class: 'muted' }, 'No queue declares perTenant: jobs are not capped per tenant.'));
    return section;
  }
  const remove = async (override, button) => {
    button.disabled = true;
    try {
      await del(`/v1/limits/tenants/${encodeURIComponent(override.tenant)}${override.queue === null ? '' : `?queue=${encodeURIComponent(override.queue)}`}`);
      notify(`Override of tenant ${override.tenant} removed; workers apply it within a minute.`);
      await reload();
    } catch (error) {
      button.disabled = false;
      showError(error, `Removing the override of ${override.tenant}`);
    }
  };
  const form = h('form', {
    class: 'filters',
    'aria-label': 'Set a tenant override',
    onsubmit: async (event) => {
      event.preventDefault();
      const data = new FormData(event.currentTarget);
      const tenant = String(data.get('cap_tenant') ?? '').trim();
      try {
        clearError();
        const answer = await put(`/v1/limits/tenants/${encodeURIComponent(tenant)}`, overrideBody(data));
        notify(`Tenant ${answer.tenant} ${answer.queue === null ? 'on every capped queue' : `on queue ${answer.queue}`}: in force within a minute.`);
        await reload();
      } catch (error) {
        showError(error, `Setting the override of ${tenant === '' ? 'a tenant' : tenant}`);
      }
    },
  },
  field('Tenant', { name: 'cap_tenant', required: true, placeholder: 'acme' }),
  h('label', {}, 'Queue ', h('select', { name: 'cap_queue' }, h('option', { value: '' }, 'every capped queue'), queues.map((queue) => h('option', { value: queue }, queue)))),
  field('Concurrency', { name: 'cap_concurrency', type: 'number', min: 1, placeholder: '20' }),
  field('Rate', { name: 'cap_rate', type: 'number', min: 1, placeholder: '100' }),
  h('label', {}, 'per ', h('select', { name: 'cap_per' }, Object.keys(PER_SECONDS).map((per) => h('option', { value: per, selected: per === 'minute' }, per)))),
  h('button', { type: 'submit', class: 'primary' }, 'Set override'));
  section.append(
    h('p', { class: 'muted' }, 'A job over its tenant\'s cap waits on its queue and runs later; it is never failed. Overrides replace a tenant\'s cap without a deploy.'),
    table([
      { header: 'Queue', cell: (entry) => h('strong', {}, entry[0]) },
      { header: 'Concurrency', cell: (entry) => capCells(entry[1])[0] },
      { header: 'Rate', cell: (entry) => capCells(entry[1])[1] },
    ], Object.entries(caps.declared), { caption: 'Every tenant, unless overridden', key: (entry) => `declared:${entry[0]}` }),
    table([
      { header: 'Tenant', cell: (override) => h('strong', {}, override.tenant) },
      { header: 'Queue', cell: (override) => override.queue ?? h('span', { class: 'muted' }, 'every capped queue') },
      { header: 'Concurrency', cell: (override) => capCells(override.cap)[0] },
      { header: 'Rate', cell: (override) => capCells(override.cap)[1] },
      { header: 'Set', cell: (override) => time(override.updated_at) },
      { header: 'Actions', cell: (override) => h('button', { type: 'button', 'aria-label': `Remove the override of ${override.tenant}`, onclick: (event) => remove(override, event.currentTarget) }, 'Remove') },
    ], caps.overrides, { caption: 'Overrides', empty: 'No tenant has an override.', key: (override) => `override:${override.tenant}:${override.queue ?? '*'}` }),
    caps.truncated ? h('p', { class: 'muted' }, 'More overrides than listed.') : null,
    form);
  return section;
}

export async function render(main, route) {
  const tenant = route.query.get('tenant') ?? '';
  const limiter = route.query.get('limiter') ?? '';
  const [answer, caps] = await Promise.all([get('/v1/limits', { tenant, limiter }), get('/v1/limits/tenants')]);
  const reload = () => render(main, route);
  const form = h('form', {
    class: 'filters',
    'aria-label': 'Show tenants and limiters',
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.currentTarget);
      navigate('limits', [], { tenant: String(data.get('tenant') ?? '').trim(), limiter: String(data.get('limiter') ?? '').trim() });
    },
  },
  field('Tenants', { name: 'tenant', value: tenant, placeholder: 'acme, globex' }),
  field('Limiters', { name: 'limiter', value: limiter, placeholder: 'stripe, erp:42' }),
  h('button', { type: 'submit', class: 'primary' }, 'Show'));
  replace(main, h('h1', {}, title), form,
    h('section', { 'aria-labelledby': 'quotas-title' },
      h('h2', { id: 'quotas-title' }, 'Quotas'),
      h('p', {}, 'Default tenant quota: ', ruleText(answer.quotas.default)),
      table([
        { header: 'Scope', cell: (bucket) => bucket.scope },
        { header: 'Name', cell: (bucket) => h('strong', {}, bucket.id) },
        { header: 'Rule', cell: (bucket) => ruleText(bucket.rule) },
        { header: 'Available', cell: availableCell },
        { header: 'Refilled by', cell: (bucket) => time(bucket.state?.busy_until ?? null) },
      ], answer.quotas.buckets, { empty: 'No quotas are configured. Enqueues are limited only by backlog limits (see Queues).', key: (bucket) => `${bucket.scope}:${bucket.id}` })),
    tenantCaps(caps, reload),
    h('section', { 'aria-labelledby': 'limiters-title' },
      h('h2', { id: 'limiters-title' }, 'Limiters'),
      answer.limiters.length === 0
        ? h('p', { class: 'muted' }, 'Name limiters above to see their state (the names your workers pass to ctx.limiter).')
        : table([
          { header: 'Limiter', cell: (entry) => h('strong', {}, entry.name) },
          { header: 'State', cell: (entry) => (entry.state.length === 0 ? h('span', { class: 'muted' }, 'idle (no state stored)') : h('ul', { class: 'plain' }, entry.state.map((state) => h('li', {}, `${state.type}: `, limiterState(state), state.type === 'window' && state.oldest !== null ? time(state.oldest) : '')))) },
        ], answer.limiters, { key: (entry) => entry.name })));
  return undefined;
}
