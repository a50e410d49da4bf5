/**
 * Lambda's 4 KB environment limit at synth (issue 16, item 1): CloudFormation would refuse a
 * function over it at deploy, so synth refuses first, counting every token at the longest AWS can
 * make it.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { longestEnvironment } from '../../infra/environment-size.js';
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
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`q${String(index).padStart(2, '0')}`, {}]));
}

/** `count` crons with a job template of a few arguments each. */
function crons(count: number): NonNullable<JobSystemProps['crons']> {
  return Array.from({ length: count }, (_, index) => ({
    name: `report-${index}`,
    schedule: `${index} 3 * * *`,
    timezone: 'Europe/Vienna',
    job: { jobtype: 'NightlyReport', queue: 'q00', args: [{ account: `acct-${index}`, format: 'pdf', recipients: ['ops@example.com'] }] },
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

  /** A JobSystem of `queueCount` queues, all served by one worker, and `cronCount` crons. */
  function served(queueCount: number, cronCount: number): Stack {
    const { stack, jobs } = newJobSystem({ queues: queues(queueCount), crons: crons(cronCount) });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: Object.keys(queues(queueCount)) });
    return stack;
  }

  it('synthesizes a JobSystem of 12 served queues and 8 crons', () => {
    expect(synthError(served(12, 8))).toBeUndefined();
  });

  it('refuses 16 served queues and 8 crons, naming the API function and its largest variables', () => {
    const error = synthError(served(16, 8));
    expect(error).toMatch(/Lambda would refuse Test\/Jobs\/ApiFunction\/Function at deploy: its environment variables come to [\d,]+ bytes \(keys and values, UTF-8\), over Lambda's limit of 4,096 bytes; the largest: HOPPER_QUEUE_URLS \([\d,]+ bytes\), HOPPER_CRONS \([\d,]+ bytes\), HOPPER_QUEUE_MAPPINGS/);
    expect(error).toContain('split the queues and crons across JobSystems');
    // The worker's own environment (queue URLs, visibility) still fits at 16 queues.
    expect(error).not.toContain('Test/Worker ');
  });

  it('refuses a worker once the queue URLs alone are over the limit', () => {
    expect(synthError(served(40, 0))).toMatch(/Lambda would refuse Test\/Worker at deploy: its environment variables come to [\d,]+ bytes .*the largest: HOPPER_QUEUE_URLS/);
  });

  it('refuses a producer given the client environment by grantEnqueue', () => {
    const stack = newStack();
    const jobs = new JobSystem(stack, 'Jobs', { queues: queues(40) });
    jobs.grantEnqueue(newWorker(stack, 'Producer'));

    expect(synthError(stack)).toMatch(/Lambda would refuse Test\/Producer at deploy/);
  });
});
