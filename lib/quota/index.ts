/**
 * Quota backpressure for the API: per-tenant and per-queue token buckets in the limits table,
 * and the 429 answer producers honour.
 *
 * @example
 * const quotas = parseQuotas(process.env.HOPPER_QUOTAS);
 * const decision = await checkQuotas(quotas, { tenant, queue, jobs: jobs.length }, { store });
 * if (!decision.allowed) return quotaExceededResponse(decision);
 */
export { NO_QUOTAS, parseQuotas, resolveQuotas } from './config.js';
export type { QuotaBucket, QuotaRule, QuotasConfig, ResolvedQuotas } from './config.js';
export { applicableQuotas, checkQuotas, checkQuotasForQueues, refundQuotas, QUOTA_REASONS, QUOTA_SCOPES } from './check.js';
export type { MultiQueueQuotaRequest, QuotaCheckOptions, QuotaDecision, QuotaLimit, QuotaReason, QuotaRequest, QuotaScope } from './check.js';
export { quotaExceededResponse, rateLimitsHeader, RATE_LIMITS_HEADER } from './response.js';
export type { QuotaResponse } from './response.js';
