/**
 * `leaky` (Sidekiq's leaky bucket): holds up to `limit` calls and drains at `limit` per interval,
 * so a quiet limiter allows a burst of `limit` and then one call every interval/limit.
 * Built on the GCRA (see gcra.ts). Pure: clock passed in.
 */
import { takeFromGcra, type GcraDecision, type GcraParams, type GcraState } from './gcra.js';
import type { ResolvedSpecOf } from './spec.js';

/** The GCRA shape of a leaky bucket: capacity `limit`, `limit` drips per interval. */
export function leakyParams(spec: Pick<ResolvedSpecOf<'leaky'>, 'limit' | 'intervalMs'>): GcraParams {
  const interval = BigInt(spec.intervalMs);
  return { scale: BigInt(spec.limit), emission: interval, tolerance: BigInt(spec.limit) * interval };
}

/**
 * Pours one call into the bucket at `nowMs`.
 *
 * @example
 * // 60 per minute, full bucket: the 61st call within the same ms waits 1 s
 * takeFromLeaky({ tat: 3_600_000n, scale: 60n }, 0, { limit: 60, intervalMs: 60_000 }).retryAfterMs // 1000
 */
export function takeFromLeaky(state: GcraState | undefined, nowMs: number, spec: Pick<ResolvedSpecOf<'leaky'>, 'limit' | 'intervalMs'>): GcraDecision {
  return takeFromGcra(state, nowMs, leakyParams(spec), 1n);
}
