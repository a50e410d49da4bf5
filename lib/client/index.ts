/**
 * `hopper-jobs/client`: enqueue jobs from any Node.js process (a Lambda function, a script, a
 * server) straight to SQS.
 */
export * from './client.js';
export type { JobArgs, JobShapes, UntypedJobs } from '../job/typed.js';
export { MiddlewareError } from '../errors/middleware.js';
export type { AnyMiddleware, ClientMiddleware, EnqueueContext, EnqueueVia, Middleware } from '../middleware/chain.js';
export { compressArgs, traceContext, type CompressArgsOptions, type MiddlewarePair } from '../middleware/builtin.js';
