import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { configureDemoApp } from '../../infra/demo-stack.js';
import {
  actionsOf, allIdentityStatements, allows, configReadStatement, configurationFunctionOf, managedPoliciesOfRoles, newJobSystem, newWorker, resourcesOf, roleRefOf, statementsOfDocument,
  statementsOfRole, type Statement,
} from './support.js';

/**
 * The state-table grants among `statements` (stream actions aside): their DynamoDB actions and the
 * `dynamodb:LeadingKeys` patterns they are limited to (undefined: the whole table).
 */
function dynamoGrants(statements: readonly Statement[]): { actions: string[]; leadingKeys: unknown }[] {
  return statements
    .map((statement) => ({ actions: actionsOf(statement).filter((action) => action.startsWith('dynamodb:') && !STREAM_ACTIONS.has(action)), condition: statement.Condition }))
    .filter((grant) => grant.actions.length > 0)
    .map((grant) => ({ actions: grant.actions, leadingKeys: leadingKeysOf(grant.condition) }));
}

const STREAM_ACTIONS: ReadonlySet<string> = new Set(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams']);

function leadingKeysOf(condition: unknown): unknown {
  if (typeof condition !== 'object' || condition === null || !('ForAllValues:StringLike' in condition)) return undefined;
  const like: unknown = condition['ForAllValues:StringLike'];
  return typeof like === 'object' && like !== null && 'dynamodb:LeadingKeys' in like ? like['dynamodb:LeadingKeys'] : undefined;
}

/** A JobSystem with two queues, a worker on both, a producer role and a producer function granted enqueue. */
function fixture() {
  const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
  const worker = newWorker(stack, 'Worker');
  jobs.addWorker(worker, { queues: ['default', 'critical'] });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() });
  const grant = jobs.grantEnqueue(producer);
  const producerFunction = newWorker(stack, 'ProducerFunction');
  const functionGrant = jobs.grantEnqueue(producerFunction);
  const template = Template.fromStack(stack);
  const arn = (value: string): unknown => stack.resolve(value);
  return {
    stack, jobs, worker, producer, grant, producerFunction, functionGrant, template, arn,
    jobQueues: [arn(jobs.queue('default').queueArn), arn(jobs.queue('critical').queueArn)],
    retries: arn(jobs.retriesQueue.queueArn),
    table: arn(jobs.stateTable.tableArn),
    configRead: configReadStatement(stack, jobs.stateTable),
  };
}

