/**
 * The generic cell rate algorithm: one number, the theoretical arrival time (TAT), describes a
 * leaky bucket (or, equivalently, a token bucket). `leaky` and `points` are both built on it.
 *
 * With a refill of `r` points per interval `I`, one point drains in I/r ms. To keep every value
 * exact, times are kept in units of 1/r ms (`scale` = r): a point then drains in exactly `I`
 * units, the capacity spans `capacity · I` units, and all arithmetic is on integers (bigint,
 * because epoch ms · r exceeds 2^53). DynamoDB numbers hold 38 digits, so the store keeps them
 * exact too.
 *
 * The bucket's level at `now` is `max(0, tat − now) / I` points. A request of cost c is allowed
 * iff `max(tat, now) + c·I − now ≤ capacity · I`, and then `tat` becomes `max(tat, now) + c·I`.
 */
import { allow, refuse, type Decision } from './decision.js';

/** The stored state: TAT in units of 1/scale ms. */
export interface GcraState {
  readonly tat: bigint;
  readonly scale: bigint;
}

/** The bucket's shape, in the same units. */
export interface GcraParams {
  /** Units per millisecond (the refill per interval). */
  readonly scale: bigint;
  /** Units one point takes to drain (the interval in ms). */
  readonly emission: bigint;
  /** Units the bucket spans when full (capacity · emission). */
  readonly tolerance: bigint;
}

/**
 * How a new state follows from the stored one: `advance` adds to the stored TAT (the store can
 * apply it with an atomic ADD), `restart` computes it from `now` (the bucket had drained, or
 * there was no state, or it was kept at another scale).
 */
export type GcraStep = 'advance' | 'restart';

/** A GCRA decision. */
export interface GcraDecision extends Decision<GcraState | undefined> {
  readonly step: GcraStep;
}

/** The part of `state` usable under `params`: none when it was kept at another scale. */
function usable(state: GcraState | undefined, params: GcraParams): GcraState | undefined {
  return state !== undefined && state.scale === params.scale ? state : undefined;
}

/** Whether the next write adds to the stored TAT or restarts from `now`. */
export function gcraStep(state: GcraState | undefined, nowMs: number, params: GcraParams): GcraStep {
  const stored = usable(state, params);
  return stored !== undefined && stored.tat >= BigInt(nowMs) * params.scale ? 'advance' : 'restart';
}

/**
 * Takes `cost` points at `nowMs`.
 *
 * @example
 * // 60 per minute: scale 60, a point drains in 60_000 units (1 s), capacity 60 points
 * takeFromGcra(undefined, 0, { scale: 60n, emission: 60_000n, tolerance: 3_600_000n }, 1n)
 * // allowed, newState { tat: 60_000n, scale: 60n }
 */
export function takeFromGcra(state: GcraState | undefined, nowMs: number, params: GcraParams, cost: bigint): GcraDecision {
  const now = BigInt(nowMs) * params.scale;
  const step = gcraStep(state, nowMs, params);
  const base = step === 'advance' && state !== undefined ? state.tat : now;
  const tat = base + cost * params.emission;
  const over = tat - now - params.tolerance;
  if (over > 0n) return { ...refuse(state, unitsToMs(over, params.scale)), step };
  return { ...allow({ tat, scale: params.scale }), step };
}

/** How a settlement changes the stored TAT. */
export interface GcraSettlement {
  readonly newState: GcraState | undefined;
  /**
   * `advance`: add `delta · emission` to the stored TAT; `restart`: set it from `now` (a charge on
   * a drained bucket); `clamp`: set it to `now` (a refund larger than what is still draining);
   * `none`: nothing to store (a refund on a drained bucket, or no change).
   */
  readonly step: GcraStep | 'clamp' | 'none';
}

/**
 * Charges `delta` more points (or refunds `−delta`) after the fact: the difference between the
 * actual cost of a block and the estimate taken up front. A charge may take the bucket past full
 * (the work is done; later callers wait longer); a refund never takes it below empty.
 */
export function settleGcra(state: GcraState | undefined, nowMs: number, params: GcraParams, delta: bigint): GcraSettlement {
  const now = BigInt(nowMs) * params.scale;
  const change = delta * params.emission;
  const step = gcraStep(state, nowMs, params);
  if (delta === 0n) return { newState: state, step: 'none' };
  if (step === 'restart' || state === undefined) {
    return delta > 0n ? { newState: { tat: now + change, scale: params.scale }, step: 'restart' } : { newState: state, step: 'none' };
  }
  const tat = state.tat + change;
  if (tat < now) return { newState: { tat: now, scale: params.scale }, step: 'clamp' };
  return { newState: { tat, scale: params.scale }, step: 'advance' };
}

/** Units → milliseconds, rounded up. */
export function unitsToMs(units: bigint, scale: bigint): number {
  return Number((units + scale - 1n) / scale);
}

/** Epoch milliseconds after which `state` says nothing (the bucket has fully drained). */
export function gcraDrainedAtMs(state: GcraState): number {
  return unitsToMs(state.tat, state.scale);
}
