#!/usr/bin/env node
/** The CDK app: one stack with the job system, its worker and a producer. */
import { App } from 'aws-cdk-lib';
import { OrdersStack } from '../lib/orders-stack.js';

const app = new App();
new OrdersStack(app, 'Orders', {
  env: { region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
});
