/**
 * The worker entry point: `createWorker` and what handlers use. Importing it loads the SQS client
 * only; features that need DynamoDB load it when first used.
 */
export { createWorker, WORKER_DEFAULTS, type SqsBatchHandler } from './create-worker';
export type { BatchContext, JobContext, JobHandler, WorkerOptions, WorkerSqs } from './types';
export { RESERVATION_DEFAULTS, ReservationError } from './reservation';
export { createLogger, LOG_LEVELS, type LogFields, type LogLevel, type LogSink, type Logger } from './logger';
export { UnknownJobTypeError } from './errors';
export { RateLimitedError, UnrecoverableJobError } from '../errors';
export type { SqsBatchSender } from '../sqs-batch';
