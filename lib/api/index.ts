/**
 * Hopper's HTTP API (the api function): enqueue with quota and backlog backpressure, and the admin
 * routes for queues, sets, batches, crons, stats and limits.
 */
export { createApiHandler, apiRoutes, type ApiHandlerOptions } from './handler.js';
export { API_DEFAULTS, apiConfigOf, type ApiConfig, type BacklogLimit } from './config.js';
export type { ApiContext, BatchReader, LimitsReader, SetStore } from './context.js';
export { API_ERRORS, ApiError, type ApiRequest, type ApiResponse, type Caller } from './http.js';
export { ANONYMOUS_TENANT, principalOf, tenantOf } from './event.js';
export { checkBacklog, BACKLOG_REASONS, type BacklogVerdict, type QueueActivity } from './backlog.js';
export { QueueState, isPaused, type QueueBackend, type QueueCounts } from './queue-state.js';
