/**
 * The stacks whose stateful resources test/infra/stateful-ids.test.ts holds: the demo app's stack,
 * and a fixture with what the demo does not show (a JobSystem nested in a construct, queue names
 * with `-` and `_`, queue options, several crons, workers of both kinds). Bundling is skipped.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { configureDemoApp } from '../../infra/demo-stack.js';
import { HopperFunction } from '../../infra/hopper-function.js';
import { JobSystem } from '../../infra/job-system.js';
import { newWorker } from './support.js';

const DEMO_WORKER_ENTRY = new URL('../../infra/demo/worker.ts', import.meta.url).pathname;

/** The demo stack `HopperDemo`, as `npx cdk synth` builds it (region from no environment). */
export function demoStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return configureDemoApp(app, {});
}

/**
 * Stack `HopperFixture`: JobSystem `Platform/Jobs` with queues `default`, `bulk-import` and
 * `low_priority`, two crons, a plain `lambda.Function` worker and a HopperFunction worker.
 */
export function fixtureStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'HopperFixture', { env: { region: 'eu-central-1' } });
  const platform = new Construct(stack, 'Platform');
  const jobs = new JobSystem(platform, 'Jobs', {
    queues: {
      default: {},
      'bulk-import': { maxReceiveCount: 5, visibilityTimeout: Duration.minutes(15), batchSize: 1 },
      low_priority: { maxConcurrency: 5 },
    },
    crons: [
      { name: 'nightly-report', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'] } },
      { name: 'purge_imports', schedule: '*/15 * * * *', timezone: 'UTC', job: { jobtype: 'Purge', args: [], queue: 'bulk-import' } },
    ],
  });
  jobs.addWorker(newWorker(stack, 'Worker', Duration.seconds(60)), { queues: ['default', 'low_priority'] });
  const importer = new HopperFunction(stack, 'Importer', { entry: DEMO_WORKER_ENTRY, timeout: Duration.minutes(5) });
  jobs.addWorker(importer.function, { queues: ['bulk-import'] });
  return stack;
}
