import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import type { JobSystemProps } from '../../infra/job-system.js';
import {
  actionsOf, allIdentityStatements, allows, configReadStatement, configuredVariables, configurationParts, dependenciesOf, environmentOf, newJobSystem, newWorker, partsReadBy, resourcesOf, roleArnOf,
  roleRefOf, statementsOfRole,
} from './support.js';

function fixture() {
  const { stack, jobs } = newJobSystem({
    queues: { default: {}, critical: { maxBacklog: 100, maxLatency: Duration.minutes(1) }, idle: {} },
    quotas: { default: { limit: 1000, per: 'minute' }, tenants: { acme: 'unlimited' }, queues: { critical: { limit: 10, per: 'second' } } },
    tenants: { 'arn:aws:iam::111122223333:role/Producer': 'acme' },
  });
  const worker = newWorker(stack, 'Worker', Duration.seconds(10));
  const sources = jobs.addWorker(worker, { queues: ['default', 'critical'] });
  const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
  const grant = jobs.grantAdmin(admin);
  return { stack, jobs, worker, sources, admin, grant, template: Template.fromStack(stack) };
}

describe('the API function URL', () => {
  it('uses IAM auth and targets the api function', () => {
    const { stack, jobs, template } = fixture();

    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', TargetFunctionArn: stack.resolve(jobs.apiFunction.functionArn) });
  });

  it('refuses unsigned requests by configuration: no NONE auth, and no permission lets any principal invoke', () => {
    const { template } = fixture();
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((resource) => resource.Properties);

    expect(Object.values(template.findResources('AWS::Lambda::Url')).map((resource) => resource.Properties.AuthType)).toEqual(['AWS_IAM']);
    expect(permissions.filter((permission) => permission.Principal === '*' || permission.FunctionUrlAuthType === 'NONE')).toEqual([]);
    // Same-account grants (grantAdmin) go into identity policies: the function has no resource policy at all.
    expect(permissions).toEqual([]);
  });

  it('is a stack output', () => {
    const { stack, jobs, template } = fixture();
    template.hasOutput('JobsApiUrl', { Value: stack.resolve(jobs.apiUrl.url) });
  });
});

describe('JobSystem.grantAdmin', () => {
  it('gives InvokeFunctionUrl for IAM auth, and InvokeFunction only through the URL, on the api function', () => {
    const { stack, jobs, admin, grant, template } = fixture();
    const statements = statementsOfRole(template, stack.resolve(admin.roleName));
    const fn = stack.resolve(jobs.apiFunction.functionArn);

    expect(grant.success).toBe(true);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunctionUrl', Resource: fn, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } } },
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: fn, Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': true } } },
    ]);
  });
});

