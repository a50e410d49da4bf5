/**
 * The HTTP client of Hopper's API: enqueue with backpressure (429/503 honoured, stale work
 * discarded and counted) and signed admin calls.
 */
export { ApiClient, API_CLIENT_DEFAULTS } from './client.js';
export type { ApiClientOptions, ApiClientResponse, BulkTotals, DiscardCounts, SetFilter } from './client.js';
export type {
  FindJobView, BatchesView, BusyView, BusyJobView, SetCountsView, SetCountView, BatchCallbackView, BatchView, BulkView, JobStatusView, CohortsView, CohortView, CronsView, CronTriggerView, CronView, EnqueuedView, QueuesView, QueueToggleView,
  QueueView, RedriveView, SetEntryRetryView, SetEntryView, SetName, SetPageView, StatsSummary, TenantCapView, TenantCapsView, TenantOverrideInput, TenantOverrideView,
} from '../api/wire.js';
export type { EnqueueOptions, ScheduleWhen, TypedEnqueueOptions, TypedJobInput } from '../client/typed-input.js';
export type { ResultOptions } from '../client/result.js';
export { JobResultError, type JobResultProblem } from '../errors/enqueue.js';
export { ApiResponseError, DISCARD_REASONS, JobDiscardedError, type DiscardReason } from '../errors/api-client.js';
export { DEFAULT_RETRY_AFTER_SECONDS, Gates, parseRateLimits, parseRetryAfter, type RateLimitGroup } from './rate-limits.js';
export { queryParameters, regionOfFunctionUrl, signRequest, type AwsCredentials, type CredentialSource } from './signer.js';
