/**
 * Hopper's HTTP API (the api function): enqueue with quota and backlog backpressure, and the admin
 * routes for queues, sets, batches, crons, stats and limits.
 */
export { createApiHandler, apiRoutes, type ApiHandlerOptions } from './handler';
export { API_DEFAULTS, apiConfigFromEnv, type ApiConfig, type BacklogLimit } from './config';
export type { ApiContext, BatchReader, LimitsReader, SetStore } from './context';
export { API_ERRORS, ApiError, type ApiRequest, type ApiResponse, type Caller } from './http';
export { ANONYMOUS_TENANT, principalOf, tenantOf } from './event';
export { checkBacklog, BACKLOG_REASONS, type BacklogVerdict, type QueueActivity } from './backlog';
export { QueueState, isPaused, type QueueBackend, type QueueCounts } from './queue-state';
