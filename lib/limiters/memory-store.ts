/**
 * A limiter store in process memory: the pure arithmetic applied to maps. Exact and synchronous
 * underneath, so tests of the limiter API can use a fake clock; shared only within one process.
 */
import { takeFromBucket, type BucketState } from './bucket.js';
import { acquireLease, releaseLease } from './concurrent.js';
import type { Decision } from './decision.js';
import { EMPTY_ENTRY_SET, type EntrySetState } from './entry-set.js';
import type { GcraState } from './gcra.js';
import { takeFromLeaky } from './leaky.js';
import { settlePoints, takeFromPoints } from './points.js';
import type { ItemKey } from '../storage/keys.js';
import type { AcquireRequest, AcquireResult, LimiterStore, ReleaseRequest, SettleRequest } from './store.js';
import { admitToWindow } from './window.js';

/** A {@link LimiterStore} backed by maps; state lives as long as the store. */
export class MemoryLimiterStore implements LimiterStore {
  private readonly entrySets = new Map<string, EntrySetState>();
  private readonly buckets = new Map<string, BucketState>();
  private readonly gcras = new Map<string, GcraState>();
  /** Concurrent limiters: how long the last released lease was held. */
  private readonly lastHolds = new Map<string, number>();

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const { spec, nowMs } = request;
    const key = mapKey(request.key);
    switch (spec.type) {
      case 'concurrent':
      case 'window': {
        const state = this.entrySets.get(key) ?? EMPTY_ENTRY_SET;
        const lastHoldMs = this.lastHolds.get(key);
        const decision =
          spec.type === 'concurrent'
            ? acquireLease(state, nowMs, { leaseId: request.token, limit: spec.limit, lockTimeoutMs: spec.lockTimeoutMs, ...(lastHoldMs === undefined ? {} : { lastHoldMs }) })
            : admitToWindow(state, nowMs, { entryId: request.token, limit: spec.limit, intervalMs: spec.intervalMs });
        return apply(decision, (next) => this.entrySets.set(key, next));
      }
      case 'bucket':
        return apply(takeFromBucket(this.buckets.get(key), nowMs, spec), (next) => next && this.buckets.set(key, next));
      case 'leaky':
        return apply(takeFromLeaky(this.gcras.get(key), nowMs, spec), (next) => next && this.gcras.set(key, next));
      case 'points':
        return apply(takeFromPoints(this.gcras.get(key), nowMs, spec, request.cost), (next) => next && this.gcras.set(key, next));
    }
  }

  async release(request: ReleaseRequest): Promise<void> {
    const key = mapKey(request.key);
    const state = this.entrySets.get(key);
    if (state === undefined || !Object.hasOwn(state.entries, request.token)) return;
    this.entrySets.set(key, releaseLease(state, request.token));
    if (request.heldMs !== undefined) this.lastHolds.set(key, Math.max(0, Math.round(request.heldMs)));
  }

  async settle(request: SettleRequest): Promise<void> {
    const key = mapKey(request.key);
    const { newState } = settlePoints(this.gcras.get(key), request.nowMs, request.spec, request.delta);
    if (newState !== undefined) this.gcras.set(key, newState);
  }
}

function mapKey({ pk, sk }: ItemKey): string {
  return `${pk}\n${sk}`;
}

function apply<S>(decision: Decision<S>, store: (next: S) => unknown): AcquireResult {
  if (!decision.allowed) return { allowed: false, retryAfterMs: decision.retryAfterMs };
  store(decision.newState);
  return { allowed: true };
}
