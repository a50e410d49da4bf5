/**
 * `hopper redrive retries`: moves every message of the retries queue's dead-letter queue back to
 * the retries queue, a page per API call (`POST /v1/redrive/retries`) until the DLQ is empty.
 */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, CliError, cell, EXIT, fieldOf, listOf, printJson, usageError } from './io.js';
import { parseCommand } from './options.js';
import { progressBar } from './progress.js';

/** Messages one call moves. */
const PAGE = 100;
/** Calls that move nothing in a row before giving up (every message failed to send). */
const MAX_IDLE_CALLS = 3;

/** `hopper redrive retries`. */
export const redriveCommand: Command = {
  name: 'redrive',
  summary: "move the retries queue's dead-letter queue back to the retries queue",
  usage: 'Usage: hopper redrive retries\n',
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {});
    const [what, extra] = positionals;
    if (what !== 'retries') throw usageError(`redrive needs what to redrive, retries, but ${JSON.stringify(what ?? '')} was provided`);
    if (extra !== undefined) throw usageError(`redrive retries takes no more arguments, but ${JSON.stringify(extra)} was provided`);
    const api = await ctx.connect(targetOf(values));
    const bar = progressBar(ctx.io, 'redriving retries DLQ');
    const failed: { message_id: string; reason: string }[] = [];
    const totals = { moved: 0, lingering: 0, failed, kept: 0 };
    let idle = 0;
    try {
      for (;;) {
        const body = await call(api, 'POST', '/v1/redrive/retries', { limit: PAGE });
        const moved = Number(fieldOf(body, 'moved') ?? 0);
        totals.moved += moved;
        totals.lingering += Number(fieldOf(body, 'lingering') ?? 0);
        totals.kept += listOf(body, 'kept').length;
        for (const failure of listOf(body, 'failed')) totals.failed.push({ message_id: cell(failure.message_id), reason: cell(failure.reason) });
        bar.update(totals.moved, totals.moved, `failed ${totals.failed.length}`);
        if (fieldOf(body, 'done') === true) break;
        idle = moved === 0 ? idle + 1 : 0;
        if (idle >= MAX_IDLE_CALLS) break;
      }
    } finally {
      bar.finish();
    }
    if (values.json) printJson(ctx.io, totals);
    else {
      ctx.io.stdout(`moved ${totals.moved} messages back to the retries queue${totals.lingering > 0 ? ` (${totals.lingering} sent but not deleted: they may be moved twice)` : ''}\n`);
      // Seen once per call that met them; they stay in the DLQ (docs/operations.md).
      if (totals.kept > 0) ctx.io.stdout(`left ${totals.kept} batch-stream failure records in the DLQ: they are not jobs (see docs/operations.md)\n`);
    }
    if (totals.failed.length > 0) throw new CliError(`${totals.failed.length} messages could not be sent back and stay in the DLQ; first: ${totals.failed[0]?.reason ?? ''}`, EXIT.failed);
  },
};
