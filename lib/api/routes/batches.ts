/** `GET /v1/batches/{bid}`: where a batch stands (counts, callbacks, children), as lib/batch/status.ts reads it. */
import type { BatchStatus } from '../../batch/status.js';
import type { ApiContext } from '../context.js';
import type { BatchView } from '../wire.js';
import { badParameter, describeValue, json, notFound, type ApiResponse } from '../http.js';
import type { PathParams, Route } from '../router.js';

/** Bids are jids' kin: the same characters, so a bid never needs escaping in a key. */
const BID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The route. */
export function batchRoutes(ctx: ApiContext): Route[] {
  return [{ method: 'GET', path: '/v1/batches/{bid}', handle: (_request, params) => getBatch(ctx, params) }];
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
