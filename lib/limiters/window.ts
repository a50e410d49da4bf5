/**
 * `window`: at most `limit` admissions in any trailing interval (a sliding log). An admission at
 * time t counts for the window (now − interval, now], so it stops counting at t + interval.
 * Exact, unlike the two-bucket estimate, at the price of one entry per admission.
 */
import { admitEntry, type EntryRequest, type EntrySetDecision, type EntrySetState } from './entry-set.js';

/** A request for one admission. */
export interface WindowRequest {
  readonly entryId: string;
  readonly limit: number;
  readonly intervalMs: number;
}

/**
 * Admits `entryId` at `nowMs` if fewer than `limit` admissions happened in the trailing interval.
 * When refused, `retryAfterMs` is exact: the time until the oldest admission leaves the window.
 *
 * @example
 * // limit 2 per 1000 ms, admissions at 0 and 400: refused at 900, retry after 100 ms
 * admitToWindow({ entries: { a: 0, b: 400 } }, 900, { entryId: 'c', limit: 2, intervalMs: 1000 })
 */
export function admitToWindow(state: EntrySetState, nowMs: number, request: WindowRequest): EntrySetDecision {
  return admitEntry(state, nowMs, windowEntry(request, nowMs));
}

/** The entry an admission adds at `nowMs`: it stores its time and counts for one interval. */
export function windowEntry(request: WindowRequest, nowMs: number): EntryRequest {
  return { id: request.entryId, value: nowMs, limit: request.limit, expiresAt: (admittedAt) => admittedAt + request.intervalMs };
}
