/** `hopper flow status <id>`: a flow's steps with state and timing; `hopper flow retry <id>`: start it again from its failed steps. */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { renderTable } from './table.js';

const ACTIONS = ['status', 'retry'] as const;

/** The command. */
export const flowCommand: Command = {
  name: 'flow',
  summary: 'the status of a flow, or retry it from its failed steps',
  usage: `Usage: hopper flow status <id>
       hopper flow retry <id>

retry starts a failed flow again from the steps that failed (a new attempt of each); the steps that
succeeded do not run again, and the cancelled ones start once their parents settle.
`,
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    const [action, id, extra] = positionals;
    const known = ACTIONS.find((name) => name === action);
    if (known === undefined) throw usageError(`flow needs an action, status or retry, but ${JSON.stringify(action ?? '')} was provided`);
    if (id === undefined || id === '') throw usageError(`flow ${known} needs a flow id`);
    if (extra !== undefined) throw usageError(`flow ${known} takes one flow id, but ${JSON.stringify(extra)} was also provided`);
    const path = `/v1/flows/${encodeURIComponent(id)}`;
    const body = await call(await ctx.connect(targetOf(values)), known === 'retry' ? 'POST' : 'GET', known === 'retry' ? `${path}/retry` : path);
    if (values.json === true) return printJson(ctx.io, body);
    const failed = fieldOf(body, 'failed_step');
    const state = `${cell(fieldOf(body, 'status'))}${fieldOf(body, 'settled') === true ? '' : ' (steps running)'}${typeof failed === 'string' ? `, failed at ${failed}` : ''}`;
    const header = [
      `flow     ${cell(fieldOf(body, 'id'))}${fieldOf(body, 'description') === null ? '' : `  ${cell(fieldOf(body, 'description'))}`}`,
      `state    ${state}`,
      `retries  ${cell(fieldOf(body, 'retries'))}`,
      '',
    ];
    ctx.io.stdout(`${header.join('\n')}\n${renderTable(listOf(body, 'steps'), [
      { header: 'STEP', value: (step) => cell(step.name) },
      { header: 'JOBTYPE', value: (step) => cell(step.jobtype) },
      { header: 'STATE', value: (step) => cell(step.status) },
      { header: 'ATTEMPT', value: (step) => cell(step.attempt) },
      { header: 'AFTER', value: (step) => afterText(step.after) },
      { header: 'STARTED', value: (step) => (step.started_at === null ? '-' : cell(step.started_at)) },
      { header: 'TOOK', value: (step) => (typeof step.duration_ms === 'number' ? `${(step.duration_ms / 1000).toFixed(1)} s` : '-') },
    ], '(no steps)')}`);
  },
};

/** `fetch, parse (continue)`: the parents, with the policy of edges that do not fail the flow. */
function afterText(after: unknown): string {
  if (!Array.isArray(after) || after.length === 0) return '-';
  return after.map((edge) => {
    const policy = fieldOf(edge, 'on_failure');
    return `${cell(fieldOf(edge, 'step'))}${policy === 'fail' ? '' : ` (${cell(policy)})`}`;
  }).join(', ');
}
