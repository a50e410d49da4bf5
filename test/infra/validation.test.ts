import { CfnParameter, Duration, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { JobSystem, type JobSystemProps, type WorkerOptions } from '../../infra/job-system.js';
import { isHopperError } from '../../lib/errors/base.js';
import { logicalIdOf, newJobSystem, newStack, newWorker } from './support.js';

/** Runs `action` and returns the error it throws (failing the test when it does not throw). */
function errorOf(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected an error, but none was thrown');
}

describe('JobSystem props validation', () => {
  describe.each<[string, JobSystemProps, string]>([
    ['a queue name with a space', { queues: { 'bad name': {} } }, `queue name "bad name" is invalid: a queue name is 1 to 64 letters, digits, '-' or '_'`],
    ['a queue name of 65 characters', { queues: { ['q'.repeat(65)]: {} } }, `queue name "${'q'.repeat(65)}" is invalid: a queue name is 1 to 64 letters, digits, '-' or '_'`],
    ['an empty queue name', { queues: { '': {} } }, `queue name "" is invalid: a queue name is 1 to 64 letters, digits, '-' or '_'`],
    ['no queues', { queues: {} }, 'queues must declare at least one queue, but none was provided'],
    ['maxConcurrency 0', { queues: { critical: { maxConcurrency: 0 } } }, 'queues.critical.maxConcurrency must be between 1 and 10000, but 0 was provided'],
    ['maxConcurrency 10001', { queues: { critical: { maxConcurrency: 10_001 } } }, 'queues.critical.maxConcurrency must be between 1 and 10000, but 10001 was provided'],
    ['batchSize 11', { queues: { default: { batchSize: 11 } } }, 'queues.default.batchSize must be between 1 and 10, but 11 was provided'],
    ['batchSize 0', { queues: { default: { batchSize: 0 } } }, 'queues.default.batchSize must be between 1 and 10, but 0 was provided'],
    ['maxReceiveCount 0', { queues: { default: { maxReceiveCount: 0 } } }, 'queues.default.maxReceiveCount must be between 1 and 1000, but 0 was provided'],
    ['a batching window of 301 s', { queues: { default: { maxBatchingWindow: Duration.seconds(301) } } }, 'queues.default.maxBatchingWindow must be between 0 seconds and 5 minutes, but 5 minutes 1 second was provided'],
    ['a visibility timeout of 13 h', { queues: { default: { visibilityTimeout: Duration.hours(13) } } }, 'queues.default.visibilityTimeout must be between 0 seconds and 12 hours, but 13 hours was provided'],
    ['retry.maxRetries 1001', { retry: { maxRetries: 1001 } }, 'retry.maxRetries must be between 0 and 1000, but 1001 was provided'],
    ['retry.maxConcurrency 1', { retry: { maxConcurrency: 1 } }, 'retry.maxConcurrency must be between 2 and 1000, but 1 was provided'],
    ['a dead-set retention of 12 hours', { deadSetRetention: Duration.hours(12) }, 'deadSetRetention must be a whole number of days, at least 1, but 12 hours was provided'],
    ['a dead-set retention of 36 hours', { deadSetRetention: Duration.hours(36) }, 'deadSetRetention must be a whole number of days, at least 1, but 1 day 12 hours was provided'],
  ])('rejects %s', (_, props, message) => {
    it('with a ConfigurationError that says what was expected and what was given', () => {
      const error = errorOf(() => new JobSystem(newStack(), 'Jobs', props));

      expect(error.message).toBe(message);
      expect(isHopperError(error, 'ConfigurationError')).toBe(true);
    });
  });

  it('accepts the bounds', () => {
    const { jobs } = newJobSystem({
      queues: {
        [`a-b_C9${'x'.repeat(58)}`]: { maxConcurrency: 1, batchSize: 1, maxReceiveCount: 1000, visibilityTimeout: Duration.hours(12) },
        z: { maxConcurrency: 10_000, batchSize: 10, maxBatchingWindow: Duration.seconds(300) },
      },
      retry: { maxRetries: 0, maxConcurrency: 1000 },
      deadSetRetention: Duration.days(1),
    });

    expect(jobs.queueNames).toHaveLength(2);
  });
});

describe('JobSystem.addWorker validation', () => {
  const declared = { queues: { default: {}, critical: {} } };

  it('rejects a queue that is not declared, listing the declared ones', () => {
    const { stack, jobs } = newJobSystem(declared);

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['reports'] }));

    expect(error.message).toBe('queue "reports" is not declared; declared queues: default, critical');
  });

  it('rejects a queue that another worker already serves, naming that worker', () => {
    const { stack, jobs } = newJobSystem(declared);
    jobs.addWorker(newWorker(stack, 'WorkerA'), { queues: ['default'] });

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'WorkerB'), { queues: ['critical', 'default'] }));

    expect(error.message).toBe('queue "default" is already served by Test/WorkerA; a queue has exactly one worker, so serve all of its job types from that function');
  });

  it('leaves no half-added worker behind when it rejects one queue of several', () => {
    const { stack, jobs } = newJobSystem(declared);
    jobs.addWorker(newWorker(stack, 'WorkerA'), { queues: ['default'] });
    errorOf(() => jobs.addWorker(newWorker(stack, 'WorkerB'), { queues: ['critical', 'default'] }));

    expect(() => jobs.addWorker(newWorker(stack, 'WorkerC'), { queues: ['critical'] })).not.toThrow();
  });

  it('rejects a queue listed twice', () => {
    const { stack, jobs } = newJobSystem(declared);

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['default', 'default'] }));

    expect(error.message).toBe('addWorker lists queue "default" more than once');
  });

  it('rejects an empty queue list', () => {
    const { stack, jobs } = newJobSystem(declared);

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker'), { queues: [] }));

    expect(error.message).toBe('addWorker needs at least one queue; declared queues: default, critical');
  });

  it.each<[string, Partial<WorkerOptions>, string]>([
    ['maxConcurrency 0', { maxConcurrency: 0 }, 'maxConcurrency must be between 1 and 10000, but 0 was provided'],
    ['batchSize 11', { batchSize: 11 }, 'batchSize must be between 1 and 10, but 11 was provided'],
    ['a batching window of 6 minutes', { maxBatchingWindow: Duration.minutes(6) }, 'maxBatchingWindow must be between 0 seconds and 5 minutes, but 6 minutes was provided'],
  ])('rejects %s', (_, options, message) => {
    const { stack, jobs } = newJobSystem(declared);

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['default'], ...options }));

    expect(error.message).toBe(message);
  });

  it('rejects an explicit visibility timeout shorter than the worker timeout', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: { visibilityTimeout: Duration.seconds(30) } } });

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker', Duration.minutes(2)), { queues: ['default'] }));

    expect(error.message).toBe('queues.default.visibilityTimeout must be at least the timeout of its worker Test/Worker (120 seconds), but 30 seconds was provided');
  });

  it('rejects an explicit visibility timeout shorter than the worker timeout plus its batching window', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: { visibilityTimeout: Duration.seconds(150), maxBatchingWindow: Duration.seconds(60) } } });

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker', Duration.minutes(2)), { queues: ['default'] }));

    expect(error.message).toBe('queues.default.visibilityTimeout must be at least the timeout of its worker Test/Worker (120 seconds) plus its batching window (60 seconds), but 150 seconds was provided');
  });

  it.each([1, 2])('refuses a worker with a %i s timeout, saying what to set', (seconds) => {
    const { stack, jobs } = newJobSystem(declared);

    const error = errorOf(() => jobs.addWorker(newWorker(stack, 'Worker', Duration.seconds(seconds)), { queues: ['default'] }));

    expect(error.message).toBe(`the timeout of worker Test/Worker must be at least 3 seconds, but ${seconds} seconds was provided: `
      + 'a worker keeps a fifth of each invocation (at most 3 s) to report failures and hand back the jobs it did not start; '
      + 'set `timeout: Duration.seconds(30)` on the function (or longer, for your slowest job)');
    expect(isHopperError(error, 'ConfigurationError')).toBe(true);
    // Nothing was connected: the only mappings are the retry function's and the batch function's.
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::Lambda::EventSourceMapping'))).toHaveLength(2);
  });

  it.each([
    { name: 'Lambda\'s default timeout', timeout: undefined },
    { name: 'a 3 s timeout', timeout: Duration.seconds(3) },
  ])('accepts a worker with $name, whose queue keeps a 30 s visibility timeout', ({ timeout }) => {
    const { stack, jobs } = newJobSystem(declared);

    jobs.addWorker(newWorker(stack, 'Worker', timeout), { queues: ['default'] });

    expect(Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack, jobs.queue('default').queueArn)].Properties.VisibilityTimeout).toBe(30);
  });

  it('does not check a timeout unknown at synth (a token), whose queue then needs an explicit visibility timeout', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: { visibilityTimeout: Duration.minutes(5) } } });
    const timeout = Duration.seconds(Token.asNumber(new CfnParameter(stack, 'WorkerTimeout', { type: 'Number' })));

    expect(() => jobs.addWorker(newWorker(stack, 'Worker', timeout), { queues: ['default'] })).not.toThrow();
  });

  it('rejects queue(name) for a queue that is not declared', () => {
    const { jobs } = newJobSystem(declared);

    expect(errorOf(() => jobs.queue('nope')).message).toBe('queue "nope" is not declared; declared queues: default, critical');
    expect(errorOf(() => jobs.metricQueueLatency('nope')).message).toBe('queue "nope" is not declared; declared queues: default, critical');
  });
});
