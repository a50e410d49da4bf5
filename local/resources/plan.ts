/**
 * Walks a template in dependency order, resolves each resource's intrinsics with the values of
 * the resources before it, parses what the local runtime emulates and creates queues and tables
 * through a {@link ResourceBackend}. Run once with a dry backend to validate the whole template
 * before anything starts, then with the emulators.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isRecord } from '../../lib/job/model.js';
import { localArn, physicalName } from '../identity.js';
import { IntrinsicError, resolveIntrinsics } from '../template/intrinsics.js';
import { creationOrder } from '../template/graph.js';
import { TemplateError, describeValue, parseTemplate, type CfnTemplate } from '../template/model.js';
import { Properties } from '../template/properties.js';
import { TemplateValues } from '../template/values.js';
import { isCustomResourceType, type CustomResourceSpec } from './custom-resource.js';
import { parseMapping, type MappingSpec } from './event-source-mapping.js';
import { parseFunction, type CodeSources, type FunctionSpec } from './function.js';
import { parseFunctionUrl, type FunctionUrlSpec } from './function-url.js';
import { parseQueue, type QueueSpec } from './queue.js';
import { parseSchedule, type ScheduleSpec } from './schedule.js';
import { parseTable, type TableSpec } from './table.js';

/** CloudFormation types the local runtime gives a local counterpart. */
export const RESOURCE_TYPES = {
  queue: 'AWS::SQS::Queue',
  table: 'AWS::DynamoDB::Table',
  globalTable: 'AWS::DynamoDB::GlobalTable',
  function: 'AWS::Lambda::Function',
  version: 'AWS::Lambda::Version',
  alias: 'AWS::Lambda::Alias',
  mapping: 'AWS::Lambda::EventSourceMapping',
  url: 'AWS::Lambda::Url',
  schedule: 'AWS::Scheduler::Schedule',
  eventInvokeConfig: 'AWS::Lambda::EventInvokeConfig',
  scheduleGroup: 'AWS::Scheduler::ScheduleGroup',
  nestedStack: 'AWS::CloudFormation::Stack',
} as const;

const LOCAL_TYPES: ReadonlySet<string> = new Set(Object.values(RESOURCE_TYPES));

/** Creates queues and tables (in the emulators, or pretends to while validating). */
export interface ResourceBackend {
  /** Creates a queue; returns its URL. */
  createQueue(spec: QueueSpec): Promise<string>;
  /** Creates a table; returns its stream ARN when it has a stream. */
  createTable(spec: TableSpec): Promise<string | undefined>;
  /** Port of a function URL (chosen before the resources are created). */
  functionUrlPort(logicalId: string): number;
}

/** A created queue. */
export interface PlannedQueue extends QueueSpec {
  readonly url: string;
}

/** A created table. */
export interface PlannedTable extends TableSpec {
  readonly streamArn: string | undefined;
}

/** A function URL with its local address. */
export interface PlannedFunctionUrl extends FunctionUrlSpec {
  readonly port: number;
  readonly url: string;
}

/** Everything the runtime runs for one stack. */
export interface Plan {
  readonly stackName: string;
  readonly queues: readonly PlannedQueue[];
  readonly tables: readonly PlannedTable[];
  readonly functions: readonly FunctionSpec[];
  readonly mappings: readonly MappingSpec[];
  readonly schedules: readonly ScheduleSpec[];
  readonly functionUrls: readonly PlannedFunctionUrl[];
  /** Lambda-backed custom resources, in creation order (created once the functions can run). */
  readonly customResources: readonly CustomResourceSpec[];
  /** How asynchronous invocations are retried, per function ARN (its EventInvokeConfig). */
  readonly asyncConfigs: ReadonlyMap<string, AsyncInvokeConfig>;
  /** The stack's outputs, resolved to local values. */
  readonly outputs: Readonly<Record<string, string>>;
  /** What the runtime skips, and why (one line each). */
  readonly warnings: readonly string[];
}

/** A function's EventInvokeConfig: what it leaves out keeps Lambda's default. */
export interface AsyncInvokeConfig {
  /** MaximumRetryAttempts: retries of a failed event (0 to 2). */
  readonly retries?: number;
  /** MaximumEventAgeInSeconds, in ms: an event this old is dropped, throttled or not. */
  readonly maxEventAgeMs?: number;
}

