/**
 * The arithmetic shared by `concurrent` and `window`: a set of entries, each live until a time,
 * of which at most `limit` may be live at once. A concurrent lease is an entry that lives until
 * its lock timeout (or its release); a window admission is an entry that lives for one interval.
 */
import { allow, refuse, type Decision } from './decision.js';

/** Entry id → the number stored for it (a lease's expiry, an admission's time), epoch ms. */
export interface EntrySetState {
  readonly entries: Readonly<Record<string, number>>;
}

/** The state of a limiter that has never been used (or whose item has expired). */
export const EMPTY_ENTRY_SET: EntrySetState = { entries: {} };

/** A decision that also lists the dead entries it dropped (the store removes them). */
export interface EntrySetDecision extends Decision<EntrySetState> {
  /** Entries no longer live at `now` (id → stored value); dropped from `newState` when allowed. */
  readonly expired: Readonly<Record<string, number>>;
}

/** What to add, and how to tell when an entry stops counting. */
export interface EntryRequest {
  readonly id: string;
  /** The number stored for the new entry. */
  readonly value: number;
  readonly limit: number;
  /** When an entry with stored `value` stops counting, epoch ms (live while `now < expiresAt`). */
  readonly expiresAt: (value: number) => number;
}

/**
 * Admits `request.id` if fewer than `limit` entries are live at `nowMs`, dropping dead ones.
 * When refused, `retryAfterMs` is the time until the earliest live entry dies: a bound, because
 * a lease may be released sooner.
 */
export function admitEntry(state: EntrySetState, nowMs: number, request: EntryRequest): EntrySetDecision {
  const live: Record<string, number> = {};
  const expired: Record<string, number> = {};
  let earliest = Number.POSITIVE_INFINITY;
  for (const [id, value] of Object.entries(state.entries)) {
    const expiresAt = request.expiresAt(value);
    if (expiresAt <= nowMs) {
      expired[id] = value;
    } else {
      live[id] = value;
      earliest = Math.min(earliest, expiresAt);
    }
  }
  if (Object.keys(live).length >= request.limit) {
    return { ...refuse(state, earliest - nowMs), expired };
  }
  return { ...allow({ entries: { ...live, [request.id]: request.value } }), expired };
}

/** The state without entry `id` (a released lease). */
export function removeEntry(state: EntrySetState, id: string): EntrySetState {
  const entries = { ...state.entries };
  delete entries[id];
  return { entries };
}
