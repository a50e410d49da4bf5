import { App, Stack, type StackProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { JobSystem, type IJobSystem, type JobSystemAttributes } from '../../infra/job-system.js';
import { ENV } from '../../lib/config/env.js';
import { isHopperError } from '../../lib/errors/base.js';
import {
  allows, configReadStatement, configuredVariables, configurationParts, environmentOf, logicalIdOf, newJobSystem, newStack, newWorker, partsReadBy, roleRefOf, statementsOfDocument,
  statementsOfRole,
} from './support.js';

const CLIENT_VARIABLES = [ENV.queueUrls, ENV.stateTable, ENV.defaultRetry];
/** What grantEnqueue puts into a Lambda function's environment: the queue URLs are in the configuration document. */
const FUNCTION_VARIABLES = [ENV.stateTable, ENV.defaultRetry, ENV.configVersion];

/** The environment variables of `fn` in `stack`'s template. */
function variablesOf(stack: Stack, fn: lambda.IFunction): Record<string, unknown> {
  const resource = Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack, fn.functionArn)];
  return resource.Properties.Environment?.Variables ?? {};
}

describe('JobSystem.grantEnqueue on a Lambda function', () => {
  it('sets the variables new Client() reads, and only those, the queue URLs through the configuration document, besides the rights (reading the document among them)', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} }, retry: { maxRetries: 7 } });
    const producer = newWorker(stack, 'Producer');

    jobs.grantEnqueue(producer);
    const template = Template.fromStack(stack);

    expect(variablesOf(stack, producer)).toEqual({
      HOPPER_STATE_TABLE: stack.resolve(jobs.stateTable.tableName),
      HOPPER_DEFAULT_RETRY: '7',
      HOPPER_CONFIG: configurationParts(stack).document.version,
    });
    expect(partsReadBy(stack, producer)).toEqual(['document']);
    expect(configuredVariables(stack, producer)).toMatchObject({
      HOPPER_QUEUE_URLS: stack.resolve(stack.toJsonString({ default: jobs.queue('default').queueUrl, critical: jobs.queue('critical').queueUrl })),
      HOPPER_STATE_TABLE: stack.resolve(jobs.stateTable.tableName),
      HOPPER_DEFAULT_RETRY: '7',
    });
    const statements = statementsOfRole(template, roleRefOf(stack, producer));
    for (const name of ['default', 'critical']) expect(allows(statements, 'sqs:SendMessage', stack.resolve(jobs.queue(name).queueArn)), name).toBe(true);
    expect(allows(statements, 'dynamodb:PutItem', stack.resolve(jobs.stateTable.tableArn))).toBe(true);
    expect(statements).toContainEqual(configReadStatement(stack, jobs.stateTable));
  });

  it('sets them on the function behind an alias', () => {
    const { stack, jobs } = newJobSystem();
    const producer = newWorker(stack, 'Producer');

    jobs.grantEnqueue(new lambda.Alias(stack, 'Live', { aliasName: 'live', version: producer.currentVersion }));

    // A function with a version gets its variables sorted (CDK keeps the version hash stable).
    expect(Object.keys(variablesOf(stack, producer))).toEqual([ENV.configVersion, ENV.defaultRetry, ENV.stateTable]);
    expect(partsReadBy(stack, producer)).toEqual(['document']);
    expect(configuredVariables(stack, producer)[ENV.queueUrls]).toEqual(stack.resolve(jobs.clientEnvironment()[ENV.queueUrls]));
    expect(allows(statementsOfRole(Template.fromStack(stack), roleRefOf(stack, producer)), 'dynamodb:Query', stack.resolve(jobs.stateTable.tableArn))).toBe(true);
  });

  it('gives a role the rights, and clientEnvironment() the variables to pass on, the queue URLs among them', () => {
    const { stack, jobs } = newJobSystem({ retry: { maxRetries: 3 } });
    const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });

    jobs.grantEnqueue(role);
    const environment = jobs.clientEnvironment();

    expect(Object.keys(environment)).toEqual(CLIENT_VARIABLES);
    expect(environment[ENV.defaultRetry]).toBe('3');
    expect(stack.resolve(environment[ENV.stateTable])).toEqual(stack.resolve(jobs.stateTable.tableName));
    expect(allows(statementsOfRole(Template.fromStack(stack), stack.resolve(role.roleName)), 'sqs:SendMessage', stack.resolve(jobs.queue('default').queueArn))).toBe(true);
  });
});

