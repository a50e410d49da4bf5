/**
 * Lambda's 4 KB environment limit, checked at synth: CloudFormation would refuse the function at
 * deploy (`InvalidParameterValueException`), after every resource before it was created. The values
 * the construct sets hold tokens (queue URLs, table names, mapping ids) whose length is known only at
 * deploy, so each is counted at the longest AWS can make it: a generated name as
 * `<stack>-<logical id>-<13-character suffix>` within the service's own maximum, a URL or ARN in the
 * longest region and partition. A reference the check cannot size (an import from another stack, a
 * resource of another type) counts as nothing, so the check never refuses a function that fits.
 */
import { CfnOutput, CfnResource, CfnStack, NestedStack, Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { IConstruct } from 'constructs';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { environmentSizeProblem, type EnvironmentEntry } from '../lib/aws/lambda-limits.js';

/** The longest values AWS gives the pieces of a URL, an ARN or a generated name. */
const LONGEST = {
  /** `ap-southeast-2`, `ap-northeast-3`, … */
  region: 14,
  account: 12,
  /** `amazonaws.com.cn` */
  urlSuffix: 16,
  /** `aws-us-gov` */
  partition: 10,
  /** The random suffix CloudFormation appends to a generated name. */
  generatedSuffix: 13,
  /** `2026-12-05T07:00:00.000`, the label of a table's stream ARN. */
  streamLabel: 23,
  mappingUuid: 36,
} as const;

/** The longest names a service accepts, which CloudFormation's generated names are cut to. */
const NAME_LIMITS = { queue: 80, table: 255, function: 64 } as const;

const checked = new WeakSet<lambda.Function>();

/**
 * Makes synth fail when `fn`'s environment, with every token at its longest, is over Lambda's
 * limit, naming the function, the total and its largest variables. Idempotent.
 */
export function checkEnvironmentAtSynth(fn: lambda.Function): void {
  if (checked.has(fn)) return;
  checked.add(fn);
  fn.node.addValidation({
    validate: () => {
      const problem = environmentSizeProblem(longestEnvironment(fn));
      return problem === undefined ? [] : [
        `Lambda would refuse ${fn.node.path} at deploy: ${problem}, counting the names and URLs CloudFormation generates at their longest. `
        + 'A JobSystem\'s own variables stay the same few whatever the number of queues and crons (those are in its configuration document): '
        + 'move variables of your own out of this function\'s environment',
      ];
    },
  });
}

/** Each variable of `fn` with its size at the longest its tokens can resolve to. */
export function longestEnvironment(fn: lambda.Function): EnvironmentEntry[] {
  const stack = Stack.of(fn);
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  // The L1 property, resolved: `{ variables }`, with references in CloudFormation's form.
  const environment = stack.resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
  const sizer = new TokenSizer(stack);
  return Object.entries(environment?.variables ?? {}).map(([name, value]) => ({ name, bytes: Buffer.byteLength(name, 'utf8') + sizer.bytes(value) }));
}

/**
 * The size of `value` (strings, lists and objects of them, with tokens) as JSON once CloudFormation
 * has resolved it, each token at its longest.
 */
export function longestJsonBytes(scope: IConstruct, value: unknown): number {
  const stack = Stack.of(scope);
  const sizer = new TokenSizer(stack);
  const size = (item: unknown): number => {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') return sizer.bytes(item) + (typeof item === 'string' ? 2 : 0);
    if (Array.isArray(item)) return 2 + item.reduce<number>((sum, inner) => sum + size(inner), 0) + Math.max(0, item.length - 1);
    if (item === null || typeof item !== 'object') return 4;
    const entries = Object.entries(item);
    const [intrinsic] = entries[0] ?? [];
    // A reference or function resolves to a string.
    if (entries.length === 1 && intrinsic !== undefined && (intrinsic === 'Ref' || intrinsic.startsWith('Fn::'))) return sizer.bytes(item) + 2;
    return 2 + entries.reduce((sum, [key, inner]) => sum + Buffer.byteLength(key, 'utf8') + 3 + size(inner), 0) + Math.max(0, entries.length - 1);
  };
  return size(stack.resolve(value));
}

/** Sizes resolved CloudFormation values, looking references up in the stack. */
class TokenSizer {
  private readonly stack: Stack;
  private resources: Map<string, CfnResource> | undefined;
  /** Nested stacks by their resource in this stack, each with its outputs' sizes once asked for. */
  private nested: Map<CfnResource, { readonly stack: NestedStack; outputs: Map<string, number> | undefined }> | undefined;

  constructor(stack: Stack) {
    this.stack = stack;
  }

  bytes(value: unknown): number {
    if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
    if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
    if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + this.bytes(item), 0);
    if (value === null || typeof value !== 'object') return 0;
    const [intrinsic, argument] = Object.entries(value)[0] ?? [];
    if (intrinsic === 'Ref' && typeof argument === 'string') return this.ref(argument);
    if (intrinsic === 'Fn::GetAtt' && Array.isArray(argument)) return this.attribute(String(argument[0]), String(argument[1]));
    if (intrinsic === 'Fn::Join' && Array.isArray(argument)) {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.reduce<number>((sum, part) => sum + this.bytes(part), 0) + Buffer.byteLength(separator, 'utf8') * Math.max(0, parts.length - 1);
    }
    return 0;
  }

  private ref(name: string): number {
    switch (name) {
      case 'AWS::Region': return this.region();
      case 'AWS::AccountId': return LONGEST.account;
      case 'AWS::URLSuffix': return this.urlSuffix();
      case 'AWS::Partition': return this.partition();
      case 'AWS::StackName': return this.stackNameLength();
      default: break;
    }
    const resource = this.resource(name);
    if (resource instanceof sqs.CfnQueue) return this.queueUrl(name, resource);
    if (resource instanceof dynamodb.CfnTable) return this.name(name, resource.tableName, NAME_LIMITS.table);
    if (resource instanceof lambda.CfnFunction) return this.name(name, resource.functionName, NAME_LIMITS.function);
    if (resource instanceof lambda.CfnEventSourceMapping) return LONGEST.mappingUuid;
    return 0;
  }

  private attribute(logicalId: string, attribute: string): number {
    const resource = this.resource(logicalId);
    const arn = (service: string, resourcePart: number): number => 'arn:'.length + this.partition() + `:${service}:`.length + this.region() + 1 + LONGEST.account + 1 + resourcePart;
    if (resource instanceof sqs.CfnQueue) {
      const name = this.name(logicalId, resource.queueName, NAME_LIMITS.queue);
      if (attribute === 'Arn') return arn('sqs', name);
      if (attribute === 'QueueName') return name;
      if (attribute === 'QueueUrl') return this.queueUrl(logicalId, resource);
    }
    if (resource instanceof dynamodb.CfnTable) {
      const name = this.name(logicalId, resource.tableName, NAME_LIMITS.table);
      if (attribute === 'Arn') return arn('dynamodb', 'table/'.length + name);
      if (attribute === 'StreamArn') return arn('dynamodb', 'table/'.length + name + '/stream/'.length + LONGEST.streamLabel);
    }
    if (resource instanceof lambda.CfnFunction && attribute === 'Arn') {
      return arn('lambda', 'function:'.length + this.name(logicalId, resource.functionName, NAME_LIMITS.function));
    }
    if (resource instanceof lambda.CfnEventSourceMapping && attribute === 'EventSourceMappingArn') return arn('lambda', 'event-source-mapping:'.length + LONGEST.mappingUuid);
    if (resource instanceof CfnStack && attribute.startsWith('Outputs.')) return this.nestedOutput(resource, attribute.slice('Outputs.'.length));
    return 0;
  }

  /** An output of a nested stack (how a value made there reaches its parent), sized in its own stack. */
  private nestedOutput(resource: CfnStack, outputId: string): number {
    if (this.nested === undefined) {
      // Found once per sizing: a document of 200 queue URLs names 200 outputs.
      this.nested = new Map();
      for (const child of this.stack.node.findAll()) {
        if (child instanceof NestedStack && child.nestedStackResource !== undefined) this.nested.set(child.nestedStackResource, { stack: child, outputs: undefined });
      }
    }
    const entry = this.nested.get(resource);
    if (entry === undefined) return 0;
    if (entry.outputs === undefined) {
      const sizer = new TokenSizer(entry.stack);
      const outputs = entry.stack.node.findAll().filter((child): child is CfnOutput => child instanceof CfnOutput);
      entry.outputs = new Map(outputs.map((output) => [entry.stack.resolve(output.logicalId) as string, sizer.bytes(entry.stack.resolve(output.value))]));
    }
    return entry.outputs.get(outputId) ?? 0;
  }

  /** `https://sqs.<region>.<url suffix>/<account>/<name>` */
  private queueUrl(logicalId: string, queue: sqs.CfnQueue): number {
    return 'https://sqs.'.length + this.region() + 1 + this.urlSuffix() + 1 + LONGEST.account + 1 + this.name(logicalId, queue.queueName, NAME_LIMITS.queue);
  }

  /** An explicit name's length, or the longest name CloudFormation generates for the resource. */
  private name(logicalId: string, explicit: string | undefined, limit: number): number {
    if (explicit !== undefined && !Token.isUnresolved(explicit)) return Buffer.byteLength(explicit, 'utf8');
    return Math.min(limit, this.stackNameLength() + 1 + logicalId.length + 1 + LONGEST.generatedSuffix);
  }

  /** The stack's name; a nested stack's is `<parent>-<its logical id>-<suffix>`, cut to CloudFormation's 128. */
  private stackNameLength(): number {
    const stack = this.stack;
    if (!(stack instanceof NestedStack) || !Token.isUnresolved(stack.stackName)) return stack.stackName.length;
    const parent = stack.nestedStackParent;
    const parentLength = parent === undefined ? 0 : new TokenSizer(parent).stackNameLength();
    const logicalId = parent === undefined ? '' : parent.resolve(stack.nestedStackResource?.logicalId ?? '') as string;
    return Math.min(128, parentLength + 1 + logicalId.length + 1 + LONGEST.generatedSuffix);
  }

  private region(): number {
    return Token.isUnresolved(this.stack.region) ? LONGEST.region : this.stack.region.length;
  }

  /** The partition of the stack's region when it is known (`aws` for eu-central-1), else the longest. */
  private partition(): number {
    return this.known()?.partition?.length ?? LONGEST.partition;
  }

  /** The URL suffix of the stack's region when it is known, else the longest. */
  private urlSuffix(): number {
    return this.known()?.domainSuffix?.length ?? LONGEST.urlSuffix;
  }

  private known(): RegionInfo | undefined {
    return Token.isUnresolved(this.stack.region) ? undefined : RegionInfo.get(this.stack.region);
  }

  private resource(logicalId: string): CfnResource | undefined {
    if (this.resources === undefined) {
      this.resources = new Map();
      for (const child of this.stack.node.findAll()) {
        if (child instanceof CfnResource && Stack.of(child) === this.stack) this.resources.set(this.stack.resolve(child.logicalId) as string, child);
      }
    }
    return this.resources.get(logicalId);
  }
}

