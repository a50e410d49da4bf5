/**
 * A team's stack with Hopper: a job system with two queues, a worker that serves them, and a
 * producer Lambda that enqueues jobs.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { JobSystem } from 'hopper-jobs/infra';

export class OrdersStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const jobs = new JobSystem(this, 'Jobs', {
      queues: { default: {}, payments: { maxConcurrency: 5 } },
    });

    // The worker is a plain NodejsFunction; its timeout is how long a job may run (the queues'
    // visibility timeout follows it). A fixed runtime lets the bundle leave the AWS SDK to Lambda
    // (with NODEJS_LATEST, the default under cdk init's feature flags, CDK bundles the SDK).
    const worker = new NodejsFunction(this, 'Worker', { entry: 'src/worker.ts', runtime: Runtime.NODEJS_24_X, timeout: Duration.seconds(30) });
    jobs.addWorker(worker, { queues: ['default', 'payments'] });

    // A producer: grantEnqueue lets it send to the queues and gives it the Client's configuration.
    const producer = new NodejsFunction(this, 'Producer', { entry: 'src/producer.ts', runtime: Runtime.NODEJS_24_X, timeout: Duration.seconds(10) });
    jobs.grantEnqueue(producer);

    new CfnOutput(this, 'ProducerFunctionName', { value: producer.functionName });
  }
}
