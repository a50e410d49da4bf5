/** The status of a batch as `Client.getBatch` (and the dashboard) shows it. Pure. */
import { isComplete, isSuccess } from './callbacks.js';
import type { BatchState, CallbackEvent } from './model.js';

/** One callback of a batch. */
export interface CallbackStatus {
  /** True when the batch has a callback job for this event. */
  readonly configured: boolean;
  /** When the event was claimed (the callback fired), ISO-8601. */
  readonly firedAt?: string;
  /** When the callback job was sent to its queue, ISO-8601. */
  readonly sentAt?: string;
}

/** Where a batch stands. Counts are of the batch's own jobs; `children` counts child batches. */
export interface BatchStatus {
  readonly bid: string;
  readonly description?: string;
  readonly createdAt: string;
  /** Jobs added. */
  readonly total: number;
  /** Jobs that have not finished a first run. */
  readonly pending: number;
  readonly succeeded: number;
  /** Jobs whose last run failed and that have not succeeded since (dead ones included). */
  readonly failures: number;
  /** Jobs in the dead set. */
  readonly dead: number;
  /** True when every job has run once and every child batch is complete. */
  readonly complete: boolean;
  /** True when every job and every child batch succeeded. */
  readonly success: boolean;
  /** When `complete` fired (and `success`, `death`), ISO-8601. */
  readonly completedAt?: string;
  readonly succeededAt?: string;
  readonly diedAt?: string;
  readonly callbacks: Readonly<Record<CallbackEvent, CallbackStatus>>;
  readonly parentBid?: string;
  readonly childBids: readonly string[];
  readonly children: { readonly total: number; readonly complete: number; readonly succeeded: number; readonly dead: number };
  /** False while the producer is still adding jobs (until `Batch.seal`): no callback fires before. */
  readonly sealed: boolean;
  /** Fills (`Batch.jobs`) in progress, besides the producer's before it seals. */
  readonly openFills: number;
}

/** The status of `state`. */
export function batchStatus(state: BatchState): BatchStatus {
  const { counters, claimedAt } = state;
  const callback = (event: CallbackEvent): CallbackStatus => {
    const firedAt = claimedAt[event];
    const sentAt = state.sentAt[event];
    return {
      configured: state.callbacks[event] !== undefined,
      ...(firedAt === undefined ? {} : { firedAt }),
      ...(sentAt === undefined ? {} : { sentAt }),
    };
  };
  return {
    bid: state.bid,
    ...(state.description === undefined ? {} : { description: state.description }),
    createdAt: state.createdAt,
    total: counters.total,
    pending: counters.pending,
    succeeded: counters.succeeded,
    failures: counters.failures,
    dead: counters.dead,
    complete: isComplete(counters),
    success: isSuccess(counters),
    ...(claimedAt.complete === undefined ? {} : { completedAt: claimedAt.complete }),
    ...(claimedAt.success === undefined ? {} : { succeededAt: claimedAt.success }),
    ...(claimedAt.death === undefined ? {} : { diedAt: claimedAt.death }),
    callbacks: { complete: callback('complete'), success: callback('success'), death: callback('death') },
    ...(state.parent === undefined ? {} : { parentBid: state.parent }),
    childBids: state.childBids,
    children: { total: counters.children, complete: counters.children_complete, succeeded: counters.children_succeeded, dead: counters.children_dead },
    sealed: state.sealed,
    openFills: counters.open - (state.sealed ? 0 : 1),
  };
}
