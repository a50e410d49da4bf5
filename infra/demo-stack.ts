/**
 * The demo stack: a JobSystem with two queues and one worker running the demo jobs
 * (infra/demo/worker.ts). `npx cdk synth` synthesizes it; `hopper dev` runs it locally.
 */
import { fileURLToPath } from 'node:url';
import { type App, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import type { Env } from '../lib/config/env.js';
import { HopperFunction } from './hopper-function.js';
import { JobSystem } from './job-system.js';

const DEMO_WORKER_ENTRY = fileURLToPath(new URL('./demo/worker.ts', import.meta.url));

/** Props of the {@link DemoStack}. */
export interface DemoStackProps extends StackProps {
  /**
   * Timeout of the demo worker.
   * @default Duration.seconds(30)
   */
  readonly workerTimeout?: Duration;
}

/** Hopper's demo application: queues `default` and `critical`, served by one worker, and an hourly cron. */
export class DemoStack extends Stack {
  /** The job system. */
  readonly jobs: JobSystem;
  /** The worker serving both queues. */
  readonly worker: HopperFunction;

  constructor(scope: Construct, id: string, props: DemoStackProps = {}) {
    super(scope, id, props);
    this.jobs = new JobSystem(this, 'Jobs', {
      queues: { default: {}, critical: { maxConcurrency: 50, perTenant: { concurrency: 20 } } },
      crons: [{ name: 'hourly-greeting', schedule: '0 * * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Greet', args: ['cron'] } }],
    });
    this.worker = new HopperFunction(this, 'Worker', {
      entry: DEMO_WORKER_ENTRY,
      description: 'Hopper demo worker: Greet, SendEmail, Slow, AlwaysFails',
      timeout: props.workerTimeout ?? Duration.seconds(30),
    });
    this.jobs.addWorker(this.worker.function, { queues: ['default', 'critical'] });
  }
}

/**
 * Sets up Hopper's demo app on `app`: cdk-nag's AWS Solutions checks on every stack, and the demo
 * stack `HopperDemo` in the region from the environment (`us-east-1` when unset). No account
 * lookups: the app synthesizes offline.
 */
export function configureDemoApp(app: App, env: Env = process.env): DemoStack {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return new DemoStack(app, 'HopperDemo', {
    env: { region: env.CDK_DEFAULT_REGION ?? env.AWS_REGION ?? 'us-east-1' },
  });
}
