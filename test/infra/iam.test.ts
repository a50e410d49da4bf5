import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  actionsOf, allIdentityStatements, allows, managedPoliciesOfRoles, newJobSystem, newWorker, resourcesOf, roleRefOf, statementsOfRole,
} from './support';

/** A JobSystem with two queues, a worker on both and a producer role granted enqueue. */
function fixture() {
  const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
  const worker = newWorker(stack, 'Worker');
  jobs.addWorker(worker, { queues: ['default', 'critical'] });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() });
  const grant = jobs.grantEnqueue(producer);
  const template = Template.fromStack(stack);
  const arn = (value: string): unknown => stack.resolve(value);
  return {
    stack, jobs, worker, producer, grant, template, arn,
    jobQueues: [arn(jobs.queue('default').queueArn), arn(jobs.queue('critical').queueArn)],
    retries: arn(jobs.retriesQueue.queueArn),
    table: arn(jobs.stateTable.tableArn),
  };
}

describe('least privilege', () => {
  it('grants no wildcard action and no action on every resource', () => {
    const { template } = fixture();
    const statements = allIdentityStatements(template);

    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      for (const action of actionsOf(statement)) expect(action, JSON.stringify(statement)).not.toContain('*');
      for (const resource of resourcesOf(statement)) expect(resource, JSON.stringify(statement)).not.toBe('*');
    }
  });

  it('attaches no AWS managed policy to any role', () => {
    const { stack, jobs } = newJobSystem();
    const template = Template.fromStack(stack);

    expect(managedPoliciesOfRoles(template)).toEqual([undefined, undefined]);
    expect([jobs.retryFunction.role, jobs.apiFunction.role].every((role) => role !== undefined)).toBe(true);
  });

  it('lets the retry function consume the retries queue, send to job queues, put into the state table and add to its stats — nothing else', () => {
    const { stack, jobs, template, jobQueues, retries, table } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, jobs.retryFunction));

    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
      expect(allows(statements, action, retries), action).toBe(true);
    }
    for (const queue of jobQueues) expect(allows(statements, 'sqs:SendMessage', queue)).toBe(true);
    expect(allows(statements, 'dynamodb:PutItem', table)).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(false);
    expect(allows(statements, 'dynamodb:UpdateItem', table)).toBe(true);
    expect(statements.flatMap(actionsOf).filter((action) => action.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents',
      'sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes',
      'sqs:SendMessage', 'dynamodb:PutItem', 'dynamodb:UpdateItem',
    ]));
  });

  it('lets a worker consume its queues, send to the retries queue and every job queue, and update only limiter state and stats', () => {
    const { stack, jobs, worker, template, jobQueues, retries, table } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, worker));

    for (const queue of jobQueues) {
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage']) {
        expect(allows(statements, action, queue), action).toBe(true);
      }
    }
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(true);
    expect(allows(statements, 'sqs:ReceiveMessage', retries)).toBe(false);
    expect(allows(statements, 'dynamodb:UpdateItem', stack.resolve(jobs.limitsTable.tableArn))).toBe(true);
    expect(allows(statements, 'dynamodb:UpdateItem', table)).toBe(true);
    expect(statements.flatMap(actionsOf).filter((action) => action.startsWith('dynamodb:'))).toEqual(['dynamodb:UpdateItem', 'dynamodb:UpdateItem']);
  });

  it('gives a worker no DynamoDB right on the state table when stats are off', () => {
    const { stack, jobs } = newJobSystem({ stats: false });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['default'] });
    const statements = statementsOfRole(Template.fromStack(stack), roleRefOf(stack, worker));

    expect(allows(statements, 'dynamodb:UpdateItem', stack.resolve(jobs.stateTable.tableArn))).toBe(false);
    expect(statementsOfRole(Template.fromStack(stack), roleRefOf(stack, jobs.retryFunction)).flatMap(actionsOf).filter((action) => action.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem']);
  });

  it('does not let a worker consume a queue it does not serve', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['default'] });
    const statements = statementsOfRole(Template.fromStack(stack), roleRefOf(stack, worker));

    expect(allows(statements, 'sqs:ReceiveMessage', stack.resolve(jobs.queue('default').queueArn))).toBe(true);
    expect(allows(statements, 'sqs:ReceiveMessage', stack.resolve(jobs.queue('critical').queueArn))).toBe(false);
    expect(allows(statements, 'sqs:SendMessage', stack.resolve(jobs.queue('critical').queueArn))).toBe(true);
  });
});

describe('JobSystem.grantEnqueue', () => {
  it('gives SendMessage and GetQueueUrl on every job queue and PutItem on the state table, nothing more', () => {
    const { stack, producer, grant, template, jobQueues, retries, table } = fixture();
    const statements = statementsOfRole(template, stack.resolve(producer.roleName));

    expect(grant.success).toBe(true);
    for (const queue of jobQueues) {
      expect(allows(statements, 'sqs:SendMessage', queue)).toBe(true);
      expect(allows(statements, 'sqs:GetQueueUrl', queue)).toBe(true);
    }
    expect(allows(statements, 'dynamodb:PutItem', table)).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(false);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set(['sqs:SendMessage', 'sqs:GetQueueUrl', 'dynamodb:PutItem']));
  });
});
