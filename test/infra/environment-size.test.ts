/**
 * Lambda's 4 KB environment limit at synth (issue 16, item 1): CloudFormation would refuse a
 * function over it at deploy, so synth refuses first, counting every token at the longest AWS can
 * make it; and what grows with the stack is kept out of the environment, in the configuration
 * document, so the JobSystem's functions stay far under the limit at hundreds of queues and crons.
 */
import { App, CfnResource, CustomResource, Stack, STACK_RESOURCE_LIMIT_CONTEXT as STACK_RESOURCE_LIMIT } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { longestEnvironment, longestJsonBytes } from '../../infra/environment-size.js';
import { MAX_PART_BYTES } from '../../infra/job-system-configuration.js';
import { JobSystem, type JobSystemProps } from '../../infra/job-system.js';
import { newJobSystem, newStack, newWorker } from './support.js';

/** The error synth throws, or undefined when it synthesizes. */
function synthError(stack: Stack): string | undefined {
  try {
    Template.fromStack(stack);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** `count` queues named q00, q01, … */
function queues(count: number): NonNullable<JobSystemProps['queues']> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`q${String(index).padStart(3, '0')}`, {}]));
}

/** `count` crons with a job template of a few arguments each. */
function crons(count: number): NonNullable<JobSystemProps['crons']> {
  return Array.from({ length: count }, (_, index) => ({
    name: `report-${index}`,
    schedule: `${index % 60} ${index % 24} * * *`,
    timezone: 'Europe/Vienna',
    job: { jobtype: 'NightlyReport', queue: 'q000', args: [{ account: `acct-${index}`, format: 'pdf', recipients: ['ops@example.com'] }] },
  }));
}

describe('environment size at synth', () => {
  it('counts a queue URL at its longest: the longest region, the China URL suffix and a generated name of stack, logical id and suffix', () => {
    const stack = newStack('Shop');
    const queue = new sqs.Queue(stack, 'Orders');
    const fn = newWorker(stack, 'Worker');
    fn.addEnvironment('URL', queue.queueUrl);
    fn.addEnvironment('NAMED', new sqs.Queue(stack, 'Named', { queueName: 'named' }).queueUrl);
    const logicalId = stack.resolve((queue.node.defaultChild as sqs.CfnQueue).logicalId) as string;

    // https://sqs. (12) + region (14) + . (1) + amazonaws.com.cn (16) + / (1) + account (12) + / (1) = 57
    expect(longestEnvironment(fn)).toEqual([
      { name: 'URL', bytes: 3 + 57 + 'Shop'.length + 1 + logicalId.length + 1 + 13 },
      { name: 'NAMED', bytes: 5 + 57 + 'named'.length },
    ]);
  });

  /**
   * A JobSystem of `queueCount` queues in nested stacks (the layout for hundreds of queues), all
   * served by one worker, and `cronCount` crons, with a producer. CloudFormation's limit of 500
   * resources per stack is lifted for the cron-heavy ones: this measures Lambda's limits (the
   * 200-queue stack's own limits are checked in cfn-lint.test.ts).
   */
  function served(queueCount: number, cronCount: number): Stack {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], [STACK_RESOURCE_LIMIT]: 0 } });
    const stack = new Stack(app, 'Test');
    const jobs = new JobSystem(stack, 'Jobs', { queues: queues(queueCount), crons: crons(cronCount), nestedStacks: true });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: Object.keys(queues(queueCount)) });
    jobs.grantEnqueue(newWorker(stack, 'Producer'));
    return stack;
  }

  /** Every function of `stack` by path, with its environment's size at its longest. */
  function environmentSizes(stack: Stack): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const node of stack.node.findAll()) {
      if (node instanceof lambda.Function) sizes[node.node.path] = longestEnvironment(node).reduce((sum, entry) => sum + entry.bytes, 0);
    }
    return sizes;
  }

  it('keeps every function\'s environment the same size at 200 served queues and 100 crons as at one queue, under 1 KB', () => {
    const small = served(1, 0);
    const large = served(200, 100);

    expect(synthError(large)).toBeUndefined();
    const sizes = environmentSizes(large);
    expect(Object.keys(sizes).sort()).toEqual([
      'Test/Jobs/ApiFunction/Function', 'Test/Jobs/BatchFunction/Function', 'Test/Jobs/Configuration/ConfigFunction/Function', 'Test/Jobs/RetryFunction/Function',
      'Test/Jobs/Scheduler/CronFunction/Function', 'Test/Jobs/Scheduler/SweepFunction/Function', 'Test/Jobs/Scheduler/SweepHelperFunction/Function', 'Test/Producer', 'Test/Worker',
    ]);
    for (const bytes of Object.values(sizes)) expect(bytes).toBeLessThan(1024);
    // A cron function exists only with crons; every other function's environment is the same size.
    const { 'Test/Jobs/Scheduler/CronFunction/Function': cron, ...rest } = sizes;
    expect(cron).toBeGreaterThan(0);
    expect(rest).toEqual(environmentSizes(small));
  });

  it('puts the queues, crons and mappings of 200 queues and 100 crons into the configuration document, within what CloudFormation passes its function', () => {
    const stack = served(200, 100);
    const parts = Template.fromStack(stack).findResources('Custom::HopperConfiguration');
    const byPart = Object.fromEntries(Object.entries(parts).map(([logicalId, resource]) => {
      const properties = (resource as { Properties: Record<string, unknown> }).Properties;
      const construct = stack.node.findAll().find((node) => node instanceof CustomResource && stack.resolve((node.node.defaultChild as CfnResource).logicalId) === logicalId);
      const { ServiceToken: _token, ...passed } = properties;
      return [String(properties.Part), { variables: Object.keys(properties.Variables as object).sort(), bytes: longestJsonBytes(construct ?? stack, passed) }];
    }));

    expect(byPart.document?.variables).toEqual(['HOPPER_CRONS', 'HOPPER_QUEUE_CONCURRENCY', 'HOPPER_QUEUE_MAX_RECEIVES', 'HOPPER_QUEUE_URLS', 'HOPPER_QUEUE_VISIBILITY']);
    expect(byPart.mappings?.variables).toEqual(['HOPPER_QUEUE_MAPPINGS']);
    expect(byPart.document?.bytes).toBeGreaterThan(200 * 100);
    expect(byPart.document?.bytes).toBeLessThan(MAX_PART_BYTES);
    expect(byPart.mappings?.bytes).toBeLessThan(MAX_PART_BYTES);
  });

  it('refuses a document over what CloudFormation can pass its function, naming the part', () => {
    expect(synthError(served(20, 800))).toMatch(/the configuration document's document part comes to [\d,]+ bytes with every name and URL at its longest, over the 120,000 bytes/);
  });

  it('still refuses a function whose own variables are over the limit, naming them', () => {
    const { stack, jobs } = newJobSystem({ queues: queues(2) });
    const worker = newWorker(stack, 'Worker');
    worker.addEnvironment('CERTIFICATE', 'x'.repeat(4_000));
    jobs.addWorker(worker, { queues: ['q000'] });

    const error = synthError(stack);
    expect(error).toMatch(/Lambda would refuse Test\/Worker at deploy: its environment variables come to [\d,]+ bytes .*the largest: CERTIFICATE/);
    expect(error).toContain('move variables of your own out of this function\'s environment');
  });
});
