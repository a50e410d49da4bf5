/**
 * When a batch's callbacks are due, and the jobs they enqueue. Pure: the batch function applies
 * these rules to each stream image of a batch item.
 *
 * - *complete*: every job has run once (succeeded or failed at least once) and every child batch
 *   is complete: `pending = 0`, `children_complete = children`, nothing being filled (`open = 0`),
 *   and the batch is not empty (a batch with no job and no child never fires, so one that is still
 *   being set up does not either).
 * - *success*: complete, and every job succeeded (`failures = 0`) and every child succeeded.
 * - *death*: a job of the batch, or of a child batch, is in the dead set. Fires once.
 */
import { UnrecoverableJobError } from '../errors/base.js';
import { isRecord, newJid, type JobInput } from '../job/model.js';
import { CALLBACK_EVENTS, type BatchState, type CallbackEvent, type Counter } from './model.js';

/** True when every job has run once and every child batch is complete. */
export function isComplete(counters: Readonly<Record<Counter, number>>): boolean {
  return counters.total + counters.children > 0
    && counters.open <= 0
    && counters.pending <= 0
    && counters.children_complete >= counters.children;
}

/** True when the batch is complete and nothing in it failed. */
export function isSuccess(counters: Readonly<Record<Counter, number>>): boolean {
  return isComplete(counters) && counters.failures <= 0 && counters.children_succeeded >= counters.children;
}

/** True when a job of the batch or of a child batch is dead. */
export function hasDeath(counters: Readonly<Record<Counter, number>>): boolean {
  return counters.dead > 0 || counters.children_dead > 0;
}

const RULES: Readonly<Record<CallbackEvent, (counters: Readonly<Record<Counter, number>>) => boolean>> = {
  complete: isComplete,
  success: isSuccess,
  death: hasDeath,
};

/** The events whose rule holds in `state` and that have not been claimed, in claim order. */
export function dueEvents(state: BatchState): CallbackEvent[] {
  return CALLBACK_EVENTS.filter((event) => state.claimedAt[event] === undefined && RULES[event](state.counters));
}

/**
 * The events claimed by the write that turned `before` into `after`: the stream record of that
 * write is the one that sends their callback jobs.
 */
export function eventsClaimedBetween(before: BatchState | undefined, after: BatchState): CallbackEvent[] {
  return CALLBACK_EVENTS.filter((event) => after.claimedAt[event] !== undefined && before?.claimedAt[event] === undefined);
}

/** The jid of the callback job of `event`: fixed, so that a job sent twice is recognisably the same. */
export function callbackJid(bid: string, event: CallbackEvent): string {
  return `${bid}-${event}`;
}

/** What a callback job receives as its first argument. */
export interface BatchCallbackStatus {
  readonly bid: string;
  readonly event: CallbackEvent;
  readonly description?: string;
  readonly total: number;
  readonly pending: number;
  readonly succeeded: number;
  readonly failures: number;
  readonly dead: number;
  readonly children: number;
  readonly parent_bid?: string;
  readonly created_at: string;
}

/**
 * Splits the args of a callback job: the batch's status first, then the args the callback was
 * declared with (Sidekiq's `(status, options)`), so `onSuccess: { jobtype: 'ImportDone', args: [42] }`
 * runs `ImportDone` with `[status, 42]`.
 *
 * @throws UnrecoverableJobError when the first arg is not a batch status (the job is not a callback).
 * @example
 * ImportDone: async (args) => {
 *   const { status, args: [importId] } = batchCallbackArgs(args);
 *   await notify(importId, `${status.succeeded} of ${status.total} rows imported`);
 * }
 */
