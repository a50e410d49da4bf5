/**
 * `GET /v1/find/{jid}`: everywhere Hopper keeps something of a job — its tracked state, its
 * iteration, its entries in the retry, scheduled and dead sets — with one line saying where it is.
 *
 * Each set is sharded by the jid's hash, so one shard per set is read, with a filter on the jid: the
 * reads bill the shard's size (at most {@link FIND_LIMITS.maxPagesPerSet} pages of 1 MB each,
 * about 128 read units a page), not the job's. A job waiting or running in SQS (queued, delayed
 * within 15 minutes, in flight) cannot be looked up by jid, and an untracked job that succeeded
 * leaves nothing: the summary says so rather than "not found".
 */
import type { SortedSetName } from '../../storage/keys.js';
import type { IterationState } from '../../storage/iterations.js';
import type { JobStatus } from '../../storage/job-states.js';
import type { SetEntry } from '../../storage/set-items.js';
import type { ApiContext } from '../context.js';
import { json, type ApiResponse } from '../http.js';
import type { Route } from '../router.js';
import type { FindJobView, SetName } from '../wire.js';
import { statusView, validJid } from './jobs.js';
import { entryView } from './sets.js';

/** Bounds of a lookup. */
export const FIND_LIMITS = {
  /** Pages of one set's shard read at most (a page is at most 1 MB). */
  maxPagesPerSet: 8,
} as const;

/** The set's name on the wire. */
const WIRE_NAMES: Readonly<Record<SortedSetName, SetName>> = { retry: 'retries', scheduled: 'scheduled', dead: 'dead' };

/** The route. */
export function findRoutes(ctx: ApiContext): Route[] {
  return [{ method: 'GET', path: '/v1/find/{jid}', handle: (_request, params) => find(ctx, validJid(params.jid ?? '')) }];
}

async function find(ctx: ApiContext, jid: string): Promise<ApiResponse> {
  const sets = ['retry', 'scheduled', 'dead'] as const;
  const [tracked, iteration, ...found] = await Promise.all([
    ctx.jobStates.get(jid),
    ctx.iterations.get(jid),
    ...sets.map((set) => ctx.sets.findJob(set, jid, FIND_LIMITS.maxPagesPerSet)),
  ]);
  const entries = found.flatMap((result) => result.entries);
  const complete = found.every((result) => result.complete);
  return json(200, {
    jid,
    summary: summaryOf(tracked, iteration, entries, complete, ctx.now()),
    tracked: tracked === undefined ? null : statusView(tracked),
    iteration: iteration === undefined ? null : {
      slices: iteration.slices, items_done: iteration.items, done: iteration.done,
      held_until: iteration.heldUntilMs === undefined || iteration.heldUntilMs < ctx.now() ? null : new Date(iteration.heldUntilMs).toISOString(),
    },
    entries: entries.map((entry) => ({ set: WIRE_NAMES[entry.set], ...entryView(entry) })),
    complete,
  } satisfies FindJobView);
}

/** Where the job is, in one line; the sets first (they say what comes next), then its own records. */
function summaryOf(tracked: JobStatus | undefined, iteration: IterationState | undefined, entries: readonly SetEntry[], complete: boolean, nowMs: number): string {
  const parts = entries.map((entry) => {
    const at = new Date(entry.epochMs).toISOString();
    const error = entry.reason === undefined ? '' : `: ${entry.reason.errtype}: ${entry.reason.message}`;
    if (entry.set === 'dead') return `dead since ${at}${error}`;
    if (entry.set === 'retry') return `waiting to retry at ${at} (retry ${(entry.job?.failure?.retry_count ?? 0) + 1})${error}`;
    return `scheduled for ${at}`;
  });
  if (tracked !== undefined) {
    const progress = tracked.progress === undefined ? '' : `, ${tracked.progress}%${tracked.message === undefined ? '' : ` (${tracked.message})`}`;
    if (tracked.state === 'running') parts.push(`running: attempt ${tracked.attempt} since ${tracked.startedAt}${progress}`);
    else if (tracked.state === 'succeeded') parts.push(`succeeded at ${tracked.finishedAt ?? tracked.updatedAt}`);
    else parts.push(`attempt ${tracked.attempt} failed at ${tracked.finishedAt ?? tracked.updatedAt}${tracked.error === undefined ? '' : `: ${tracked.error.errtype}: ${tracked.error.message}`}${progress}`);
  }
  if (iteration !== undefined) {
    const held = iteration.heldUntilMs !== undefined && iteration.heldUntilMs >= nowMs;
    parts.push(iteration.done ? `iterated to its end in ${iteration.slices} slices (${iteration.items} items)`
      : `iterating: ${iteration.items} items done in ${iteration.slices} slices${held ? ', a slice running now' : ', waiting for its next slice'}`);
  }
  if (parts.length === 0) {
    return `not in the retry, scheduled or dead sets${complete ? '' : ' as far as they were read'}, and not tracked: a job waiting or running in SQS cannot be looked up by jid, and an untracked job that succeeded leaves no record`;
  }
  return `${parts.join('; ')}${complete ? '' : ' (a set was too large to read to its end: the job may also be there)'}`;
}
