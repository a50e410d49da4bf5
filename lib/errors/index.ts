/**
 * `hopper-jobs/errors`: every error class Hopper throws or records, in one import. Recognise an
 * error by its `name` ({@link isHopperError}) when it may come from another bundle or process.
 */
export * from './base.js';
export * from './batch.js';
export * from './limiter.js';
export * from './unique.js';
export * from './worker.js';