describe('the api function', () => {
  it('may read its configuration, read and send to job queues, use the sets and stats, spend quotas, redrive the retries DLQ, and flip exactly the workers\' mappings', () => {
    const { stack, jobs, sources, template } = fixture();
    const statements = statementsOfRole(template, roleRefOf(stack, jobs.apiFunction));
    const arn = (value: string) => stack.resolve(value);

    for (const queue of ['default', 'critical', 'idle']) {
      expect(allows(statements, 'sqs:GetQueueAttributes', arn(jobs.queue(queue).queueArn)), queue).toBe(true);
      expect(allows(statements, 'sqs:SendMessage', arn(jobs.queue(queue).queueArn)), queue).toBe(true);
    }
    for (const action of ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem']) expect(allows(statements, action, arn(jobs.stateTable.tableArn)), action).toBe(true);
    for (const action of ['dynamodb:Query', 'dynamodb:UpdateItem']) expect(allows(statements, action, arn(jobs.limitsTable.tableArn)), action).toBe(true);
    // Redrive: receive and delete on the retries DLQ, send to the retries queue — and nothing else on either.
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage']) expect(allows(statements, action, arn(jobs.retriesDeadLetterQueue.queueArn)), action).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.retriesQueue.queueArn))).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.retriesDeadLetterQueue.queueArn))).toBe(false);
    expect(allows(statements, 'sqs:ReceiveMessage', arn(jobs.retriesQueue.queueArn))).toBe(false);
    const mappingStatements = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('lambda:')));
    expect(mappingStatements.flatMap(resourcesOf)).toEqual(sources.map((source) => arn(source.eventSourceMappingArn)));
    // Its own Query on the whole state table covers the configuration document too; the grant every configured function gets is there as well.
    expect(statements).toContainEqual(configReadStatement(stack, jobs.stateTable));
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents',
      'sqs:GetQueueAttributes', 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage',
      'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem',
      'lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping',
    ]));
  });

  it('scopes mapping rights to event-source-mapping ARNs (no wildcard anywhere)', () => {
    const { stack, sources, template } = fixture();
    expect(stack.resolve(sources[0]?.eventSourceMappingArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':lambda:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-source-mapping:', stack.resolve(sources[0]?.eventSourceMappingId)]],
    });
    for (const statement of allIdentityStatements(template)) for (const resource of resourcesOf(statement)) expect(resource).not.toBe('*');
  });

  it('gets the quotas, tenants, backlog limits and mapping UUIDs through both parts of the configuration document, the limits table and retries DLQ in its environment', () => {
    const { stack, jobs, sources, template } = fixture();
    const parts = configurationParts(stack);
    const quotas = JSON.stringify({ default: { limit: 1000, per: 'minute' }, tenants: { acme: 'unlimited' }, queues: { critical: { limit: 10, per: 'second' } } });
    const tenants = JSON.stringify({ 'arn:aws:iam::111122223333:role/Producer': 'acme' });
    const backlogLimits = JSON.stringify({ critical: { maxBacklog: 100, maxLatency: 60 } });
    const queueMappings = stack.resolve(stack.toJsonString({ default: sources[0]?.eventSourceMappingId, critical: sources[1]?.eventSourceMappingId }));

    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: roleArnOf(stack, jobs.apiFunction),
      Environment: {
        Variables: Match.objectLike({
          [ENV.configVersion]: `${parts.document.version}.${parts.mappings.version}`,
          [ENV.retriesDlqUrl]: stack.resolve(jobs.retriesDeadLetterQueue.queueUrl),
          [ENV.limitsTable]: stack.resolve(jobs.limitsTable.tableName),
          [ENV.stateTable]: stack.resolve(jobs.stateTable.tableName),
        }),
      },
    });
    for (const name of [ENV.quotas, ENV.tenants, ENV.backlogLimits, ENV.queueMappings]) expect(environmentOf(jobs.apiFunction), name).not.toHaveProperty(name);
    expect(parts.document.variables).toMatchObject({ [ENV.quotas]: quotas, [ENV.tenants]: tenants, [ENV.backlogLimits]: backlogLimits });
    expect(parts.mappings.variables).toEqual({ [ENV.queueMappings]: queueMappings });
    // The API reads both parts, so CloudFormation updates it after both; the mapping UUIDs exist only once the workers' mappings do.
    expect(partsReadBy(stack, jobs.apiFunction)).toEqual(['document', 'mappings']);
    expect(dependenciesOf(jobs.apiFunction)).toEqual(expect.arrayContaining([parts.document.logicalId, parts.mappings.logicalId]));
    expect(configuredVariables(stack, jobs.apiFunction)).toMatchObject({
      [ENV.quotas]: quotas, [ENV.tenants]: tenants, [ENV.backlogLimits]: backlogLimits, [ENV.queueMappings]: queueMappings,
    });
  });
});

describe('the api function\'s crons', () => {
  it('gets every cron definition as declared in HOPPER_CRONS through the configuration document, and no such variable without crons', () => {
    const { stack, jobs } = newJobSystem({
      queues: { default: {}, critical: {} },
      crons: [
        { name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'], queue: 'critical' } },
        { name: 'hourly', schedule: 'cron(0 * * * ? *)', job: { jobtype: 'Ping' } },
      ],
    });
    const plain = newJobSystem();

    expect(environmentOf(jobs.apiFunction)).not.toHaveProperty(ENV.crons);
    expect(JSON.parse(String(configuredVariables(stack, jobs.apiFunction)[ENV.crons]))).toEqual([
      { name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'], queue: 'critical' } },
      { name: 'hourly', schedule: 'cron(0 * * * ? *)', timezone: 'UTC', job: { jobtype: 'Ping' } },
    ]);
    // The API still reads the document (the queue URLs), which has no crons.
    expect(configuredVariables(plain.stack, plain.jobs.apiFunction)).toHaveProperty(ENV.queueUrls);
    expect(configuredVariables(plain.stack, plain.jobs.apiFunction)).not.toHaveProperty(ENV.crons);
  });
});

describe('API props validation', () => {
  it.each<{ props: JobSystemProps; message: string }>([
    { props: { quotas: { default: { limit: 0, per: 'minute' } } }, message: 'quotas.default.limit must be an integer from 1 to' },
    { props: { quotas: { queues: { nope: { limit: 1, per: 'minute' } } } }, message: 'quotas.queues.nope names a queue that is not declared; declared queues: default' },
    { props: { queues: { default: { maxBacklog: 0 } } }, message: 'queues.default.maxBacklog must be between 1 and 100000000, but 0 was provided' },
    { props: { queues: { default: { maxLatency: Duration.millis(10) } } }, message: 'queues.default.maxLatency must be between 1 second and 14 days, but 10 millis was provided' },
    { props: { apiMaxBodyBytes: 10 }, message: 'apiMaxBodyBytes must be between 1024 and 6291456, but 10 was provided' },
    { props: { tenants: { 'arn:aws:iam::1:role/x': '' } }, message: 'tenants.arn:aws:iam::1:role/x must be a tenant id of 1 to 256 characters, but "" was provided' },
  ])('refuses $message', ({ props, message }) => {
    expect(() => newJobSystem(props)).toThrow(ConfigurationError);
    expect(() => newJobSystem(props)).toThrow(message);
  });
});