/** Inputs of {@link planStack}. */
export interface PlanInput {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly code: CodeSources;
  readonly backend: ResourceBackend;
}

/**
 * Resolves and creates a stack's resources, those of its nested stacks (`AWS::CloudFormation::Stack`
 * whose template is a file asset of the assembly, as the CDK's `NestedStack` writes it) included.
 *
 * @throws TemplateError naming the first resource that is malformed.
 */
export async function planStack(input: PlanInput): Promise<Plan> {
  const types = new Map<string, string>();
  const plan = await planTemplate(input, new Map(), types);
  checkReferences(plan, (logicalId) => types.get(logicalId) ?? 'unknown type');
  return plan;
}

/**
 * One template's resources, its nested stacks' merged in; `parameters` are the values its parent
 * passes (a root stack's come from their defaults). Records each resource's type by logical id in
 * `types`, for messages.
 */
async function planTemplate({ template, stackName, code, backend }: PlanInput, parameters: ReadonlyMap<string, unknown>, types: Map<string, string>): Promise<Plan> {
  const values = new TemplateValues(template, stackName, LOCAL_TYPES, parameters);
  const queues: PlannedQueue[] = [];
  const tables: PlannedTable[] = [];
  const functions: FunctionSpec[] = [];
  const mappings: MappingSpec[] = [];
  const schedules: ScheduleSpec[] = [];
  const functionUrls: PlannedFunctionUrl[] = [];
  const customResources: CustomResourceSpec[] = [];
  const warnings: string[] = [];
  const asyncConfigs = new Map<string, AsyncInvokeConfig>();

  for (const resource of creationOrder(template)) {
    const { logicalId, type } = resource;
    types.set(logicalId, type);
    const custom = isCustomResourceType(type);
    if (!LOCAL_TYPES.has(type) && !custom) continue;
    if (resource.condition !== undefined && !evaluate(() => values.condition(resource.condition ?? ''), logicalId, type)) continue;
    const resolved = evaluate(() => resolveIntrinsics(resource.properties, values, 'Properties'), logicalId, type);
    const props = new Properties(logicalId, type, isRecord(resolved) ? resolved : {});
    if (custom) {
      customResources.push({ logicalId, type, serviceToken: props.string('ServiceToken'), properties: isRecord(resolved) ? resolved : {} });
      values.set(logicalId, { ref: `${stackName}-${logicalId}`, attributes: {} });
      continue;
    }
    switch (type) {
      case RESOURCE_TYPES.queue: {
        const spec = parseQueue(props, stackName);
        const url = await backend.createQueue(spec);
        queues.push({ ...spec, url });
        values.set(logicalId, { ref: url, attributes: { Arn: spec.arn, QueueName: spec.name, QueueUrl: url } });
        break;
      }
      case RESOURCE_TYPES.table:
      case RESOURCE_TYPES.globalTable: {
        const spec = parseTable(props, stackName);
        const streamArn = await backend.createTable(spec);
        tables.push({ ...spec, streamArn });
        values.set(logicalId, { ref: spec.name, attributes: { Arn: spec.arn, ...(streamArn === undefined ? {} : { StreamArn: streamArn }) } });
        break;
      }
      case RESOURCE_TYPES.function: {
        const spec = parseFunction(props, stackName, code, resource.metadata);
        if (spec.unsupported !== undefined) warnings.push(`${logicalId}: ${spec.unsupported}; it will not run`);
        functions.push(spec);
        values.set(logicalId, { ref: spec.name, attributes: { Arn: spec.arn } });
        break;
      }
      case RESOURCE_TYPES.version: {
        const target = props.string('FunctionName');
        const arn = `${functionArn(target)}:1`;
        values.set(logicalId, { ref: arn, attributes: { Version: '1' } });
        break;
      }
      case RESOURCE_TYPES.alias: {
        const target = props.string('FunctionName');
        const name = props.string('Name');
        values.set(logicalId, { ref: `${functionArn(target)}:${name}`, attributes: {} });
        break;
      }
      case RESOURCE_TYPES.mapping: {
        const spec = parseMapping(props);
        if ('unsupported' in spec) {
          warnings.push(`${logicalId}: ${spec.unsupported}; it will not run`);
          values.set(logicalId, { ref: logicalId, attributes: {} });
          break;
        }
        mappings.push(spec);
        values.set(logicalId, { ref: spec.uuid, attributes: { Id: spec.uuid, EventSourceMappingArn: localArn('lambda', `event-source-mapping:${spec.uuid}`) } });
        break;
      }
      case RESOURCE_TYPES.url: {
        const spec = parseFunctionUrl(props);
        const port = backend.functionUrlPort(logicalId);
        const url = `http://127.0.0.1:${port}/`;
        if (spec.streaming) warnings.push(`${logicalId}: response streaming is served buffered locally`);
        functionUrls.push({ ...spec, port, url });
        values.set(logicalId, { ref: functionArn(spec.targetFunction), attributes: { FunctionUrl: url, FunctionArn: functionArn(spec.targetFunction) } });
        break;
      }
      case RESOURCE_TYPES.schedule: {
        const spec = parseSchedule(props, stackName);
        schedules.push(spec);
        values.set(logicalId, { ref: spec.name, attributes: { Arn: spec.arn } });
        break;
      }
      case RESOURCE_TYPES.eventInvokeConfig: {
        const retries = props.integer('MaximumRetryAttempts', { min: 0, max: 2 });
        const maxEventAgeSeconds = props.integer('MaximumEventAgeInSeconds', { min: 60, max: 21_600 });
        asyncConfigs.set(functionArn(props.string('FunctionName')), {
          ...(retries === undefined ? {} : { retries }),
          ...(maxEventAgeSeconds === undefined ? {} : { maxEventAgeMs: maxEventAgeSeconds * 1000 }),
        });
        values.set(logicalId, { ref: logicalId, attributes: {} });
        break;
      }
      case RESOURCE_TYPES.nestedStack: {
        const nested = nestedTemplate(props, code);
        const name = physicalName(stackName, logicalId, 115, `-${nestedSuffix(stackName, logicalId)}`);
        const passed = new Map(Object.entries(props.stringMap('Parameters')));
        for (const declared of nested.parameters.values()) {
          if (!passed.has(declared.logicalId) && declared.default === undefined) props.fail(`Properties.Parameters has no value for ${declared.logicalId}, which the nested template declares without a Default`);
        }
        const inner = await planTemplate({ template: nested, stackName: name, code, backend }, passed, types);
        if (inner.functionUrls.length > 0) props.fail('its template has a function URL, which the local runtime serves only in the root stack');
        queues.push(...inner.queues);
        tables.push(...inner.tables);
        functions.push(...inner.functions);
        mappings.push(...inner.mappings);
        schedules.push(...inner.schedules);
        functionUrls.push(...inner.functionUrls);
        customResources.push(...inner.customResources);
        for (const [arn, config] of inner.asyncConfigs) asyncConfigs.set(arn, config);
        warnings.push(...inner.warnings.map((warning) => `${logicalId} (nested): ${warning}`));
        const arn = localArn('cloudformation', `stack/${name}/00000000-0000-0000-0000-000000000000`);
        values.set(logicalId, { ref: arn, attributes: Object.fromEntries(Object.entries(inner.outputs).map(([output, value]) => [`Outputs.${output}`, value])) });
        break;
      }
      case RESOURCE_TYPES.scheduleGroup: {
        const name = props.optionalString('Name') ?? `${stackName}-${logicalId}`;
        values.set(logicalId, { ref: name, attributes: { Arn: localArn('scheduler', `schedule-group/${name}`), CreationDate: new Date().toISOString(), State: 'ACTIVE' } });
        break;
      }
      default:
        break;
    }
  }

  const outputs: Record<string, string> = {};
  for (const output of template.outputs) {
    try {
      const value = resolveIntrinsics(output.value, values, `Outputs.${output.logicalId}`);
      outputs[output.logicalId] = typeof value === 'string' ? value : JSON.stringify(value);
    } catch (error) {
      warnings.push(`output ${output.logicalId}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { stackName, queues, tables, functions, mappings, schedules, functionUrls, customResources, asyncConfigs, outputs, warnings };
}

function evaluate<T>(run: () => T, logicalId: string, type: string): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof IntrinsicError) throw new TemplateError(logicalId, type, error.message, { cause: error });
    throw error;
  }
}

/** A function's unqualified ARN from a name, ARN or qualified ARN. */
export function functionArn(nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn.split(':').slice(0, 7).join(':');
  return localArn('lambda', `function:${nameOrArn.split(':')[0] ?? nameOrArn}`);
}

/** Finds the function a mapping, schedule or URL names (by name, ARN or qualified ARN). */
export function findFunction(functions: readonly FunctionSpec[], nameOrArn: string): FunctionSpec | undefined {
  const arn = functionArn(nameOrArn);
  return functions.find((fn) => fn.arn === arn);
}

/**
 * The template of a nested stack: the file asset its `TemplateURL` names (the URL's last path
 * segment is the asset's object key).
 */
function nestedTemplate(props: Properties, code: CodeSources): CfnTemplate {
  const url = props.string('TemplateURL');
  const key = url.split('/').pop() ?? '';
  const path = code.assets.get(key);
  if (path === undefined) return props.fail(`Properties.TemplateURL ${JSON.stringify(url)} names no file asset of the assembly (the local runtime runs nested stacks whose template the CDK wrote)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return props.fail(`its template ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseTemplate(json, path);
}

/** The 12-character suffix CloudFormation gives a nested stack's name, stable per parent and logical id locally. */
function nestedSuffix(stackName: string, logicalId: string): string {
  return createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase();
}

interface References {
  readonly functions: readonly FunctionSpec[];
  readonly mappings: readonly MappingSpec[];
  readonly schedules: readonly ScheduleSpec[];
  readonly functionUrls: readonly FunctionUrlSpec[];
  readonly queues: readonly PlannedQueue[];
  readonly tables: readonly PlannedTable[];
}

/** Every mapping, schedule and URL must point at something the stack (with its nested stacks) defines. */
function checkReferences(refs: References, typeOf: (logicalId: string) => string): void {
  const fail = (logicalId: string, problem: string): never => {
    throw new TemplateError(logicalId, typeOf(logicalId), problem);
  };
  const queueArns = new Set(refs.queues.map((queue) => queue.arn));
  const streamArns = new Set(refs.tables.flatMap((table) => (table.streamArn === undefined ? [] : [table.streamArn])));
  for (const mapping of refs.mappings) {
    if (findFunction(refs.functions, mapping.functionName) === undefined) {
      fail(mapping.logicalId, `Properties.FunctionName ${describeValue(mapping.functionName)} is not a function of this stack`);
    }
    const known = mapping.kind === 'sqs' ? queueArns : streamArns;
    if (!known.has(mapping.eventSourceArn)) {
      fail(mapping.logicalId, `Properties.EventSourceArn ${describeValue(mapping.eventSourceArn)} is not a ${mapping.kind === 'sqs' ? 'queue' : 'table stream'} of this stack`);
    }
    if (mapping.onFailureDestination !== undefined && !queueArns.has(mapping.onFailureDestination)) {
      fail(mapping.logicalId, `Properties.DestinationConfig.OnFailure.Destination ${describeValue(mapping.onFailureDestination)} is not a queue of this stack (the only local destination kind)`);
    }
  }
  for (const url of refs.functionUrls) {
    if (findFunction(refs.functions, url.targetFunction) === undefined) {
      fail(url.logicalId, `Properties.TargetFunctionArn ${describeValue(url.targetFunction)} is not a function of this stack`);
    }
  }
  for (const schedule of refs.schedules) {
    const target = schedule.targetArn;
    const known = findFunction(refs.functions, target) !== undefined || queueArns.has(target) || target === SQS_UNIVERSAL_TARGET;
    if (!known) fail(schedule.logicalId, `Properties.Target.Arn ${describeValue(target)} is not a function or queue of this stack (the targets the local scheduler can invoke)`);
  }
}

/** The Scheduler universal target that sends an SQS message (Input holds the SendMessage request). */
export const SQS_UNIVERSAL_TARGET = 'arn:aws:scheduler:::aws-sdk:sqs:sendMessage';
