/**
 * `concurrent`: at most `limit` leases held at once. A lease stores its expiry (now + lock
 * timeout), so a worker that dies holding one blocks others only until then. Pure: clock passed in.
 *
 * A refusal says when a slot is likely to be free, not when the earliest lease would expire: the
 * limiter keeps how long the most recently released lease was held (`lastHoldMs`), and a lease is
 * expected to end that long after it started. A lease already held longer than that (or any lease
 * while nothing has been released yet) is expected to last as long again as it has so far, at
 * least {@link LEASE_ESTIMATE_BOUNDS}.minMs. No estimate goes past the lease's expiry.
 */
import { admitEntry, removeEntry, type EntryRequest, type EntrySetDecision, type EntrySetState } from './entry-set.js';
import { refuse } from './decision.js';

/** A request for a lease. */
export interface LeaseRequest {
  readonly leaseId: string;
  readonly limit: number;
  readonly lockTimeoutMs: number;
  /** How long the most recently released lease was held, ms. @default - unknown */
  readonly lastHoldMs?: number;
}

/** Bounds of the estimate of when a lease ends. */
export const LEASE_ESTIMATE_BOUNDS = {
  /** The shortest wait an estimate gives for a lease that is overdue or of unknown length. */
  minMs: 50,
} as const;

/**
 * Grants lease `leaseId` if fewer than `limit` unexpired leases are held at `nowMs`; when refused,
 * `retryAfterMs` is {@link expectedFreeInMs}.
 *
 * @example
 * acquireLease(EMPTY_ENTRY_SET, 1_000, { leaseId: 'a', limit: 1, lockTimeoutMs: 30_000 })
 * // allowed; newState.entries = { a: 31_000 }
 * acquireLease({ entries: { a: 31_000 } }, 1_200, { leaseId: 'b', limit: 1, lockTimeoutMs: 30_000, lastHoldMs: 500 })
 * // refused; retryAfterMs = 300 (a started at 1 000 and leases are held 500 ms)
 */
export function acquireLease(state: EntrySetState, nowMs: number, request: LeaseRequest): EntrySetDecision {
  const decision = admitEntry(state, nowMs, leaseEntry(request, nowMs));
  if (decision.allowed) return decision;
  return { ...refuse(decision.newState, expectedFreeInMs(state, nowMs, request)), expired: decision.expired };
}

/** The entry a lease adds at `nowMs`: it stores its own expiry. */
export function leaseEntry(request: LeaseRequest, nowMs: number): EntryRequest {
  return { id: request.leaseId, value: nowMs + request.lockTimeoutMs, limit: request.limit, expiresAt: (expiry) => expiry };
}

/**
 * Milliseconds until the first of the live leases of `state` is expected to end (see the module
 * comment), at least 1; the lock timeout when no lease is live.
 *
 * @example
 * // lock timeout 10 s; leases taken at 0 and 300; the last one released was held 500 ms
 * expectedFreeInMs({ entries: { a: 10_000, b: 10_300 } }, 400, { lockTimeoutMs: 10_000, lastHoldMs: 500 }) // 100
 * // nothing released yet: a has been held 400 ms, so it is expected to take 400 ms more
 * expectedFreeInMs({ entries: { a: 10_000 } }, 400, { lockTimeoutMs: 10_000 }) // 400
 */
export function expectedFreeInMs(state: EntrySetState, nowMs: number, lease: { readonly lockTimeoutMs: number; readonly lastHoldMs?: number }): number {
  let soonest = Number.POSITIVE_INFINITY;
  for (const expiry of Object.values(state.entries)) {
    if (expiry <= nowMs) continue;
    const start = expiry - lease.lockTimeoutMs;
    const held = Math.max(0, nowMs - start);
    const typicalEnd = lease.lastHoldMs === undefined ? undefined : start + lease.lastHoldMs;
    const estimate = typicalEnd !== undefined && typicalEnd > nowMs ? typicalEnd - nowMs : Math.max(LEASE_ESTIMATE_BOUNDS.minMs, held);
    soonest = Math.min(soonest, estimate, expiry - nowMs);
  }
  return Number.isFinite(soonest) ? Math.max(1, Math.ceil(soonest)) : lease.lockTimeoutMs;
}

/** Returns lease `leaseId` (a no-op when it already expired and was dropped). */
export function releaseLease(state: EntrySetState, leaseId: string): EntrySetState {
  return removeEntry(state, leaseId);
}