/** The configuration document's partition, as `dynamodb:LeadingKeys` patterns. */
const CONFIG_KEYS = ['config*'];

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

    // The configuration, retry, batch, scheduler, scheduler helper and API functions' roles and the role EventBridge Scheduler assumes.
    expect(managedPoliciesOfRoles(template)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    expect(jobs.retryFunction.role).toBeDefined();
    expect(jobs.batchFunction.role).toBeDefined();
    expect(jobs.apiFunction.role).toBeDefined();
  });

  it('lets the configuration function put and delete the configuration document\'s items only — nothing else', () => {
    const { stack, jobs } = newJobSystem();
    const statements = statementsOfRole(Template.fromStack(stack), roleRefOf(stack, configurationFunctionOf(jobs)));

    expect(dynamoGrants(statements)).toEqual([{ actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], leadingKeys: CONFIG_KEYS }]);
    expect(allows(statements, 'dynamodb:PutItem', stack.resolve(jobs.stateTable.tableArn))).toBe(true);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'dynamodb:PutItem', 'dynamodb:DeleteItem']));
  });

  it('lets the retry function consume the retries queue, send to job queues, put into the state table, add to its stats and read its configuration — nothing else', () => {
    const { stack, jobs, template, jobQueues, retries, table, configRead } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, jobs.retryFunction));

    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
      expect(allows(statements, action, retries), action).toBe(true);
    }
    for (const queue of jobQueues) expect(allows(statements, 'sqs:SendMessage', queue)).toBe(true);
    expect(allows(statements, 'dynamodb:PutItem', table)).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(false);
    expect(dynamoGrants(statements)).toEqual([
      { actions: ['dynamodb:PutItem'], leadingKeys: undefined },
      { actions: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], leadingKeys: ['batch#*', 'unique#*'] },
      // Start marks: whether a run of a redriven job began, and its uncharged redrives.
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], leadingKeys: ['startmark#*'] },
      { actions: ['dynamodb:UpdateItem'], leadingKeys: ['stats*', 'cohorts*'] },
      // The configuration document it reads.
      { actions: ['dynamodb:Query'], leadingKeys: CONFIG_KEYS },
    ]);
    expect(statements).toContainEqual(configRead);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents',
      'sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes',
      'sqs:SendMessage', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Query',
    ]));
  });

  it('lets a worker consume its queues, send to the retries queue and every job queue, read its configuration, and write batch, lock, scheduled, start-mark and debounce items only', () => {
    const { stack, worker, template, jobQueues, retries, configRead } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, worker));

    for (const queue of jobQueues) {
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage']) {
        expect(allows(statements, action, queue), action).toBe(true);
      }
    }
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(true);
    expect(allows(statements, 'sqs:ReceiveMessage', retries)).toBe(false);
    expect(dynamoGrants(statements)).toEqual([
      // The configuration document it reads.
      { actions: ['dynamodb:Query'], leadingKeys: CONFIG_KEYS },
      { actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], leadingKeys: ['batch#*', 'unique#*', 'scheduled#*', 'once#*', 'jobstate#*', 'iter#*', 'debounce#*'] },
      // The start mark of a job delivered again.
      { actions: ['dynamodb:PutItem'], leadingKeys: ['startmark#*'] },
      // ctx.limiter's state (the limits table) and the stats rollups.
      { actions: ['dynamodb:UpdateItem'], leadingKeys: undefined },
      { actions: ['dynamodb:UpdateItem'], leadingKeys: ['stats*', 'cohorts*'] },
      { actions: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], leadingKeys: ['busy*'] },
    ]);
    expect(statements).toContainEqual(configRead);
  });

  it('gives a worker no rights on job items when stateTableAccess is false: it still reads its configuration, and adds to the limits and stats', () => {
    const { stack, jobs } = newJobSystem();
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['default'], stateTableAccess: false });
    const statements = statementsOfRole(Template.fromStack(stack), roleRefOf(stack, worker));

    // Left: the configuration document, the limiter state in the limits table and the stats partition.
    expect(dynamoGrants(statements)).toEqual([
      { actions: ['dynamodb:Query'], leadingKeys: CONFIG_KEYS },
      { actions: ['dynamodb:UpdateItem'], leadingKeys: undefined },
      { actions: ['dynamodb:UpdateItem'], leadingKeys: ['stats*', 'cohorts*'] },
      { actions: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], leadingKeys: ['busy*'] },
    ]);
    expect(allows(statements, 'dynamodb:UpdateItem', stack.resolve(jobs.limitsTable.tableArn))).toBe(true);
    expect(statements).toContainEqual(configReadStatement(stack, jobs.stateTable));
  });

  it('lets the batch function read the state stream and its configuration, write batch items and send to job queues and the retries DLQ — nothing else', () => {
    const { stack, jobs, template, jobQueues, retries, arn, configRead } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, jobs.batchFunction));
    const stream = arn(jobs.stateTable.tableStreamArn ?? '');

    for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams']) {
      expect(allows(statements, action, stream), action).toBe(true);
    }
    expect(dynamoGrants(statements).filter((grant) => grant.leadingKeys !== undefined)).toEqual([
      { actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], leadingKeys: ['batch#*'] },
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], leadingKeys: ['flow#*'] },
      { actions: ['dynamodb:Query'], leadingKeys: CONFIG_KEYS },
    ]);
    expect(statements).toContainEqual(configRead);
    for (const queue of jobQueues) expect(allows(statements, 'sqs:SendMessage', queue)).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.retriesDeadLetterQueue.queueArn))).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(false);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents',
      'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams',
      'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query',
      'sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl',
    ]));
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
  it('gives SendMessage and GetQueueUrl on every job queue, PutItem on the state table, batch, lock and debounce item rights and reading tracked jobs\' states — nothing more', () => {
    const { stack, producer, grant, template, jobQueues, retries, table } = fixture();
    const statements = statementsOfRole(template, stack.resolve(producer.roleName));

    expect(grant.success).toBe(true);
    for (const queue of jobQueues) {
      expect(allows(statements, 'sqs:SendMessage', queue)).toBe(true);
      expect(allows(statements, 'sqs:GetQueueUrl', queue)).toBe(true);
    }
    expect(allows(statements, 'dynamodb:PutItem', table)).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', retries)).toBe(false);
    expect(dynamoGrants(statements)).toEqual([
      { actions: ['dynamodb:PutItem'], leadingKeys: undefined },
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], leadingKeys: ['batch#*', 'unique#*', 'debounce#*'] },
      // Tracked jobs' states, for Client.status and Client.result.
      { actions: ['dynamodb:GetItem'], leadingKeys: ['jobstate#*', 'flow#*'] },
    ]);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'sqs:SendMessage', 'sqs:GetQueueUrl', 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem',
    ]));
  });

  it('gives a Lambda function the same rights, and reading the configuration document that holds the queue URLs — nothing more', () => {
    const { stack, producerFunction, functionGrant, template, jobQueues, table, configRead } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, producerFunction));

    expect(functionGrant.success).toBe(true);
    for (const queue of jobQueues) expect(allows(statements, 'sqs:SendMessage', queue)).toBe(true);
    expect(allows(statements, 'dynamodb:PutItem', table)).toBe(true);
    expect(dynamoGrants(statements)).toEqual([
      { actions: ['dynamodb:PutItem'], leadingKeys: undefined },
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], leadingKeys: ['batch#*', 'unique#*', 'debounce#*'] },
      { actions: ['dynamodb:GetItem'], leadingKeys: ['jobstate#*', 'flow#*'] },
      { actions: ['dynamodb:Query'], leadingKeys: CONFIG_KEYS },
    ]);
    expect(statements).toContainEqual(configRead);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'sqs:SendMessage', 'sqs:GetQueueUrl', 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query',
    ]));
  });
});

