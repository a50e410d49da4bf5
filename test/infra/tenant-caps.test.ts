/**
 * A queue's `perTenant` caps at synth: checked with errors naming the option, told to the functions
 * in HOPPER_TENANT_CAPS with the lease of the worker's timeout, and the overrides' rights: workers
 * of capped queues read them, the API writes them, on their own partitions only.
 */
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { actionsOf, configuredVariables, newJobSystem, newWorker, roleRefOf, statementsOfRole } from './support.js';

describe('perTenant caps', () => {
  it('tells the workers each capped queue\'s cap, with a lease as long as its worker\'s timeout', () => {
    const { stack, jobs } = newJobSystem({ queues: { email: { perTenant: { concurrency: 5, rate: { limit: 100, per: 'minute' } } }, reports: { perTenant: { rate: { limit: 10, per: Duration.hours(2) } } }, plain: {} } });
    const worker = newWorker(stack, 'Worker', Duration.seconds(40));
    jobs.addWorker(worker, { queues: ['email', 'reports', 'plain'] });

    expect(JSON.parse(String(configuredVariables(stack, worker)[ENV.tenantCaps]))).toEqual({
      email: { cap: { concurrency: 5, rate: { limit: 100, perSeconds: 60 } }, leaseSeconds: 40 },
      reports: { cap: { rate: { limit: 10, perSeconds: 7_200 } }, leaseSeconds: 40 },
    });
  });

  it('sets nothing, and grants no read of overrides, when no queue caps its tenants', () => {
    const { stack, jobs } = newJobSystem({ queues: { plain: {} } });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['plain'] });

    expect(configuredVariables(stack, worker)[ENV.tenantCaps]).toBeUndefined();
    const queries = statementsOfRole(Template.fromStack(stack), roleRefOf(stack, worker)).filter((statement) => actionsOf(statement).includes('dynamodb:Query'));
    expect(queries.map((statement) => JSON.stringify(statement.Condition ?? {})).some((condition) => condition.includes('tenantcap'))).toBe(false);
  });

  it('lets a capped queue\'s worker query the overrides\' partitions, and the API write them, nothing else of the limits table', () => {
    const { stack, jobs } = newJobSystem({ queues: { email: { perTenant: { concurrency: 5 } } } });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['email'] });
    const template = Template.fromStack(stack);

    const workerReads = statementsOfRole(template, roleRefOf(stack, worker)).filter((statement) => JSON.stringify(statement.Condition ?? {}).includes('tenantcap'));
    expect(workerReads.map((statement) => ({ actions: actionsOf(statement), condition: statement.Condition }))).toEqual([
      { actions: ['dynamodb:Query'], condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['tenantcap#*'] } } },
    ]);
    const apiWrites = statementsOfRole(template, roleRefOf(stack, jobs.apiFunction)).filter((statement) => JSON.stringify(statement.Condition ?? {}).includes('tenantcap'));
    expect(apiWrites.map((statement) => ({ actions: actionsOf(statement), condition: statement.Condition }))).toEqual([
      { actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['tenantcap#*', 'tenantcaps*'] } } },
    ]);
  });

  it.each([
    [{ concurrency: 0 }, 'queues.email.perTenant.concurrency must be an integer from 1 to 1000, but 0 was provided'],
    [{ rate: { limit: 1.5, per: 'minute' as const } }, 'queues.email.perTenant.rate.limit must be an integer from 1 to 1000000000, but 1.5 was provided'],
    [{ rate: { limit: 5, per: Duration.millis(500) } }, 'queues.email.perTenant.rate.perSeconds must be an integer number of seconds from 1 to 2592000, but 0.5 was provided'],
    [{}, 'queues.email.perTenant must set concurrency, rate or both, but neither was provided'],
  ])('refuses %j with a clear error', (perTenant, message) => {
    expect(() => newJobSystem({ queues: { email: { perTenant } } })).toThrow(message);
  });
});
