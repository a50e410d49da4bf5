/**
 * `concurrent`: at most `limit` leases held at once. A lease stores its expiry (now + lock
 * timeout), so a worker that dies holding one blocks others only until then. Pure: clock passed in.
 */
import { admitEntry, removeEntry, type EntryRequest, type EntrySetDecision, type EntrySetState } from './entry-set.js';

/** A request for a lease. */
export interface LeaseRequest {
  readonly leaseId: string;
  readonly limit: number;
  readonly lockTimeoutMs: number;
}

/**
 * Grants lease `leaseId` if fewer than `limit` unexpired leases are held at `nowMs`.
 *
 * @example
 * acquireLease(EMPTY_ENTRY_SET, 1_000, { leaseId: 'a', limit: 1, lockTimeoutMs: 30_000 })
 * // allowed; newState.entries = { a: 31_000 }
 */
export function acquireLease(state: EntrySetState, nowMs: number, request: LeaseRequest): EntrySetDecision {
  return admitEntry(state, nowMs, leaseEntry(request, nowMs));
}

/** The entry a lease adds at `nowMs`: it stores its own expiry. */
export function leaseEntry(request: LeaseRequest, nowMs: number): EntryRequest {
  return { id: request.leaseId, value: nowMs + request.lockTimeoutMs, limit: request.limit, expiresAt: (expiry) => expiry };
}

/** Returns lease `leaseId` (a no-op when it already expired and was dropped). */
export function releaseLease(state: EntrySetState, leaseId: string): EntrySetState {
  return removeEntry(state, leaseId);
}
