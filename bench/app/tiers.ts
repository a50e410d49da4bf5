/**
 * The tiers bench's app (stack `HopperBenchTiers`): queue `tiered` in three priority tiers
 * (critical 5 s, default 1 min, bulk 1 h) and queue `flat` without tiers, both of 60 jobs at once,
 * served by the bench worker; the governor runs as the JobSystem deploys it.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { HopperFunction } from '../../infra/hopper-function.js';
import { JobSystem } from '../../infra/job-system.js';
import { BENCH_ENTRIES, TIERS_APP } from './entries.js';

const app = new App();
const stack = new Stack(app, 'HopperBenchTiers', { env: { region: 'us-east-1' } });
const tiers = Object.fromEntries(Object.entries(TIERS_APP.targetSeconds).map(([name, seconds]) => [name, { targetAge: Duration.seconds(seconds) }]));
const jobs = new JobSystem(stack, 'Jobs', {
  queues: { tiered: { maxConcurrency: TIERS_APP.maxConcurrency, tiers }, flat: { maxConcurrency: TIERS_APP.maxConcurrency } },
});
const worker = new HopperFunction(stack, 'Worker', { entry: BENCH_ENTRIES.worker, description: 'Hopper bench worker: Classed' });
jobs.addWorker(worker.function, { queues: ['tiered', 'flat'] });
app.synth();
