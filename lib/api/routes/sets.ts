/**
 * The sorted sets, Sidekiq's Retries, Scheduled and Dead pages: list (filtered by jobtype and
 * queue, cursor paging), retry one now, delete one, and retry or delete every entry matching a
 * filter, a bounded number per call with a cursor to continue (so a long operation shows progress).
 *
 * An entry's id is its sort key, `<13-digit time in epoch ms>#<jid>` (percent-encode the `#` in a
 * URL: `%23`). Retrying goes through `ScheduledJobs.runNow` (lib/admin/scheduled.ts) in every set:
 * claim the entry, send the job, delete the entry on the claim. An entry a sweep or another caller
 * is moving answers 409 (one entry) or is skipped (bulk) instead of being sent twice — two
 * operators retrying the whole dead set after an outage send each job once. A crash after the
 * claim leaves the entry for the next call once the claim lapses; only a crash between the send and
 * the delete can send a job twice, never lose one.
 *
 * Deleting from the scheduled and retry sets claims first too, as a sweep could be sending the
 * entry; the dead set has no sweep, so its entries are deleted directly.
 */
import type { WaitingJobAction, WaitingSetName } from '../../admin/scheduled.js';
import type { Job } from '../../job/model.js';
import { entryKeyCandidates, type ItemKey, type SortedSetName } from '../../storage/keys.js';
import type { SetEntry } from '../../storage/set-items.js';
import type { ApiContext } from '../context.js';
import { API_ERRORS, ApiError, badParameter, describeValue, intParameter, json, jsonBody, notFound, type ApiRequest, type ApiResponse } from '../http.js';
import type { PathParams, Route } from '../router.js';
import type { BulkView, SetCountsView, SetEntryRetryView, SetEntryView, SetPageView } from '../wire.js';

/** URL names of the sets. */
export const SET_PATHS = { retries: 'retry', scheduled: 'scheduled', dead: 'dead' } as const satisfies Record<string, SortedSetName>;

/** Page sizes. */
export const SET_PAGE = {
  defaultLimit: 50,
  maxLimit: 1000,
  /** Pages read per list call at most when a filter matches few entries; the page then ends early. */
  maxPagesPerList: 5,
  /** Entries a bulk call examines by default. */
  defaultBulkLimit: 100,
  /** Sends and deletes a bulk call runs at once. */
  bulkConcurrency: 10,
} as const;

/** Counting the sets: pages of 1 MB read per shard at most, and how long a count is kept. */
export const SET_COUNTS = {
  maxPagesPerShard: 2,
  keepMs: 30_000,
} as const;

/** The routes of every set. */
export function setRoutes(ctx: ApiContext): Route[] {
  let counted: { atMs: number; view: SetCountsView } | undefined;
  const count = (set: SortedSetName) => ctx.sets.countSet(set, SET_COUNTS.maxPagesPerShard);
  const countsRoute: Route = {
    method: 'GET',
    path: '/v1/sets/counts',
    handle: async () => {
      // A dashboard polls this; the shards are read at most once per SET_COUNTS.keepMs per instance.
      if (counted === undefined || ctx.now() - counted.atMs >= SET_COUNTS.keepMs) {
        const [retries, scheduled, dead] = await Promise.all([count('retry'), count('scheduled'), count('dead')]);
        const atMs = ctx.now();
        counted = { atMs, view: { retries, scheduled, dead, counted_at: new Date(atMs).toISOString() } };
      }
      return json(200, counted.view);
    },
  };
  return [countsRoute, ...setRoutesByName(ctx)];
}

function setRoutesByName(ctx: ApiContext): Route[] {
  return Object.entries(SET_PATHS).flatMap(([name, set]): Route[] => [
    { method: 'GET', path: `/v1/${name}`, handle: (request) => list(ctx, set, request) },
    { method: 'POST', path: `/v1/${name}/retry`, handle: (request) => bulk(ctx, set, request, 'retry') },
    { method: 'POST', path: `/v1/${name}/delete`, handle: (request) => bulk(ctx, set, request, 'delete') },
    { method: 'GET', path: `/v1/${name}/{id}`, handle: (_request, params) => getOne(ctx, set, params) },
    { method: 'DELETE', path: `/v1/${name}/{id}`, handle: (_request, params) => deleteOne(ctx, set, params) },
    { method: 'POST', path: `/v1/${name}/{id}/retry`, handle: (_request, params) => retryOne(ctx, set, params) },
  ]);
}

/** The sets a sweep moves from, whose entries must be claimed before they are run or deleted. */
function waitingSet(set: SortedSetName): WaitingSetName | undefined {
  return set === 'scheduled' || set === 'retry' ? set : undefined;
}

/** The answer to a claimed run now or delete that did not happen. */
function notDone(set: SortedSetName, id: string, action: Exclude<WaitingJobAction, 'done'>): ApiError {
  if (action === 'gone') return notFound(`no entry ${id} in the ${set} set`);
  return new ApiError(409, API_ERRORS.conflict, `entry ${id} is being moved to its queue by a sweep or another call right now`);
}

