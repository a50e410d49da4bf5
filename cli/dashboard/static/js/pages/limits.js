/**
 * Limits and quotas: every configured quota bucket with its rule and what is left, plus the
 * tenants and limiters asked for by name (limiters are not listed by the API: each is its own key).
 */
import { get } from '../api.js';
import { duration, field, h, meter, num, replace, table, time } from '../dom.js';
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

export async function render(main, route) {
  const tenant = route.query.get('tenant') ?? '';
  const limiter = route.query.get('limiter') ?? '';
  const answer = await get('/v1/limits', { tenant, limiter });
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
