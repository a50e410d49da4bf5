/**
 * The worker entry point: `createWorker` and what handlers use. Importing it loads the SQS client
 * only; features that need DynamoDB load it when first used.
 */
export { createWorker, WORKER_DEFAULTS, type SqsBatchHandler } from './create-worker.js';
export type { BatchContext, FlowContext, JobContext, JobDefinition, JobHandler, ValidatedJob, WorkerOptions, WorkerSqs } from './types.js';
export { RESERVATION_DEFAULTS } from './reservation.js';
export { createLogger, LOG_LEVELS, type LogFields, type LogLevel, type LogSink, type Logger } from '../observability/logger.js';
export { InvalidJobArgsError, IterationBusyError, IterationError, IterationLostError, OnceStepBusyError, OnceStepError, ReservationError, UnknownJobTypeError } from '../errors/worker.js';
export { iterate, ITERATE_DEFAULTS, type IterateDefinition, type IteratingJob } from './iterate.js';
export { ONCE_LIMITS, type Once } from './once.js';
export { defineJobs, withArgs } from './jobs.js';
export type { JobArgs, StandardIssue, StandardSchemaV1 } from '../job/typed.js';
export { RateLimitedError, UnrecoverableJobError } from '../errors/base.js';
export type { SqsBatchSender } from '../aws/sqs-batch.js';
export { batchCallbackArgs, type BatchCallbackStatus } from '../batch/callbacks.js';
export { defineMiddleware } from './define-middleware.js';
export {
  ENQUEUE_VIAS, HOPPER_STEPS, type ClientMiddleware, type DeadJob, type EnqueueContext, type EnqueueVia, type HopperStep, type LifecycleHooks,
  type Middleware, type ServerMiddleware, type SettledBatch,
} from '../middleware/chain.js';
export { InvalidMiddlewareError, MiddlewareError } from '../errors/middleware.js';
export { compressArgs, COMPRESS_ARGS_DEFAULTS, currentTrace, GZIP_ARGS_MARKER, traceContext, type CompressArgsOptions, type MiddlewarePair, type RunningTrace } from '../middleware/builtin.js';
