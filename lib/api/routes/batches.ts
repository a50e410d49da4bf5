/**
 * `GET /v1/batches/{bid}`: where a batch stands (counts, callbacks, children), as lib/batch/status.ts reads it.
 * `GET /v1/batches?limit=25&cursor=&q=&state=`: recent batches, newest first (lib/batch/recent.ts),
 * each with its status; `q` keeps those whose bid or description contains it, `state` those running
 * (not complete), succeeded, or failed (complete with a dead job).
 * `GET /v1/batches/{bid}/jobs?status=failed,dead&limit=50&cursor=`: the batch's jobs in those
 * statuses, in jid order (lib/batch/members.ts).
 */
import type { BatchStatus } from '../../batch/status.js';
import type { ApiContext } from '../context.js';
import type { BatchesView, BatchJobsView, BatchView } from '../wire.js';
import { JOB_STATUSES, type JobStatus } from '../../batch/model.js';
import { isRecentBatchesCursor } from '../../batch/recent.js';
import { badParameter, describeValue, intParameter, json, notFound, type ApiRequest, type ApiResponse } from '../http.js';
import type { PathParams, Route } from '../router.js';

/** The statuses a batch's job items are listed by: a job gets its item with its first outcome. */
const LISTED_STATUSES: readonly string[] = Object.keys(JOB_STATUSES).filter((status) => status !== 'pending');

/** A jid as the batch's job items hold it. */
const JID_PATTERN = /^[^\s]{1,255}$/;

/** Bids are jids' kin: the same characters, so a bid never needs escaping in a key. */
const BID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The route. */
export function batchRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'GET', path: '/v1/batches', handle: (request) => listBatches(ctx, request) },
    { method: 'GET', path: '/v1/batches/{bid}', handle: (_request, params) => getBatch(ctx, params) },
    { method: 'GET', path: '/v1/batches/{bid}/jobs', handle: (request, params) => listJobs(ctx, request, params) },
  ];
}

async function listJobs(ctx: ApiContext, request: ApiRequest, params: PathParams): Promise<ApiResponse> {
  const bid = params.bid ?? '';
  if (!BID_PATTERN.test(bid)) throw badParameter('bid', "1 to 128 letters, digits, '.', '_', ':' or '-'", describeValue(bid));
  const statuses = (request.query.status ?? 'failed,dead').split(',').map((status) => status.trim()).filter((status) => status !== '');
  const unknown = statuses.find((status) => !LISTED_STATUSES.includes(status));
  if (statuses.length === 0 || unknown !== undefined) {
    throw badParameter('status', `a comma-separated list of ${LISTED_STATUSES.join(', ')} (a pending job has no item until its first outcome; the batch's pending counts them)`, describeValue(request.query.status ?? ''));
  }
  const limit = intParameter(request, 'limit', 1, 100, 50);
  const cursor = request.query.cursor;
  if (cursor !== undefined && !JID_PATTERN.test(cursor)) throw badParameter('cursor', 'the cursor of a previous page', describeValue(cursor));
  if ((await ctx.batches.getBatch(bid)) === undefined) throw notFound(`no batch ${bid} (it never existed, or expired after its retention)`);
  const page = await ctx.batches.listJobs(bid, { statuses: statuses as JobStatus[], limit, ...(cursor === undefined ? {} : { cursor }) });
  return json(200, { jobs: page.jobs.map((job) => ({ jid: job.jid, status: job.status, updated_at: job.updatedAt })), cursor: page.cursor ?? null } satisfies BatchJobsView);
}

/** What `state` may ask for, and whether a batch's status is in it. */
const STATES: Readonly<Record<string, (status: BatchStatus) => boolean>> = {
  running: (status) => !status.complete,
  succeeded: (status) => status.success,
  failed: (status) => status.complete && !status.success,
};

async function listBatches(ctx: ApiContext, request: ApiRequest): Promise<ApiResponse> {
  const limit = intParameter(request, 'limit', 1, 100, 25);
  const cursor = request.query.cursor;
  if (cursor !== undefined && !isRecentBatchesCursor(cursor)) throw badParameter('cursor', 'the cursor of a previous page', describeValue(cursor));
  const text = request.query.q;
  if (text !== undefined && text.length > 128) throw badParameter('q', 'at most 128 characters', `${text.length} characters`);
  const state = request.query.state;
  const inState = state === undefined || state === '' ? undefined : STATES[state];
  if (state !== undefined && state !== '' && inState === undefined) throw badParameter('state', `one of ${Object.keys(STATES).join(', ')}`, describeValue(state));
  const page = await ctx.batches.listRecent({ limit, ...(cursor === undefined ? {} : { cursor }), ...(text === undefined ? {} : { text }) });
  const statuses = await ctx.batches.getBatches(page.batches.map((batch) => batch.bid));
  // A batch that expired between the index read and its own is left out, as are those of another state.
  const batches = page.batches.map((batch) => statuses.get(batch.bid)).filter((status): status is BatchStatus => status !== undefined && (inState === undefined || inState(status)));
  return json(200, { batches: batches.map(view), scanned: page.batches.length, cursor: page.cursor ?? null } satisfies BatchesView);
}

async function getBatch(ctx: ApiContext, params: PathParams): Promise<ApiResponse> {
  const bid = params.bid ?? '';
  if (!BID_PATTERN.test(bid)) throw badParameter('bid', "1 to 128 letters, digits, '.', '_', ':' or '-'", describeValue(bid));
  const status = await ctx.batches.getBatch(bid);
  if (status === undefined) throw notFound(`no batch ${bid} (it never existed, or expired after its retention)`);
  return json(200, view(status));
}

/** The wire shape: snake_case like the rest of the API. */
function view(status: BatchStatus): BatchView {
  const callback = (event: keyof BatchStatus['callbacks']) => {
    const state = status.callbacks[event];
    return { configured: state.configured, fired_at: state.firedAt ?? null, sent_at: state.sentAt ?? null };
  };
  return {
    bid: status.bid,
    description: status.description ?? null,
    created_at: status.createdAt,
    total: status.total,
    pending: status.pending,
    succeeded: status.succeeded,
    failures: status.failures,
    dead: status.dead,
    complete: status.complete,
    success: status.success,
    completed_at: status.completedAt ?? null,
    succeeded_at: status.succeededAt ?? null,
    died_at: status.diedAt ?? null,
    callbacks: { complete: callback('complete'), success: callback('success'), death: callback('death') },
    parent_bid: status.parentBid ?? null,
    child_bids: status.childBids,
    children: status.children,
    sealed: status.sealed,
    open_fills: status.openFills,
  };
}