/** The dead set is shown newest first, as Sidekiq does; the others soonest first. */
function newestFirst(set: SortedSetName): boolean {
  return set === 'dead';
}

/**
 * The keys the entry `id` names may have: its jid's shard, then its shard under the set's former
 * count (lib/storage/keys.ts `entryKeyCandidates`). @throws ApiError 400 naming `parameter`.
 */
function keysOf(set: SortedSetName, id: string, parameter: string): ItemKey[] {
  const keys = entryKeyCandidates(set, id);
  if (keys === undefined) throw badParameter(parameter, 'an entry id, <13-digit epoch ms>#<jid>, as a list returns it', describeValue(id));
  return keys;
}

/** The entry `id` names, read from each key it may have until found. @throws ApiError 400 naming `parameter`. */
async function readEntry(ctx: ApiContext, set: SortedSetName, id: string, parameter: string): Promise<SetEntry | undefined> {
  for (const key of keysOf(set, id, parameter)) {
    const entry = await ctx.sets.getSetEntry(set, key);
    if (entry !== undefined) return entry;
  }
  return undefined;
}

interface Filter {
  readonly jobtype?: string;
  readonly queue?: string;
}

function matches(entry: SetEntry, filter: Filter): boolean {
  return (filter.jobtype === undefined || entry.jobtype === filter.jobtype) && (filter.queue === undefined || entry.queue === filter.queue);
}

/** An entry on the wire. */
export function entryView(entry: SetEntry): SetEntryView {
  const time = new Date(entry.epochMs).toISOString();
  return {
    id: entry.key.sk,
    jid: entry.jid,
    jobtype: entry.jobtype ?? null,
    queue: entry.queue ?? null,
    ...(entry.set === 'dead' ? { failed_at: time } : { at: time }),
    error: entry.reason === undefined ? null : { errtype: entry.reason.errtype, message: entry.reason.message },
    retry_count: entry.job?.failure?.retry_count ?? null,
    ...(entry.job === undefined ? {} : { job: entry.job }),
    ...(entry.raw === undefined ? {} : { raw: entry.raw }),
  };
}

function stringFilter(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > 256) throw badParameter(name, 'a string of 1 to 256 characters', describeValue(value));
  return value;
}

/** Reads entries matching `filter` after `cursor` until `limit` match or `maxPages` pages were read. */
async function scan(ctx: ApiContext, set: SortedSetName, filter: Filter, limit: number, cursor: string | undefined, maxPages: number): Promise<{ entries: SetEntry[]; scanned: number; cursor: string | undefined }> {
  const found: SetEntry[] = [];
  let after = cursor;
  let scanned = 0;
  for (let pages = 0; pages < maxPages; pages += 1) {
    const page = await ctx.sets.readSetRange(set, { limit, newestFirst: newestFirst(set), ...(after === undefined ? {} : { after }) });
    for (const entry of page.entries) {
      scanned += 1;
      after = entry.key.sk;
      if (matches(entry, filter)) found.push(entry);
      if (found.length === limit) return { entries: found, scanned, cursor: after };
    }
    if (page.cursor === undefined) return { entries: found, scanned, cursor: undefined };
  }
  return { entries: found, scanned, cursor: after };
}

async function list(ctx: ApiContext, set: SortedSetName, request: ApiRequest): Promise<ApiResponse> {
  const limit = intParameter(request, 'limit', 1, SET_PAGE.maxLimit, SET_PAGE.defaultLimit);
  const cursor = request.query.cursor;
  if (cursor !== undefined) keysOf(set, cursor, 'cursor');
  const filter = { jobtype: stringFilter(request.query.jobtype, 'jobtype'), queue: stringFilter(request.query.queue, 'queue') };
  const page = await scan(ctx, set, filter, limit, cursor, SET_PAGE.maxPagesPerList);
  return json(200, { entries: page.entries.map(entryView), scanned: page.scanned, cursor: page.cursor ?? null } satisfies SetPageView);
}

async function getOne(ctx: ApiContext, set: SortedSetName, params: PathParams): Promise<ApiResponse> {
  const id = params.id ?? '';
  const entry = await readEntry(ctx, set, id, 'id');
  if (entry === undefined) throw notFound(`no entry ${id} in the ${set} set`);
  return json(200, entryView(entry));
}

async function deleteOne(ctx: ApiContext, set: SortedSetName, params: PathParams): Promise<ApiResponse> {
  const id = params.id ?? '';
  const keys = keysOf(set, id, 'id');
  const waiting = waitingSet(set);
  if (waiting !== undefined) {
    const action = await ctx.waiting.delete(waiting, id);
    if (action !== 'done') throw notDone(set, id, action);
    return { statusCode: 204, headers: {}, body: '' };
  }
  let deleted: SetEntry | undefined;
  for (const key of keys) {
    deleted = await ctx.sets.deleteSetEntry(set, key);
    if (deleted !== undefined) break;
  }
  if (deleted === undefined) throw notFound(`no entry ${id} in the ${set} set`);
  ctx.logger.info('entry deleted', { set, id, jid: deleted.jid });
  return { statusCode: 204, headers: {}, body: '' };
}

