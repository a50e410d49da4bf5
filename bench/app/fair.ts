/**
 * The fairness bench's app (stack `HopperBenchFair`): one queue, `tenants`, served by the bench
 * worker with at most 40 jobs at once (batches of 10, 4 invocations) — more than the 30 messages of
 * one tenant in flight that SQS fair queues' noisy-group rule needs.
 */
import { App, Stack } from 'aws-cdk-lib';
import { HopperFunction } from '../../infra/hopper-function.js';
import { JobSystem } from '../../infra/job-system.js';
import { BENCH_ENTRIES, FAIR_APP } from './entries.js';

const app = new App();
const stack = new Stack(app, 'HopperBenchFair', { env: { region: 'us-east-1' } });
const jobs = new JobSystem(stack, 'Jobs', { queues: { tenants: { maxConcurrency: FAIR_APP.maxConcurrency } } });
const worker = new HopperFunction(stack, 'Worker', { entry: BENCH_ENTRIES.worker, description: 'Hopper bench worker: Tenanted' });
jobs.addWorker(worker.function, { queues: ['tenants'] });
app.synth();