interface ProducerStackProps extends StackProps {
  readonly jobs: IJobSystem;
}

/** A stack of the app that only enqueues: it takes the job system as an IJobSystem. */
class ProducerStack extends Stack {
  readonly producer: lambda.Function;

  constructor(scope: Construct, id: string, props: ProducerStackProps) {
    super(scope, id, props);
    this.producer = new lambda.Function(this, 'Signup', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    });
    props.jobs.grantEnqueue(this.producer);
  }
}

describe('a producer in another stack of the same app', () => {
  const env = { account: '123456789012', region: 'eu-central-1' };

  it('synthesizes: its variables and rights import what the job system\'s stack exports, and it reads that stack\'s configuration document', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const jobsStack = new Stack(app, 'Jobs', { env });
    const jobs = new JobSystem(jobsStack, 'Jobs');
    const producerStack = new ProducerStack(app, 'Producer', { env, jobs });

    const assembly = app.synth();
    const producerTemplate = assembly.getStackByName('Producer').template;
    const jobsTemplate = assembly.getStackByName('Jobs').template;

    const exports: Record<string, unknown> = Object.fromEntries(Object.values<{ Value: unknown; Export?: { Name: string } }>(jobsTemplate.Outputs)
      .filter((output) => output.Export !== undefined)
      .map((output) => [output.Export?.Name, output.Value]));
    const variables = Object.values<{ Type: string; Properties: { Environment?: { Variables: Record<string, unknown> } } }>(producerTemplate.Resources)
      .find((resource) => resource.Type === 'AWS::Lambda::Function')?.Properties.Environment?.Variables ?? {};
    expect(Object.keys(variables)).toEqual(FUNCTION_VARIABLES);
    expect(variables[ENV.defaultRetry]).toBe('25');
    expect(variables[ENV.configVersion]).toBe(configurationParts(jobsStack).document.version);
    // The job system's stack is deployed first, so the document is written before the producer is updated.
    expect(partsReadBy(jobsStack, producerStack.producer)).toEqual(['document']);
    expect(environmentOf(producerStack.producer)).toEqual(variables);
    const imported = (value: unknown): unknown => {
      const name = JSON.stringify(value).match(/"Fn::ImportValue":"([^"]+)"/)?.[1];
      return name === undefined ? undefined : exports[name];
    };
    expect(imported(variables[ENV.stateTable])).toEqual({ Ref: logicalIdOf(jobsStack, jobs.stateTable.tableArn) });
    expect(configuredVariables(jobsStack, producerStack.producer)[ENV.queueUrls]).toEqual(jobsStack.resolve(jobs.clientEnvironment()[ENV.queueUrls]));
    const policies = Object.values<{ Type: string; Properties: { PolicyDocument: unknown } }>(producerTemplate.Resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy');
    const statements = JSON.stringify(policies);
    expect(statements).toContain('sqs:SendMessage');
    expect(statements).toContain('Fn::ImportValue');
    const configRead = policies.flatMap((policy) => statementsOfDocument(policy.Properties.PolicyDocument)).filter((statement) => statement.Action === 'dynamodb:Query');
    expect(configRead).toHaveLength(1);
    expect(configRead[0]?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['config*'] } });
    expect(imported(configRead[0]?.Resource)).toEqual({ 'Fn::GetAtt': [logicalIdOf(jobsStack, jobs.stateTable.tableArn), 'Arn'] });
    expect(producerStack.dependencies.map((stack) => stack.stackName)).toEqual(['Jobs']);
  });
});