/** The job to send for `entry`: due now, on its queue (a dead job keeps its failure, so it gets one more run). */
function runnable(ctx: ApiContext, entry: SetEntry): Job | string {
  if (entry.job === undefined) return 'the entry holds no valid job (its raw body is kept for inspection)';
  if (!Object.hasOwn(ctx.config.queueUrls, entry.job.queue)) return `queue ${JSON.stringify(entry.job.queue)} is not declared in this JobSystem`;
  const { at: _due, ...job } = entry.job;
  return job;
}

async function retryOne(ctx: ApiContext, set: SortedSetName, params: PathParams): Promise<ApiResponse> {
  const id = params.id ?? '';
  const entry = await readEntry(ctx, set, id, 'id');
  if (entry === undefined) throw notFound(`no entry ${id} in the ${set} set`);
  const job = runnable(ctx, entry);
  if (typeof job === 'string') throw new ApiError(409, API_ERRORS.conflict, `entry ${id} cannot be retried: ${job}`);
  const action = await ctx.waiting.runNow(set, id);
  if (action !== 'done') throw notDone(set, id, action);
  ctx.logger.info('entry retried', { set, id, jid: job.jid, queue: job.queue });
  return json(200, { id, jid: job.jid, queue: job.queue, enqueued: true, removed: true } satisfies SetEntryRetryView);
}

/** Runs `task` over `items`, at most `concurrency` at once. */
async function eachLimited<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      if (item !== undefined) await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

async function bulk(ctx: ApiContext, set: SortedSetName, request: ApiRequest, action: 'retry' | 'delete'): Promise<ApiResponse> {
  const body = jsonBody(request, false) ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badParameter('body', 'a JSON object with jobtype, queue, cursor, limit', describeValue(body));
  const fields = new Map(Object.entries(body));
  for (const field of fields.keys()) {
    if (!['jobtype', 'queue', 'cursor', 'limit'].includes(field)) throw badParameter(field, 'absent (a filter takes jobtype, queue, cursor, limit)');
  }
  const limit = fields.get('limit') ?? SET_PAGE.defaultBulkLimit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > SET_PAGE.maxLimit) throw badParameter('limit', `an integer from 1 to ${SET_PAGE.maxLimit}`, describeValue(limit));
  const cursor = stringFilter(fields.get('cursor'), 'cursor');
  if (cursor !== undefined) keysOf(set, cursor, 'cursor');
  const filter = { jobtype: stringFilter(fields.get('jobtype'), 'jobtype'), queue: stringFilter(fields.get('queue'), 'queue') };

  // One page of `limit` entries examined per call, matching or not: the call's cost is bounded.
  const page = await scan(ctx, set, filter, limit, cursor, 1);
  const counts = { scanned: page.scanned, matched: page.entries.length, done: 0, skipped: 0, failed: 0 };
  const failures: { id: string; reason: string }[] = [];
  const toRemove: SetEntry[] = [];
  const waiting = waitingSet(set);
  // Deleting from the dead set races nobody: no sweep moves it, and a deleted entry stays deleted.
  const move = action === 'retry'
    ? (id: string) => ctx.waiting.runNow(set, id)
    : waiting === undefined ? undefined : (id: string) => ctx.waiting.delete(waiting, id);
  if (move !== undefined) {
    // Claimed one by one, as the scheduler claims: two bulk calls at once (or a call and a sweep)
    // never both send an entry, and an entry a dead call claimed waits for its claim to lapse.
    await eachLimited(page.entries, SET_PAGE.bulkConcurrency, async (entry) => {
      if (action === 'retry' && typeof runnable(ctx, entry) === 'string') {
        counts.skipped += 1;
        return;
      }
      try {
        const result = await move(entry.key.sk);
        // Moving (another mover holds it) or gone (moved meanwhile): either way no longer this call's to move.
        if (result === 'done') counts.done += 1;
        else counts.skipped += 1;
      } catch (error) {
        failures.push({ id: entry.key.sk, reason: error instanceof Error ? error.message : String(error) });
      }
    });
  } else {
    toRemove.push(...page.entries);
  }
  await eachLimited(toRemove, SET_PAGE.bulkConcurrency, async (entry) => {
    try {
      // Gone already (moved by another caller) counts as done: the entry is no longer in the set.
      await ctx.sets.deleteSetEntry(set, entry.key);
      counts.done += 1;
    } catch (error) {
      failures.push({ id: entry.key.sk, reason: error instanceof Error ? error.message : String(error) });
    }
  });
  counts.failed = failures.length;
  ctx.logger.info(action === 'retry' ? 'entries retried' : 'entries deleted', { set, ...counts });
  return json(200, {
    scanned: counts.scanned,
    matched: counts.matched,
    [action === 'retry' ? 'retried' : 'deleted']: counts.done,
    skipped: counts.skipped,
    failed: failures,
    cursor: page.cursor ?? null,
    done: page.cursor === undefined,
  } satisfies BulkView);
}
