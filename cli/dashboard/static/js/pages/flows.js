/**
 * A flow (`#/flows/<id>`): its status, and its DAG drawn in columns by depth — each step in the
 * column after its deepest parent, with its state, attempt, timing and the edges it waits on.
 * Without an id, a form to look one up.
 */
import { get } from '../api.js';
import { duration, h, replace, time } from '../dom.js';
import { lookupForm } from './lookup.js';

export const title = 'Flow';

const PILL = { succeeded: 'ok', started: 'running', failed: 'bad', cancelled: 'paused', waiting: '' };

/** Each step's column: 0 for a root, else one more than its deepest parent's. */
function depths(steps) {
  const byName = new Map(steps.map((step) => [step.name, step]));
  const depth = new Map();
  const of = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    const step = byName.get(name);
    // The API answers a validated, acyclic plan; a name seen twice on one path is not followed again.
    const parents = step === undefined || seen.has(name) ? [] : step.after.map((edge) => edge.step);
    const value = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((parent) => of(parent, new Set([...seen, name]))));
    depth.set(name, value);
    return value;
  };
  for (const step of steps) of(step.name);
  return depth;
}

function stepCard(step) {
  const timing = step.duration_ms !== null ? `ran ${duration(step.duration_ms)}` : step.started_at !== null ? 'running' : '';
  return h('li', { class: 'card', 'data-step': step.name },
    h('p', {}, h('strong', {}, step.name), ' ', h('span', { class: `pill ${PILL[step.status] ?? ''}` }, step.status)),
    h('p', { class: 'muted' }, step.jobtype, step.attempt > 1 ? ` · attempt ${step.attempt}` : '', timing === '' ? '' : ` · ${timing}`),
    step.after.length === 0 ? null : h('p', { class: 'muted' }, `after ${step.after.map((edge) => `${edge.step}${edge.on_failure === 'fail' ? '' : ` (${edge.on_failure})`}`).join(', ')}`),
    step.started_at === null ? null : h('p', { class: 'muted' }, 'started ', time(step.started_at)));
}

export async function render(main, route) {
  const [id] = route.segments;
  const form = lookupForm({ page: 'flows', label: 'Find a flow', name: 'flow', value: id ?? '', placeholder: { label: 'Flow id', example: 'import-42' }, button: 'Show' });
  if (id === undefined) {
    replace(main, h('h1', {}, title), form, h('p', { class: 'muted' }, 'Enter the id client.flow returned.'));
    return undefined;
  }
  const flow = await get(`/v1/flows/${encodeURIComponent(id)}`);
  const depth = depths(flow.steps);
  const columns = Math.max(0, ...depth.values()) + 1;
  const lanes = Array.from({ length: columns }, (_, column) => h('ol', { class: 'plain flow-column', 'aria-label': `Steps at depth ${column + 1}` },
    flow.steps.filter((step) => depth.get(step.name) === column).map(stepCard)));
  replace(main, h('h1', {}, `${title} ${flow.id}`), form,
    h('p', {}, h('span', { class: `pill ${PILL[flow.status] ?? ''}` }, flow.status),
      flow.description === null ? '' : ` ${flow.description}`,
      flow.failed_step === null ? '' : ` · failed at ${flow.failed_step}`,
      ` · created `, time(flow.created_at),
      flow.finished_at === null ? '' : [' · finished ', time(flow.finished_at)]),
    h('section', { 'aria-labelledby': 'flow-steps-title' }, h('h2', { id: 'flow-steps-title' }, 'Steps, each after its parents'), h('div', { class: 'flow-dag' }, lanes)));
  return undefined;
}
