/**
 * Hopper's CDK constructs.
 *
 * @example
 * import { HopperFunction, JobSystem } from './infra';
 * const jobs = new JobSystem(stack, 'Jobs', { queues: { default: {}, critical: { maxConcurrency: 50 } } });
 * const worker = new HopperFunction(stack, 'Worker', { entry: 'src/worker.ts' });
 * jobs.addWorker(worker.function, { queues: ['default', 'critical'] });
 * jobs.grantEnqueue(producerFunction); // rights, and the variables `new Client()` reads
 */
export { HopperFunction, HOPPER_BUNDLING, HOPPER_RUNTIME, type HopperFunctionProps } from './hopper-function.js';
export { pythonWorkerCode, PYTHON_MODULE } from './python-worker-code.js';
export {
  ALARM_DEFAULTS, JobSystem, JOB_SYSTEM_DEFAULTS, type CronDefinition, type CronJobTemplate, type IJobSystem, type JobMetricOptions, type JobQueueAttributes,
  type JobSystemAlarmOptions, type JobSystemAttributes, type JobSystemProps, type MetricsOptions, type QueueOptions, type RetryOptions, type WorkerOptions,
} from './job-system.js';
export { JobSystemMonitoring, type JobSystemMonitoringProps } from './job-system-monitoring.js';
export { JobScheduler, type JobSchedulerProps } from './job-scheduler.js';
export { LambdaScheduleTarget, type LambdaScheduleTargetProps } from './lambda-schedule-target.js';
