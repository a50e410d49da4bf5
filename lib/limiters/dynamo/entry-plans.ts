/**
 * Write plans for `concurrent` and `window`: one item, one `e_<id>` attribute per live entry and a
 * count `n` kept in step with them. Adding an entry is `SET e_<id>, ADD n 1` on condition
 * `n < limit`, which DynamoDB evaluates atomically, so concurrent acquirers never overshoot and
 * never conflict while there is room. Dead entries (expired leases, admissions older than the
 * window) are removed only when the set is full, in the same write that adds the new entry, on
 * condition that they still hold the values read (another caller may have removed them first).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { acquireLease, leaseEntry } from '../concurrent.js';
import { admitEntry, EMPTY_ENTRY_SET, type EntryRequest } from '../entry-set.js';
import { entryAttribute, LIMITER_ATTRIBUTES as A } from '../keys.js';
import type { ResolvedSpecOf } from '../spec.js';
import { windowEntry } from '../window.js';
import { readEntrySet, readInteger, num, ttlAfter, type Known } from './item.js';
import { DONE, write, type Step } from './plan.js';

/** The entry that `token` adds at `nowMs` under `spec`. */
export function entryFor(spec: ResolvedSpecOf<'concurrent' | 'window'>, token: string, nowMs: number): EntryRequest {
  return spec.type === 'concurrent'
    ? leaseEntry({ leaseId: token, limit: spec.limit, lockTimeoutMs: spec.lockTimeoutMs }, nowMs)
    : windowEntry({ entryId: token, limit: spec.limit, intervalMs: spec.intervalMs }, nowMs);
}

/**
 * Plans adding entry `token` (a lease or an admission). An unread item is assumed to have room;
 * `DONE` means the entry is already stored (the call succeeded).
 */
export function planAddEntry(spec: ResolvedSpecOf<'concurrent' | 'window'>, token: string, nowMs: number, known: Known): Step {
  const entry = entryFor(spec, token, nowMs);
  const state = typeof known === 'string' ? EMPTY_ENTRY_SET : readEntrySet(known);
  // Our entry is already there when the SDK retried a write whose first try landed but whose
  // answer was lost: the lease is ours, and counting it against us would refuse it.
  if (Object.hasOwn(state.entries, token)) return DONE;
  const lastHoldMs = typeof known === 'string' ? undefined : readInteger(known, A.lastHold);
  const decision = spec.type === 'concurrent'
    ? acquireLease(state, nowMs, { leaseId: token, limit: spec.limit, lockTimeoutMs: spec.lockTimeoutMs, ...(lastHoldMs === undefined ? {} : { lastHoldMs }) })
    : admitEntry(state, nowMs, entry);
  if (!decision.allowed) return { kind: 'refuse', retryAfterMs: decision.retryAfterMs };

  const names: Record<string, string> = { '#n': A.entryCount, '#ttl': A.ttl, '#me': entryAttribute(token) };
  const expired = Object.entries(decision.expired);
  const values: Record<string, AttributeValue> = {
    ':v': num(entry.value),
    ':d': num(1 - expired.length),
    ':max': num(spec.limit + expired.length),
    ':ttl': num(ttlAfter(entry.expiresAt(entry.value))),
  };
  const removals: string[] = [];
  const stillDead: string[] = [];
  expired.forEach(([id, value], i) => {
    names[`#x${i}`] = entryAttribute(id);
    values[`:x${i}`] = num(value);
    removals.push(`#x${i}`);
    stillDead.push(` AND #x${i} = :x${i}`);
  });
  return write({
    update: `SET #me = :v, #ttl = :ttl ADD #n :d${removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''}`,
    // n < limit + k: after removing the k dead entries there is room for one more.
    condition: `attribute_not_exists(#me) AND (attribute_not_exists(#n) OR #n < :max)${stillDead.join('')}`,
    names,
    values,
  });
}

/**
 * Plans releasing lease `token`, recording how long it was held (`heldMs`, when known) for the
 * next refusal's estimate; if the lease is already gone (expired and removed), there is nothing to do.
 */
export function planRemoveEntry(token: string, known: Known, heldMs?: number): Step {
  if (known !== 'unread') return DONE;
  if (heldMs === undefined) {
    return write({
      update: 'REMOVE #me ADD #n :minus',
      condition: 'attribute_exists(#me)',
      names: { '#me': entryAttribute(token), '#n': A.entryCount },
      values: { ':minus': num(-1) },
    });
  }
  return write({
    update: 'SET #h = :held REMOVE #me ADD #n :minus',
    condition: 'attribute_exists(#me)',
    names: { '#me': entryAttribute(token), '#n': A.entryCount, '#h': A.lastHold },
    values: { ':minus': num(-1), ':held': num(Math.max(0, Math.round(heldMs))) },
  });
}
