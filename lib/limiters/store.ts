/**
 * The storage contract of limiters. A store applies one limiter's arithmetic atomically against
 * shared state: the DynamoDB store (dynamo/store.ts) for real use, the memory store
 * (memory-store.ts) for tests and single-process use.
 */
import type { ItemKey } from '../storage/keys.js';
import type { ResolvedLimiterSpec, ResolvedSpecOf } from './spec.js';

/** A request for room in a limiter. */
export interface AcquireRequest {
  /** The item holding the limiter's state, built by keys.ts (`limiterKey`, `quotaKey`). */
  readonly key: ItemKey;
  readonly spec: ResolvedLimiterSpec;
  /** The caller's clock, epoch ms. */
  readonly nowMs: number;
  /** Id of the lease (concurrent) or admission (window) this request adds; unused by other kinds. */
  readonly token: string;
  /** Points to take (points); 1 for other kinds. */
  readonly cost: number;
}

/** The answer to an {@link AcquireRequest}. */
export type AcquireResult = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/** Gives back a concurrent lease. */
export interface ReleaseRequest {
  readonly key: ItemKey;
  readonly spec: ResolvedSpecOf<'concurrent'>;
  readonly token: string;
  /** How long the lease was held, ms: the store keeps the last one to estimate when a slot frees. */
  readonly heldMs?: number;
}

/** Charges (delta > 0) or refunds (delta < 0) points after a block ran. */
export interface SettleRequest {
  readonly key: ItemKey;
  readonly spec: ResolvedSpecOf<'points'>;
  readonly nowMs: number;
  readonly delta: number;
}

/** Where limiter state lives. Every method is atomic with respect to other callers. */
export interface LimiterStore {
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /** Releases a lease; releasing one that expired (and was dropped) is not an error. */
  release(request: ReleaseRequest): Promise<void>;
  settle(request: SettleRequest): Promise<void>;
}