/**
 * Actions AWS only grants on `Resource: '*'` (they have no resource type), each with the reason it
 * is needed. A `*` resource anywhere else fails the test below.
 */
const WILDCARD_RESOURCE_ALLOWED: Readonly<Record<string, string>> = {
  'cloudwatch:PutMetricData': 'CloudWatch metrics have no ARN; the grant is narrowed by a cloudwatch:namespace condition instead',
  'xray:PutTraceSegments': 'X-Ray has no resource-level permissions for sending traces',
  'xray:PutTelemetryRecords': 'X-Ray has no resource-level permissions for sending telemetry',
};

describe('the synthesized demo template', () => {
  const demo = () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    return Template.fromStack(configureDemoApp(app, {}));
  };
  const resources = (template: Template, type: string) => Object.values(template.findResources(type)).map((resource): Record<string, unknown> => resource.Properties ?? {});

  it('grants no wildcard action, and `*` resources only to the actions AWS requires it for', () => {
    const statements = allIdentityStatements(demo());

    expect(statements.length).toBeGreaterThan(10);
    for (const statement of statements) {
      const actions = actionsOf(statement);
      for (const action of actions) expect(action, JSON.stringify(statement)).not.toContain('*');
      if (resourcesOf(statement).some((resource) => resource === '*' || (typeof resource === 'string' && resource.endsWith(':*')))) {
        for (const action of actions) expect(WILDCARD_RESOURCE_ALLOWED[action], `${action} on "*" in ${JSON.stringify(statement)}`).toBeDefined();
      }
    }
  });

  it('encrypts every queue and table, and refuses non-TLS access to every queue', () => {
    const template = demo();
    const queues = Object.entries(template.findResources('AWS::SQS::Queue'));
    const queuePolicies = resources(template, 'AWS::SQS::QueuePolicy');

    expect(queues.length).toBeGreaterThanOrEqual(4);
    for (const [id, queue] of queues) {
      const properties: Record<string, unknown> = queue.Properties ?? {};
      expect(properties.SqsManagedSseEnabled === true || properties.KmsMasterKeyId !== undefined, `${id} is encrypted`).toBe(true);
      const denies = queuePolicies
        .filter((policy) => JSON.stringify(policy.Queues).includes(`"${id}"`))
        .flatMap((policy) => statementsOfDocument(policy.PolicyDocument))
        .filter((statement) => statement.Effect === 'Deny' && JSON.stringify(statement.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }));
      expect(denies, `${id} denies requests without TLS`).toHaveLength(1);
    }
    const tables = resources(template, 'AWS::DynamoDB::Table');
    expect(tables.length).toBeGreaterThanOrEqual(2);
    // DynamoDB encrypts every table at rest; Hopper's tables ask for it explicitly (SSESpecification).
    for (const table of tables) expect(table.SSESpecification, JSON.stringify(table.TableName)).toMatchObject({ SSEEnabled: true });
  });

  it('serves the API only through an IAM-auth Function URL that no resource policy opens up', () => {
    const template = demo();

    expect(resources(template, 'AWS::Lambda::Url').map((url) => url.AuthType)).toEqual(['AWS_IAM']);
    expect(resources(template, 'AWS::Lambda::Permission').filter((permission) => permission.Principal === '*' || permission.FunctionUrlAuthType === 'NONE')).toEqual([]);
  });
});
