/**
 * Shared fixtures of the CDK assertion tests. Bundling is skipped (`aws:cdk:bundling-stacks: []`),
 * so synthesizing a stack takes milliseconds; references are resolved through the constructs
 * (`stack.resolve(queue.queueArn)`), never through generated logical ids.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { JobSystem, type JobSystemProps } from '../../infra/job-system.js';

/** A stack in an app that does not bundle assets. */
export function newStack(id = 'Test'): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, id);
}

/** A worker function with inline code (nothing to bundle). */
export function newWorker(stack: Stack, id: string, timeout?: Duration): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    ...(timeout === undefined ? {} : { timeout }),
  });
}

/** A stack with a JobSystem `Jobs`. */
export function newJobSystem(props?: JobSystemProps): { stack: Stack; jobs: JobSystem } {
  const stack = newStack();
  const jobs = new JobSystem(stack, 'Jobs', props);
  return { stack, jobs };
}

/** One statement of an IAM policy document, as CloudFormation holds it. */
export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The statements of a policy document found in a template (empty when it is not one). */
export function statementsOfDocument(document: unknown): Statement[] {
  if (!isObject(document) || !Array.isArray(document.Statement)) return [];
  return document.Statement.filter((statement): statement is Statement => isObject(statement)
    && typeof statement.Effect === 'string'
    && (typeof statement.Action === 'string' || Array.isArray(statement.Action)));
}

function propertiesOf(resource: unknown): Record<string, unknown> {
  return isObject(resource) && isObject(resource.Properties) ? resource.Properties : {};
}

/** The statements of every `AWS::IAM::Policy` attached to `role` (given as its resolved `Ref`). */
export function statementsOfRole(template: Template, roleRef: unknown): Statement[] {
  const wanted = JSON.stringify(roleRef);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .map(propertiesOf)
    .filter((policy) => Array.isArray(policy.Roles) && policy.Roles.some((role) => JSON.stringify(role) === wanted))
    .flatMap((policy) => statementsOfDocument(policy.PolicyDocument));
}

/** Every identity-policy statement in the template (policies and roles' inline policies). */
export function allIdentityStatements(template: Template): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).map(propertiesOf);
  const inline = Object.values(template.findResources('AWS::IAM::Role'))
    .map(propertiesOf)
    .flatMap((role) => (Array.isArray(role.Policies) ? role.Policies : []));
  return [...policies, ...inline].flatMap((policy) => (isObject(policy) ? statementsOfDocument(policy.PolicyDocument) : []));
}

/** The managed policies of every role in the template, one entry per role. */
export function managedPoliciesOfRoles(template: Template): unknown[] {
  return Object.values(template.findResources('AWS::IAM::Role')).map((role) => propertiesOf(role).ManagedPolicyArns);
}

/** The actions of a statement as an array. */
export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** The resources of a statement as an array. */
export function resourcesOf(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** True when some statement allows `action` on `resource` (a resolved reference). */
export function allows(statements: readonly Statement[], action: string, resource: unknown): boolean {
  const wanted = JSON.stringify(resource);
  return statements.some((statement) => statement.Effect === 'Allow'
    && actionsOf(statement).includes(action)
    && resourcesOf(statement).some((r) => JSON.stringify(r) === wanted));
}

/** The resolved ARN of `fn`'s execution role (throws when it has none, so no test matches on `undefined`). */
export function roleArnOf(stack: Stack, fn: lambda.IFunction): unknown {
  if (fn.role === undefined) throw new Error(`${fn.node.path} has no role`);
  return stack.resolve(fn.role.roleArn);
}

/** The resolved `Ref` of `fn`'s execution role, as policies list it under `Roles`. */
export function roleRefOf(stack: Stack, fn: lambda.IFunction): unknown {
  if (fn.role === undefined) throw new Error(`${fn.node.path} has no role`);
  return stack.resolve(fn.role.roleName);
}

/** The logical id behind a resolved `Fn::GetAtt` (how tests find a resource from its construct). */
export function logicalIdOf(stack: Stack, arn: string): string {
  const resolved: unknown = stack.resolve(arn);
  if (typeof resolved === 'object' && resolved !== null && 'Fn::GetAtt' in resolved && Array.isArray(resolved['Fn::GetAtt'])) {
    const [id] = resolved['Fn::GetAtt'];
    if (typeof id === 'string') return id;
  }
  throw new Error(`${JSON.stringify(resolved)} is not a Fn::GetAtt`);
}
