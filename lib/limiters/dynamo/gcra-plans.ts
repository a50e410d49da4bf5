/**
 * Write plans for `leaky` and `points` (GCRA, see ../gcra.ts): one item holding the TAT `t` and
 * its scale `s`. While the bucket holds something (`t ≥ now`), taking c points is `ADD t c·I` on
 * condition `t ≤ now + tolerance − c·I`: atomic, so concurrent callers are admitted exactly up
 * to capacity without conflicting. A drained (or new) bucket restarts from `now` with a `SET`
 * on condition that it is still drained.
 */
import { takeFromGcra, settleGcra, type GcraParams } from '../gcra.js';
import { LIMITER_ATTRIBUTES as A } from '../keys.js';
import { num, readGcra, ttlAfter, type Known } from './item.js';
import { DONE, opening, write, type Step } from './plan.js';

const names = { '#t': A.tat, '#s': A.scale, '#ttl': A.ttl } as const;

/** The TTL of a bucket that, at `now`, holds at most `units` (in 1/scale ms) more than when full. */
function ttlValue(params: GcraParams, now: bigint, extra: bigint): ReturnType<typeof num> {
  const drainedAt = now + params.tolerance + (extra > 0n ? extra : 0n);
  return num(ttlAfter(Number((drainedAt + params.scale - 1n) / params.scale)));
}

/** Sets the TAT from `now`, on condition that the stored bucket is drained (or absent, or at another scale). */
function restart(params: GcraParams, now: bigint, tat: bigint, extra: bigint): Step {
  // Drained again once `now` is past the TAT it sets (the condition is `#t < :now`).
  const quietFromMs = Number(tat / params.scale) + 1;
  return opening({
    update: 'SET #t = :t, #s = :s, #ttl = :ttl',
    condition: 'attribute_not_exists(#t) OR #s <> :s OR #t < :now',
    names,
    values: { ':t': num(tat), ':s': num(params.scale), ':now': num(now), ':ttl': ttlValue(params, now, extra) },
  }, quietFromMs);
}

/**
 * Plans taking `cost` points at `nowMs`. An unread item is assumed busy (TAT ahead of now), the
 * common case under load; a quiet bucket pays a second write to restart.
 */
export function planTakeFromGcra(params: GcraParams, cost: bigint, nowMs: number, known: Known): Step {
  const now = BigInt(nowMs) * params.scale;
  const increment = cost * params.emission;
  if (known !== 'unread') {
    const state = known === 'absent' ? undefined : readGcra(known);
    const decision = takeFromGcra(state, nowMs, params, cost);
    const next = decision.newState;
    if (!decision.allowed || next === undefined) return { kind: 'refuse', retryAfterMs: decision.retryAfterMs };
    if (decision.step === 'restart') return restart(params, now, next.tat, 0n);
  }
  return write({
    update: 'SET #ttl = :ttl ADD #t :inc',
    condition: '#s = :s AND #t >= :now AND #t <= :max',
    names,
    values: {
      ':inc': num(increment),
      ':s': num(params.scale),
      ':now': num(now),
      ':max': num(now + params.tolerance - increment),
      ':ttl': ttlValue(params, now, 0n),
    },
  });
}

/**
 * Plans settling `delta` points (charge when positive, refund when negative). An unread item is
 * assumed to still be draining. A refund never takes the TAT below now: that would be credit
 * for time that has passed.
 */
export function planSettleGcra(params: GcraParams, delta: bigint, nowMs: number, known: Known): Step {
  if (delta === 0n) return DONE;
  const now = BigInt(nowMs) * params.scale;
  const change = delta * params.emission;
  const step = known === 'unread' ? 'advance' : settleGcra(known === 'absent' ? undefined : readGcra(known), nowMs, params, delta).step;
  switch (step) {
    case 'none':
      return DONE;
    case 'restart':
      return restart(params, now, now + change, change);
    case 'clamp':
      return write({
        update: 'SET #t = :now',
        condition: '#s = :s AND #t >= :now AND #t < :floor',
        names: { '#t': A.tat, '#s': A.scale },
        values: { ':now': num(now), ':s': num(params.scale), ':floor': num(now - change) },
      });
    case 'advance':
      return delta > 0n
        ? write({
            update: 'SET #ttl = :ttl ADD #t :inc',
            condition: '#s = :s AND #t >= :now',
            names,
            values: { ':inc': num(change), ':s': num(params.scale), ':now': num(now), ':ttl': ttlValue(params, now, change) },
          })
        : write({
            // A refund keeps the TTL: the bucket drains sooner, so the stored TTL is still late enough.
            update: 'ADD #t :inc',
            condition: '#s = :s AND #t >= :floor',
            names: { '#t': A.tat, '#s': A.scale },
            values: { ':inc': num(change), ':s': num(params.scale), ':floor': num(now - change) },
          });
  }
}
