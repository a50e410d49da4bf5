/**
 * Enforcing quotas on an enqueue: take one point per job from the tenant's bucket and from the
 * queue's, and say which scope refused and when to come back. The API's `POST /v1/jobs` calls
 * `checkQuotas` before sending anything to SQS and answers a refusal with
 * {@link quotaExceededResponse} (response.ts).
 */
import { toRetryAfterSeconds } from '../limiters/decision.js';
import { quotaKey } from '../limiters/keys.js';
import type { LimiterStore } from '../limiters/store.js';
import { acquireSharded, giveBack, refundSharded, type ShardTake } from '../limiters/shards.js';
import type { Random } from '../common/random.js';
import type { QuotaBucket, ResolvedQuotas } from './config.js';

/** The scopes a quota applies to. */
export const QUOTA_SCOPES = ['tenant', 'queue'] as const;
/** A scope quotas apply to. */
export type QuotaScope = (typeof QUOTA_SCOPES)[number];

/** Why a quota refused. */
export const QUOTA_REASONS = {
  /** The bucket is empty for now: retry after `retryAfterSeconds`. */
  exceeded: 'quota_exceeded',
  /** More jobs in one request than the bucket can ever hold: split the request. */
  tooLarge: 'batch_exceeds_quota',
} as const;
/** Why a quota refused. */
export type QuotaReason = (typeof QUOTA_REASONS)[keyof typeof QUOTA_REASONS];

/** One enqueue request, as the API sees it after authenticating the caller. */
export interface QuotaRequest {
  /** From the caller's identity or API key, never from the request body alone. @default - no tenant quota applies */
  readonly tenant?: string;
  readonly queue: string;
  /** Jobs in the request (each costs one point). */
  readonly jobs: number;
}

/** A quota that refused. */
export interface QuotaLimit {
  readonly scope: QuotaScope;
  /** The tenant or queue the quota belongs to. */
  readonly id: string;
  /** Queues the refusal covers; empty means every queue (a tenant's quota). */
  readonly queues: readonly string[];
  readonly retryAfterSeconds: number;
  readonly reason: QuotaReason;
}

/** The outcome of {@link checkQuotas}. */
export type QuotaDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number; readonly limits: readonly QuotaLimit[] };

/** How quotas reach their state. */
export interface QuotaCheckOptions {
  readonly store: LimiterStore;
  /** @default Date.now */
  readonly now?: () => number;
  /** Picks the shard of a bucket spread over several (lib/limiters/shards.ts). @default Math.random */
  readonly random?: Random;
}

/** The quotas that apply to `request`, tenant first. */
export function applicableQuotas(quotas: ResolvedQuotas, request: Pick<QuotaRequest, 'tenant' | 'queue'>): { scope: QuotaScope; id: string; bucket: QuotaBucket }[] {
  const applicable: { scope: QuotaScope; id: string; bucket: QuotaBucket }[] = [];
  if (request.tenant !== undefined) {
    const rule = quotas.tenants.get(request.tenant) ?? quotas.default;
    if (rule !== undefined && rule !== 'unlimited') applicable.push({ scope: 'tenant', id: request.tenant, bucket: rule });
  }
  const queueRule = quotas.queues.get(request.queue);
  if (queueRule !== undefined) applicable.push({ scope: 'queue', id: request.queue, bucket: queueRule });
  return applicable;
}

/**
 * Takes `request.jobs` points from every quota that applies. If one refuses, the points already
 * taken from the others are given back, so a refused request costs its producer nothing. Costs
 * one conditional write per applicable quota (plus one per refund).
 */
export async function checkQuotas(quotas: ResolvedQuotas, request: QuotaRequest, options: QuotaCheckOptions): Promise<QuotaDecision> {
  return checkQuotasForQueues(quotas, { ...(request.tenant === undefined ? {} : { tenant: request.tenant }), jobsByQueue: new Map([[request.queue, request.jobs]]) }, options);
}

/** An enqueue request whose jobs go to one or more queues. */
export interface MultiQueueQuotaRequest {
  /** From the caller's identity, never from the request body alone. @default - no tenant quota applies */
  readonly tenant?: string;
  /** Queue → jobs of the request for it. */
  readonly jobsByQueue: ReadonlyMap<string, number>;
}

/**
 * {@link checkQuotas} for a request spanning queues: the tenant's bucket pays for every job, each
 * queue's bucket for its own; any refusal gives back what was taken.
 */
export async function checkQuotasForQueues(quotas: ResolvedQuotas, request: MultiQueueQuotaRequest, options: QuotaCheckOptions): Promise<QuotaDecision> {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const total = [...request.jobsByQueue.values()].reduce((sum, jobs) => sum + jobs, 0);
  const charges: { scope: QuotaScope; id: string; bucket: QuotaBucket; cost: number }[] = [];
  for (const [queue, jobs] of request.jobsByQueue) {
    for (const quota of applicableQuotas(quotas, { ...(request.tenant === undefined ? {} : { tenant: request.tenant }), queue })) {
      if (quota.scope === 'tenant') {
        if (!charges.some((charge) => charge.scope === 'tenant')) charges.unshift({ ...quota, cost: total });
      } else {
        charges.push({ ...quota, cost: jobs });
      }
    }
  }
  const taken: ShardTake[] = [];
  for (const { scope, id, bucket, cost } of charges) {
    const queues = scope === 'queue' ? [id] : [];
    if (cost > bucket.capacity) {
      await giveBack(options.store, taken, now());
      return refusal({ scope, id, queues, retryAfterSeconds: 0, reason: QUOTA_REASONS.tooLarge });
    }
    // A token bucket stores no per-call entry, so the token is unused. A bucket of a high rate is
    // spread over shards (lib/limiters/shards.ts).
    const result = await acquireSharded(options.store, { key: quotaKey(scope, id), spec: bucket, nowMs: now(), token: 'quota', cost }, random);
    if (!result.allowed) {
      await giveBack(options.store, taken, now());
      return refusal({ scope, id, queues, retryAfterSeconds: toRetryAfterSeconds(result.retryAfterMs), reason: QUOTA_REASONS.exceeded });
    }
    taken.push(...result.taken);
  }
  return { allowed: true };
}

/**
 * Gives back the points of jobs that were admitted but then not enqueued (SQS refused them), so a
 * producer pays only for jobs that reached a queue. Best effort: one write per bucket.
 */
export async function refundQuotas(quotas: ResolvedQuotas, request: MultiQueueQuotaRequest, options: QuotaCheckOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const total = [...request.jobsByQueue.values()].reduce((sum, jobs) => sum + jobs, 0);
  const random = options.random ?? Math.random;
  const refunds = new Map<string, { key: ReturnType<typeof quotaKey>; bucket: QuotaBucket; cost: number }>();
  for (const [queue, jobs] of request.jobsByQueue) {
    for (const { scope, id, bucket } of applicableQuotas(quotas, { ...(request.tenant === undefined ? {} : { tenant: request.tenant }), queue })) {
      refunds.set(`${scope}#${id}`, { key: quotaKey(scope, id), bucket, cost: scope === 'tenant' ? total : jobs });
    }
  }
  await Promise.all([...refunds.values()].filter((entry) => entry.cost > 0).map(({ key, bucket, cost }) => refundSharded(options.store, key, bucket, cost, now(), random)));
}

function refusal(limit: QuotaLimit): QuotaDecision {
  return { allowed: false, retryAfterSeconds: limit.retryAfterSeconds, limits: [limit] };
}


