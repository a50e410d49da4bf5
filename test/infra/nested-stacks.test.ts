/**
 * A JobSystem of hundreds of queues (`nestedStacks`): what one stack cannot hold (CloudFormation's
 * 500 resources, 200 outputs and parameters, 1 MB templates; IAM's policy sizes) is spread over
 * nested stacks, and its grants name every queue with one ARN pattern. The 200-queue stack's
 * templates also pass cfn-lint (cfn-lint.test.ts); the layout runs on the local runtime under the
 * API's tests (test/fixtures/stacks/api-stack.ts).
 */
import { App, ArnFormat, NestedStack, Stack, STACK_RESOURCE_LIMIT_CONTEXT as STACK_RESOURCE_LIMIT } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { longestEnvironment } from '../../infra/environment-size.js';
import { checkRolePoliciesAtSynth, IAM_LIMITS, rolePolicyProblems, rolePolicySizes } from '../../infra/iam-size.js';
import { JobSystem, type JobSystemProps } from '../../infra/job-system.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { actionsOf, allIdentityStatements, newWorker, resourcesOf, roleRefOf, statementsOfRole, type Statement } from './support.js';

/** `count` queues named q000, q001, … */
function queues(count: number): NonNullable<JobSystemProps['queues']> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`q${String(index).padStart(3, '0')}`, {}]));
}

/** A stack of a JobSystem with `queueCount` queues served by one worker, `cronCount` crons and a producer. */
function system(queueCount: number, cronCount: number, props: JobSystemProps = {}): { stack: Stack; jobs: JobSystem; worker: lambda.Function; producer: lambda.Function } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Shop', { env: { region: 'eu-central-1' } });
  const jobs = new JobSystem(stack, 'Jobs', {
    queues: queues(queueCount),
    crons: Array.from({ length: cronCount }, (_, index) => ({ name: `report-${index}`, schedule: `${index % 60} ${index % 24} * * *`, timezone: 'Europe/Vienna', job: { jobtype: 'Report', queue: 'q000', args: [{ account: `acct-${index}` }] } })),
    ...props,
  });
  const worker = newWorker(stack, 'Worker');
  jobs.addWorker(worker, { queues: Object.keys(queues(queueCount)) });
  const producer = newWorker(stack, 'Producer');
  jobs.grantEnqueue(producer);
  return { stack, jobs, worker, producer };
}

/** The stack and every nested stack under it, each with its template. */
function templates(stack: Stack): { stack: Stack; template: Template }[] {
  const template = Template.fromStack(stack);
  const nested = stack.node.findAll().filter((node): node is NestedStack => node instanceof NestedStack);
  return [{ stack, template }, ...nested.map((inner) => ({ stack: inner as Stack, template: Template.fromStack(inner) }))];
}

function count(section: unknown): number {
  return typeof section === 'object' && section !== null ? Object.keys(section).length : 0;
}

