/**
 * Write plans for `bucket`: one item holding the current bucket (`b` start, `i` interval, `c`
 * count). Counting in the current bucket is `ADD c 1` on condition `b = start AND c < limit`,
 * atomic and conflict-free; the first call of a new bucket replaces the item's bucket on
 * condition that it is older, and callers racing it retry with the bucket it wrote.
 */
import { bucketStart, takeFromBucket, type BucketState } from '../bucket.js';
import { LIMITER_ATTRIBUTES as A } from '../keys.js';
import type { ResolvedSpecOf } from '../spec.js';
import { num, readBucket, ttlAfter, type Known } from './item.js';
import { opening, write, type Step } from './plan.js';

const names = { '#b': A.bucketStart, '#i': A.bucketInterval, '#c': A.bucketCount, '#ttl': A.ttl } as const;

/**
 * Plans counting one call at `nowMs`. An unread item is assumed to hold the current bucket, the
 * common case under load (one write); a quiet limiter pays a second write to open the bucket.
 */
export function planTakeFromBucket(spec: ResolvedSpecOf<'bucket'>, nowMs: number, known: Known): Step {
  const state: BucketState | undefined =
    known === 'unread' ? { startMs: bucketStart(nowMs, spec.intervalMs), intervalMs: spec.intervalMs, count: 0 }
    : known === 'absent' ? undefined
    : readBucket(known);
  const decision = takeFromBucket(state, nowMs, spec);
  const next = decision.newState;
  if (!decision.allowed || next === undefined) return { kind: 'refuse', retryAfterMs: decision.retryAfterMs };
  const values = {
    ':b': num(next.startMs),
    ':i': num(next.intervalMs),
    ':ttl': num(ttlAfter(next.startMs + next.intervalMs)),
  };
  if (decision.step === 'advance') {
    return write({
      update: 'SET #ttl = :ttl ADD #c :one',
      condition: '#b = :b AND #i = :i AND #c < :limit',
      names,
      values: { ...values, ':one': num(1), ':limit': num(spec.limit) },
    });
  }
  return opening({
    update: 'SET #b = :b, #i = :i, #c = :one, #ttl = :ttl',
    condition: 'attribute_not_exists(#b) OR #i <> :i OR #b < :b',
    names,
    values: { ...values, ':one': num(1) },
  }, next.startMs + next.intervalMs);
}