export function batchCallbackArgs(args: readonly unknown[]): { readonly status: BatchCallbackStatus; readonly args: readonly unknown[] } {
  const [first, ...rest] = args;
  const event = isRecord(first) ? CALLBACK_EVENTS.find((candidate) => candidate === first.event) : undefined;
  const counts = ['total', 'pending', 'succeeded', 'failures', 'dead', 'children'] as const;
  if (!isRecord(first) || typeof first.bid !== 'string' || event === undefined || typeof first.created_at !== 'string' || !counts.every((name) => typeof first[name] === 'number')) {
    throw new UnrecoverableJobError('args[0] is not a batch status: this job is not a batch callback (a callback receives [status, ...its args])');
  }
  const number = (name: (typeof counts)[number]): number => (typeof first[name] === 'number' ? first[name] : 0);
  const status: BatchCallbackStatus = {
    bid: first.bid,
    event,
    ...(typeof first.description === 'string' ? { description: first.description } : {}),
    total: number('total'),
    pending: number('pending'),
    succeeded: number('succeeded'),
    failures: number('failures'),
    dead: number('dead'),
    children: number('children'),
    ...(typeof first.parent_bid === 'string' ? { parent_bid: first.parent_bid } : {}),
    created_at: first.created_at,
  };
  return { status, args: rest };
}

/** The status a callback job carries. */
export function callbackStatus(state: BatchState, event: CallbackEvent): BatchCallbackStatus {
  const { counters } = state;
  return {
    bid: state.bid,
    event,
    ...(state.description === undefined ? {} : { description: state.description }),
    total: counters.total,
    pending: counters.pending,
    succeeded: counters.succeeded,
    failures: counters.failures,
    dead: counters.dead,
    children: counters.children,
    ...(state.parent === undefined ? {} : { parent_bid: state.parent }),
    created_at: state.createdAt,
  };
}

/**
 * The job to enqueue for `event` of `state`, or undefined when the batch has no such callback.
 * Its args are the batch status followed by the callback's own args (Sidekiq's `(status, options)`);
 * it belongs to the parent batch when the claim added it there.
 */
export function callbackJob(state: BatchState, event: CallbackEvent): JobInput | undefined {
  const callback = state.callbacks[event];
  if (callback === undefined) return undefined;
  const { custom: ownCustom, args, ...rest } = callback;
  // Membership is Hopper's to decide: a callback belongs to the parent batch only when the claim
  // registered it there.
  const custom: Record<string, unknown> = Object.fromEntries(Object.entries(ownCustom ?? {}).filter(([name]) => name !== 'bid' && name !== CALLBACK_FIELD));
  const parent = state.callbackParent[event];
  if (parent !== undefined) custom.bid = parent;
  // Lets the worker run it once even when the batch function sent it twice (see callbackOf).
  custom[CALLBACK_FIELD] = { bid: state.bid, event };
  return {
    ...rest,
    jid: callbackJid(state.bid, event),
    args: [callbackStatus(state, event), ...(args ?? [])],
    custom,
  };
}

/** The `custom` field that marks a callback job with its batch and event. */
export const CALLBACK_FIELD = 'callback';

/**
 * The batch and event a job is the callback of, or undefined for any other job. The worker claims
 * the run of a callback job per SQS message (`BatchStore.claimCallbackRun`): the batch function
 * sends it twice when it crashes between the send and marking it sent, and the second message must
 * not run it again.
 */
export function callbackOf(job: { readonly jid: string; readonly custom?: Readonly<Record<string, unknown>> }): { readonly bid: string; readonly event: CallbackEvent } | undefined {
  const marker = job.custom?.[CALLBACK_FIELD];
  if (typeof marker !== 'object' || marker === null || !('bid' in marker) || !('event' in marker)) return undefined;
  const { bid, event } = marker;
  if (typeof bid !== 'string' || typeof event !== 'string') return undefined;
  const known = CALLBACK_EVENTS.find((candidate) => candidate === event);
  // Only Hopper's own callback jobs: the jid it gives them, so a producer cannot suppress a job by marking it.
  return known === undefined || job.jid !== callbackJid(bid, known) ? undefined : { bid, event: known };
}

/** A new batch id: random, like a jid. */
export function newBid(): string {
  return newJid();
}