describe('a JobSystem of 200 queues and 100 crons in nested stacks', () => {
  const { stack, jobs, worker, producer } = system(200, 100, { nestedStacks: true });
  const all = templates(stack);

  it('spreads the queues over nested stacks of 40, each queue with its policy and two alarms (and one on quiet tenants per 10 queues), their mappings in stacks of their own', () => {
    const names = all.map(({ stack: inner }) => inner.node.id);
    expect(names).toEqual(['Shop', 'Queues0', 'Queues1', 'Queues2', 'Queues3', 'Queues4', 'Mappings0', 'Mappings1', 'Mappings2', 'Mappings3', 'Mappings4']);
    for (const { stack: inner, template } of all.slice(1, 6)) {
      expect(template.findResources('AWS::SQS::Queue'), inner.node.id).toSatisfy((found: object) => count(found) === 40);
      expect(count(template.findResources('AWS::SQS::QueuePolicy'))).toBe(40);
      expect(count(template.findResources('AWS::CloudWatch::Alarm'))).toBe(84);
    }
    for (const { template } of all.slice(6)) expect(count(template.findResources('AWS::Lambda::EventSourceMapping'))).toBe(40);
    const parent = all[0]?.template;
    expect(count(parent?.findResources('AWS::SQS::Queue'))).toBe(2);
    expect(count(parent?.findResources('AWS::Lambda::EventSourceMapping'))).toBe(2);
    expect(count(parent?.findResources('AWS::Scheduler::Schedule'))).toBe(101);
  });

  it('keeps every template within CloudFormation\'s limits: 500 resources, 200 outputs, 200 parameters, 1 MB', () => {
    for (const { stack: inner, template } of all) {
      const json = template.toJSON() as Record<string, unknown>;
      const measured = { resources: count(json.Resources), outputs: count(json.Outputs), parameters: count(json.Parameters), bytes: JSON.stringify(json).length };
      expect(measured.resources, inner.node.id).toBeLessThanOrEqual(500);
      expect(measured.outputs, inner.node.id).toBeLessThanOrEqual(200);
      expect(measured.parameters, inner.node.id).toBeLessThanOrEqual(200);
      expect(measured.bytes, inner.node.id).toBeLessThanOrEqual(1_000_000);
    }
  });

  it('keeps every function\'s environment under Lambda\'s 4 KB and every role\'s policies under IAM\'s quotas, counting tokens at their longest', () => {
    const functions = stack.node.findAll().filter((node): node is lambda.Function => node instanceof lambda.Function);
    expect(functions.length).toBe(9);
    for (const fn of functions) expect(longestEnvironment(fn).reduce((sum, entry) => sum + entry.bytes, 0), fn.node.path).toBeLessThan(4096);
    const roles = stack.node.findAll().filter((node): node is iam.Role => node instanceof iam.Role);
    for (const role of roles) {
      expect(rolePolicyProblems(role), role.node.path).toEqual([]);
      const sizes = rolePolicySizes(role);
      expect(sizes.inlineCharacters, role.node.path).toBeLessThan(IAM_LIMITS.inlineCharacters / 2);
      expect(sizes.managed, role.node.path).toEqual([]);
    }
  });

  it('names each queue hopper-<8 hex>-<queue> and grants every job queue with that one pattern', () => {
    const queue = jobs.queue('q123').node.defaultChild as sqs.CfnQueue;
    expect(queue.queueName).toMatch(/^hopper-[0-9a-f]{8}-q123$/);
    const prefix = String(queue.queueName).replace(/-q123$/, '');
    const pattern = stack.resolve(stack.formatArn({ service: 'sqs', resource: `${prefix}-*`, arnFormat: ArnFormat.NO_RESOURCE_NAME }));
    const template = all[0]?.template ?? Template.fromStack(stack);
    const queueResources = (fn: lambda.Function, action: string) => statementsOfRole(template, roleRefOf(stack, fn))
      .filter((statement) => actionsOf(statement).includes(action))
      .flatMap(resourcesOf);
    expect(queueResources(worker, 'sqs:ReceiveMessage')).toEqual([pattern]);
    expect(queueResources(worker, 'sqs:SendMessage')).toContainEqual(pattern);
    expect(queueResources(producer, 'sqs:SendMessage')).toEqual([pattern]);
    for (const fn of [jobs.retryFunction, jobs.batchFunction, jobs.apiFunction]) expect(queueResources(fn, 'sqs:SendMessage')).toContainEqual(pattern);
    // No statement anywhere lists the queues one by one.
    for (const statement of allIdentityStatements(template)) expect(resourcesOf(statement).length, JSON.stringify(statement.Action)).toBeLessThan(10);
  });

  it('creates each mappings stack after the worker\'s policy that lets it read the queues (Lambda checks it when a mapping is created)', () => {
    const template = all[0]?.template ?? Template.fromStack(stack);
    const policy = stack.resolve((worker.role?.node.tryFindChild('DefaultPolicy')?.node.defaultChild as iam.CfnPolicy).logicalId) as string;
    const mappingStacks = Object.entries(template.findResources('AWS::CloudFormation::Stack')).filter(([logicalId]) => logicalId.includes('Mappings'));
    expect(mappingStacks).toHaveLength(5);
    for (const [logicalId, resource] of mappingStacks) expect((resource as { DependsOn?: string[] }).DependsOn, logicalId).toContain(policy);
  });

  it('lets the API flip only the mappings that invoke the worker (lambda:FunctionArn)', () => {
    const template = all[0]?.template ?? Template.fromStack(stack);
    const flips = statementsOfRole(template, roleRefOf(stack, jobs.apiFunction)).filter((statement) => actionsOf(statement).includes('lambda:UpdateEventSourceMapping'));
    expect(flips).toEqual([expect.objectContaining({
      Action: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':lambda:eu-central-1:', { Ref: 'AWS::AccountId' }, ':event-source-mapping:*']] },
      Condition: { StringEquals: { 'lambda:FunctionArn': stack.resolve(worker.functionArn) } },
    })]);
  });
});

