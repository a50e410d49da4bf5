/**
 * `hopper-jobs/errors`: every error class Hopper throws or records, in one import. Recognise an
 * error by its `name` ({@link isHopperError}) when it may come from another bundle or process.
 * The modules of this folder import nothing but each other.
 */
export * from './base.js';
export * from './admin.js';
export * from './api.js';
export * from './api-client.js';
export * from './batch.js';
export * from './cron.js';
export * from './enqueue.js';
export * from './limiter.js';
export * from './local.js';
export * from './unique.js';
export * from './worker.js';
export * from './middleware.js';
export * from './flow.js';
