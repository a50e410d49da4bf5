/**
 * The bench app (stack `HopperBench`): a JobSystem with its defaults (stats on) and the queues
 * `default` (the bench worker) and `latency` (no worker: the enqueue-latency load only piles up),
 * and, beside it, a bare SQS handler on its own queue for the overhead comparison. Both functions
 * are HopperFunctions, so they bundle, size and run alike.
 */
import { App, Stack } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { HopperFunction } from '../../infra/hopper-function.js';
import { JobSystem } from '../../infra/job-system.js';
import { BENCH_ENTRIES } from './entries.js';

const app = new App();
const stack = new Stack(app, 'HopperBench', { env: { region: 'us-east-1' } });
// Tenants' caps on `default` only hold jobs that carry a tenant (the cost bench's tenant-cap scenario).
const jobs = new JobSystem(stack, 'Jobs', { queues: { default: { perTenant: { concurrency: 1_000 } }, latency: {} } });
const worker = new HopperFunction(stack, 'Worker', { entry: BENCH_ENTRIES.worker, description: 'Hopper bench worker: Noop, FailOnce' });
jobs.addWorker(worker.function, { queues: ['default'] });

const bareQueue = new sqs.Queue(stack, 'BareQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
const bare = new HopperFunction(stack, 'Bare', { entry: BENCH_ENTRIES.bare, description: 'Bare SQS handler: parses each body, nothing else' });
bare.function.addEventSource(new SqsEventSource(bareQueue, { batchSize: 10, reportBatchItemFailures: true }));
app.synth();