describe('nestedStacks', () => {
  it('keeps a small system\'s queues in their own nested stack too, named by the same pattern', () => {
    const { stack, jobs } = system(3, 0, { nestedStacks: { queuesPerStack: 2 } });
    expect(templates(stack).map(({ stack: inner }) => inner.node.id)).toEqual(['Shop', 'Queues0', 'Queues1', 'Mappings0', 'Mappings1']);
    expect(Stack.of(jobs.queue('q002')).node.id).toBe('Queues1');
  });

  it.each([0, 41, 2.5])('refuses queuesPerStack %s, naming the field and the range', (queuesPerStack) => {
    expect(() => system(3, 0, { nestedStacks: { queuesPerStack } })).toThrow(ConfigurationError);
    expect(() => system(3, 0, { nestedStacks: { queuesPerStack } })).toThrow(/nestedStacks\.queuesPerStack/);
  });

  it('gives each JobSystem of an app its own prefix', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const prefixes = ['Shop', 'Billing'].flatMap((name) => {
      const stack = new Stack(app, name);
      return ['Jobs', 'More'].map((id) => String((new JobSystem(stack, id, { nestedStacks: true }).queue('default').node.defaultChild as sqs.CfnQueue).queueName));
    });
    expect(new Set(prefixes).size).toBe(4);
  });
});

describe('IAM\'s quotas at synth', () => {
  it('synthesizes a one-stack JobSystem of 80 queues: its grants name the queues in statements of at most 20 ARNs, which the CDK spreads over managed policies', () => {
    const { stack, jobs } = system(80, 0);
    const template = Template.fromStack(stack);
    const sends = [...statementsOfRole(template, roleRefOf(stack, jobs.retryFunction)), ...Object.values(template.findResources('AWS::IAM::ManagedPolicy'))
      .flatMap((policy) => ((policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement))]
      .filter((statement) => actionsOf(statement).includes('sqs:SendMessage'));
    expect(Math.max(...sends.map((statement) => resourcesOf(statement).length))).toBe(20);
    for (const role of stack.node.findAll().filter((node): node is iam.Role => node instanceof iam.Role)) expect(rolePolicyProblems(role), role.node.path).toEqual([]);
  });

  it('refuses a one-stack JobSystem whose grants IAM would refuse, naming the role, the quota and nestedStacks', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], [STACK_RESOURCE_LIMIT]: 0 } });
    const stack = new Stack(app, 'Shop', { env: { region: 'eu-central-1' } });
    const jobs = new JobSystem(stack, 'Jobs', { queues: queues(200) });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: Object.keys(queues(200)) });
    let message = '';
    try {
      Template.fromStack(stack);
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
    }
    expect(message).toMatch(/IAM would refuse the policies of Shop\/Worker\/ServiceRole at deploy: \d+ managed policies are attached, over IAM's default quota of 10/);
    expect(message).toContain('The JobSystem\'s grants name each of its 200 queues: set nestedStacks');
  });

  it('refuses a managed policy over 6,144 characters, which one statement of many ARNs makes', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Shop', { env: { region: 'eu-central-1' } });
    const fn = newWorker(stack, 'Producer');
    const queueArns = Array.from({ length: 120 }, (_, index) => new sqs.Queue(stack, `Queue${index}`).queueArn);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: queueArns }));
    checkRolePoliciesAtSynth(fn, 'Split the statement.');
    expect(() => Template.fromStack(stack)).toThrow(/IAM would refuse the policies of Shop\/Producer\/ServiceRole at deploy: managed policy Shop\/Producer\/ServiceRole\/OverflowPolicy1 comes to [\d,]+ characters, over IAM's 6144, counting every ARN at its longest\. Split the statement\./);
  });

  it('counts a statement at its longest: ARNs of generated names in the stack\'s region and partition', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Shop', { env: { region: 'eu-central-1' } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const queue = new sqs.Queue(stack, 'Orders');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    Template.fromStack(stack);
    const logicalId = stack.resolve((queue.node.defaultChild as sqs.CfnQueue).logicalId) as string;
    // arn:aws:sqs:eu-central-1:<12>:Shop-<logical id>-<13>
    const arn = 'arn:aws:sqs:eu-central-1:'.length + 12 + 1 + 'Shop-'.length + logicalId.length + 1 + 13;
    const document = `{"Statement":[{"Action":"sqs:SendMessage","Effect":"Allow","Resource":"${'x'.repeat(arn)}"}],"Version":"2012-10-17"}`;
    expect(rolePolicySizes(role)).toEqual({ inlineCharacters: document.length, managed: [], managedCount: 0 });
  });
});
