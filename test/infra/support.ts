/**
 * Shared fixtures of the CDK assertion tests. Bundling is skipped (`aws:cdk:bundling-stacks: []`),
 * so synthesizing a stack takes milliseconds; references are resolved through the constructs
 * (`stack.resolve(queue.queueArn)`), never through generated logical ids.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { JobSystem, type JobSystemProps } from '../../infra/job-system.js';
import { CONFIG_ITEM, type ConfigPart } from '../../lib/config/document.js';
import { ENV } from '../../lib/config/env.js';

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

/** One part of a JobSystem's configuration document, as its `Custom::HopperConfiguration` resource holds it. */
export interface ConfigurationPart {
  readonly logicalId: string;
  /** `Version`: the digest a function's `HOPPER_CONFIG` names. */
  readonly version: string;
  /** `Variables`: variable name → resolved value. */
  readonly variables: Record<string, unknown>;
  /** Every property of the resource. */
  readonly properties: Record<string, unknown>;
}

/**
 * The parts of the configuration document in `stack`'s template, by part (`document`,
 * `mappings`). Throws unless there is exactly one resource of each part, so no test reads the
 * variables of a part that is not there.
 */
export function configurationParts(stack: Stack): Record<ConfigPart, ConfigurationPart> {
  const found = Object.entries(Template.fromStack(stack).findResources('Custom::HopperConfiguration')).map(([logicalId, resource]): [unknown, ConfigurationPart] => {
    const properties = propertiesOf(resource);
    const { Version: version, Variables: variables } = properties;
    if (typeof version !== 'string' || !isObject(variables)) throw new Error(`${logicalId} has no Version or Variables`);
    return [properties.Part, { logicalId, version, variables, properties }];
  });
  const partNamed = (part: ConfigPart): ConfigurationPart => {
    const matching = found.filter(([name]) => name === part).map(([, found]) => found);
    const [only] = matching;
    if (matching.length !== 1 || only === undefined) throw new Error(`${stack.node.path} has ${matching.length} configuration resources of part ${part}`);
    return only;
  };
  return { [CONFIG_ITEM.parts.document]: partNamed(CONFIG_ITEM.parts.document), [CONFIG_ITEM.parts.mappings]: partNamed(CONFIG_ITEM.parts.mappings) };
}

/** The `Variables` of one part of the configuration document in `stack`'s template. */
export function partVariables(stack: Stack, part: ConfigPart): Record<string, unknown> {
  return configurationParts(stack)[part].variables;
}

/** The template resource of `fn` (a function of this app), in its own stack's template. */
function functionResource(fn: lambda.IFunction): Record<string, unknown> {
  const stack = Stack.of(fn);
  const resource: unknown = Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack, fn.functionArn)];
  if (!isObject(resource)) throw new Error(`${fn.node.path} is not in its stack's template`);
  return resource;
}

/** The environment variables of `fn` as its template resource holds them (references resolved). */
export function environmentOf(fn: lambda.IFunction): Record<string, unknown> {
  const environment = propertiesOf(functionResource(fn)).Environment;
  return isObject(environment) && isObject(environment.Variables) ? environment.Variables : {};
}

/** The logical ids `fn`'s resource has a `DependsOn` on. */
export function dependenciesOf(fn: lambda.IFunction): string[] {
  const dependsOn = functionResource(fn).DependsOn;
  return Array.isArray(dependsOn) ? dependsOn.filter((id): id is string => typeof id === 'string') : [];
}

/**
 * The parts of the configuration document in `stack` whose versions `fn`'s `HOPPER_CONFIG` names,
 * in its order. Throws when `fn` has no `HOPPER_CONFIG`, when it names a version no part has, or
 * when CloudFormation would not update `fn` after a part it reads (a `DependsOn` on it, or on its
 * stack for a function of another stack), so that a function could read a part not yet written.
 */
export function partsReadBy(stack: Stack, fn: lambda.IFunction): ConfigPart[] {
  const version = environmentOf(fn)[ENV.configVersion];
  if (typeof version !== 'string' || version === '') throw new Error(`${fn.node.path} has no ${ENV.configVersion}`);
  const parts = configurationParts(stack);
  const ordered = Stack.of(fn) === stack ? new Set(dependenciesOf(fn)) : undefined;
  return version.split('.').map((partVersion) => {
    const entry = Object.entries(parts).find(([, part]) => part.version === partVersion);
    if (entry === undefined) throw new Error(`${ENV.configVersion} of ${fn.node.path} names version ${partVersion}, which no configuration part of ${stack.node.path} has`);
    const [name, part] = entry;
    const after = ordered === undefined ? Stack.of(fn).dependencies.includes(stack) : ordered.has(part.logicalId);
    if (!after) throw new Error(`${fn.node.path} reads the ${name} part but is not deployed after it`);
    return name as ConfigPart;
  });
}

/**
 * The variables `fn` runs with: the `Variables` of the configuration parts its `HOPPER_CONFIG`
 * names (see {@link partsReadBy}), with its own environment on top (as lib/config/document.ts
 * merges them). References are resolved as in the template.
 */
export function configuredVariables(stack: Stack, fn: lambda.IFunction): Record<string, unknown> {
  const parts = configurationParts(stack);
  const fromDocument = Object.assign({}, ...partsReadBy(stack, fn).map((part) => parts[part].variables)) as Record<string, unknown>;
  return { ...fromDocument, ...environmentOf(fn) };
}

/**
 * The statement that lets a function read the configuration document: `dynamodb:Query` on the
 * state table, its `config` partition only.
 */
export function configReadStatement(stack: Stack, stateTable: dynamodb.ITable): Statement {
  return {
    Effect: 'Allow',
    Action: 'dynamodb:Query',
    Resource: stack.resolve(stateTable.tableArn),
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${CONFIG_ITEM.pk}*`] } },
  };
}

/** The function that writes `jobs`' configuration document at deploy (construct `Configuration/ConfigFunction`). */
export function configurationFunctionOf(jobs: JobSystem): lambda.Function {
  const fn = jobs.node.findChild('Configuration').node.findChild('ConfigFunction').node.findChild('Function');
  if (!(fn instanceof lambda.Function)) throw new Error(`${fn.node.path} is not a lambda.Function`);
  return fn;
}
