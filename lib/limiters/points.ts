/**
 * `points`: a token bucket with costs, for APIs that price calls in points (GraphQL cost limits).
 * Holds `capacity` points, refills `refill` points per interval. A block can take an estimate
 * up front and settle its actual cost afterwards. Built on the GCRA (see gcra.ts). Pure.
 */
import { settleGcra, takeFromGcra, type GcraDecision, type GcraParams, type GcraSettlement, type GcraState } from './gcra.js';
import type { ResolvedSpecOf } from './spec.js';

/** The fields of a points spec the arithmetic needs. */
export type PointsShape = Pick<ResolvedSpecOf<'points'>, 'capacity' | 'refill' | 'intervalMs'>;

/** The GCRA shape of a token bucket: `capacity` points, `refill` per interval. */
export function pointsParams(spec: PointsShape): GcraParams {
  const interval = BigInt(spec.intervalMs);
  return { scale: BigInt(spec.refill), emission: interval, tolerance: BigInt(spec.capacity) * interval };
}

/**
 * Takes `cost` points at `nowMs`.
 *
 * @example
 * // 100 points, 10 per second; after taking 100 at t=0, 30 more are available at t=3000
 * takeFromPoints({ tat: 100_000n, scale: 10n }, 3_000, { capacity: 100, refill: 10, intervalMs: 1_000 }, 30).allowed // true
 */
export function takeFromPoints(state: GcraState | undefined, nowMs: number, spec: PointsShape, cost: number): GcraDecision {
  return takeFromGcra(state, nowMs, pointsParams(spec), BigInt(cost));
}

/** Settles a block whose actual cost differs from the estimate it took: charges `actual − estimate`. */
export function settlePoints(state: GcraState | undefined, nowMs: number, spec: PointsShape, delta: number): GcraSettlement {
  return settleGcra(state, nowMs, pointsParams(spec), BigInt(delta));
}
