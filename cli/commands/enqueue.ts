/** `hopper enqueue <jobtype> [args-json] [--queue q] [--in 5m]`: one job through `POST /v1/jobs`. */
import { InvalidJobError } from '../../lib/errors/base.js';
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';

/** Parses the args argument: a JSON array. @throws CliError (usage) naming it. */
export function parseJobArgs(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usageError(`args must be a JSON array such as '["a@example.com", 42]', but ${JSON.stringify(text)} is not JSON`);
  }
  if (!Array.isArray(parsed)) throw usageError(`args must be a JSON array such as '["a@example.com", 42]', but ${JSON.stringify(text)} was provided`);
  return parsed;
}

/** The command. */
export const enqueueCommand: Command = {
  name: 'enqueue',
  summary: 'enqueue one job',
  usage: `Usage: hopper enqueue <jobtype> [args-json] [--queue <queue>] [--in <duration>]

  args-json            the job's arguments as a JSON array (default [])
  --queue <queue>      a declared queue (default: default)
  --in <duration>      run later: seconds or 90s, 15m, 3h, 2d
`,
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, { queue: { type: 'string' }, in: { type: 'string' } });
    const [jobtype, argsText, extra] = positionals;
    if (jobtype === undefined || jobtype === '') throw usageError('enqueue needs a jobtype');
    if (extra !== undefined) throw usageError(`enqueue takes a jobtype and one args-json, but ${JSON.stringify(extra)} was also provided (quote the JSON)`);
    const jobArgs = parseJobArgs(argsText);
    let at: string | undefined;
    if (values.in !== undefined) {
      // The client library is loaded for the one function the command needs from it, not for --help.
      const { parseDuration } = await import('../../lib/client/client.js');
      try {
        at = new Date(ctx.now() + parseDuration(values.in, 'in') * 1000).toISOString();
      } catch (error) {
        if (error instanceof InvalidJobError) throw usageError(`--in must be seconds or a duration such as 90s, 15m, 3h, 2d, but ${JSON.stringify(values.in)} was provided`);
        throw error;
      }
    }
    const job = { jobtype, args: jobArgs, ...(values.queue === undefined ? {} : { queue: values.queue }), ...(at === undefined ? {} : { at }) };
    const body = await call(await ctx.connect(targetOf(values)), 'POST', '/v1/jobs', job);
    if (values.json) return printJson(ctx.io, body);
    ctx.io.stdout(`enqueued ${cell(fieldOf(body, 'jid'))}${at === undefined ? '' : ` (due ${at})`}\n`);
  },
};