describe('JobSystem.fromJobSystemAttributes (a job system of another CDK app)', () => {
  const attributes: JobSystemAttributes = {
    queues: {
      default: { queueArn: 'arn:aws:sqs:eu-central-1:123456789012:Billing-default', queueUrl: 'https://sqs.eu-central-1.amazonaws.com/123456789012/Billing-default' },
      reports: { queueArn: 'arn:aws:sqs:eu-central-1:123456789012:Billing-reports', queueUrl: 'https://sqs.eu-central-1.amazonaws.com/123456789012/Billing-reports' },
    },
    stateTableName: 'Billing-JobsStateTable-XYZ',
    maxRetries: 10,
  };

  it('grants enqueue on the imported queues and table, and sets the variables on the function', () => {
    const stack = newStack();
    const jobs = JobSystem.fromJobSystemAttributes(stack, 'Billing', attributes);
    const producer = newWorker(stack, 'Producer');

    jobs.grantEnqueue(producer);
    const statements = statementsOfRole(Template.fromStack(stack), roleRefOf(stack, producer));

    expect(variablesOf(stack, producer)).toEqual({
      HOPPER_QUEUE_URLS: '{"default":"https://sqs.eu-central-1.amazonaws.com/123456789012/Billing-default","reports":"https://sqs.eu-central-1.amazonaws.com/123456789012/Billing-reports"}',
      HOPPER_STATE_TABLE: 'Billing-JobsStateTable-XYZ',
      HOPPER_DEFAULT_RETRY: '10',
    });
    expect(allows(statements, 'sqs:SendMessage', 'arn:aws:sqs:eu-central-1:123456789012:Billing-default')).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', 'arn:aws:sqs:eu-central-1:123456789012:Billing-reports')).toBe(true);
    expect(allows(statements, 'dynamodb:PutItem', stack.resolve(jobs.stateTable.tableArn))).toBe(true);
    expect(Template.fromStack(stack).findResources('AWS::SQS::Queue')).toEqual({});
  });

  it('takes the table by ARN for a job system in another account', () => {
    const stack = newStack();
    const tableArn = 'arn:aws:dynamodb:eu-west-1:210987654321:table/Billing-JobsStateTable-XYZ';
    const jobs = JobSystem.fromJobSystemAttributes(stack, 'Billing', { queues: attributes.queues, stateTableArn: tableArn });

    expect(jobs.stateTable.tableArn).toBe(tableArn);
    expect(jobs.clientEnvironment()[ENV.stateTable]).toBe('Billing-JobsStateTable-XYZ');
    expect(jobs.clientEnvironment()[ENV.defaultRetry]).toBe('25');
  });

  it.each<[string, JobSystemAttributes, string]>([
    ['no queues', { queues: {}, stateTableName: 'T' }, 'queues must name at least one queue of the imported job system, but none was provided'],
    ['no table', { queues: attributes.queues }, 'give stateTableName (the <id>StateTableName output) or stateTableArn, but neither was provided'],
    ['two tables', { ...attributes, stateTableArn: 'arn:aws:dynamodb:eu-west-1:210987654321:table/T' }, 'give one of stateTableName and stateTableArn, but both were provided'],
    ['a queue URL for an ARN', { queues: { default: { queueArn: 'https://sqs.eu-central-1.amazonaws.com/123456789012/Billing-default' } }, stateTableName: 'T' },
      'queues.default.queueArn must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue name>), but "https://sqs.eu-central-1.amazonaws.com/123456789012/Billing-default" was provided'],
    ['an invalid queue name', { queues: { 'bad name': { queueArn: 'arn:aws:sqs:eu-central-1:123456789012:x' } }, stateTableName: 'T' }, `queue name "bad name" is invalid: a queue name is 1 to 64 letters, digits, '-' or '_'`],
    ['maxRetries 1001', { ...attributes, maxRetries: 1001 }, 'maxRetries must be between 0 and 1000, but 1001 was provided'],
  ])('refuses %s with a ConfigurationError', (_, given, message) => {
    let error: unknown;
    try {
      JobSystem.fromJobSystemAttributes(newStack(), 'Billing', given);
    } catch (caught) {
      error = caught;
    }

    expect(error instanceof Error ? error.message : error).toBe(message);
    expect(isHopperError(error, 'ConfigurationError')).toBe(true);
  });
});
