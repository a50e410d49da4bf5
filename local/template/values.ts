/**
 * The values references resolve to: what `Ref` and `Fn::GetAtt` give for each resource created so
 * far, pseudo parameters, parameter defaults, and stand-ins for resource types that have no local
 * counterpart (IAM roles, log groups, alarms), so templates that mention them still resolve.
 */
import { LOCAL_IDENTITY } from '../emulators.js';
import { localArn, physicalName } from '../identity.js';
import { IntrinsicError, type IntrinsicContext } from './intrinsics.js';
import { resolveIntrinsics } from './intrinsics.js';
import type { CfnTemplate } from './model.js';

/** What a resource answers to `Ref` and `Fn::GetAtt`. */
export interface ResourceValue {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** The values of a stack's resources, filled in as they are created. */
export class TemplateValues implements IntrinsicContext {
  readonly region = LOCAL_IDENTITY.region;
  readonly mappings: Readonly<Record<string, unknown>>;
  private readonly template: CfnTemplate;
  private readonly stackName: string;
  private readonly values = new Map<string, ResourceValue>();
  /** Types whose values only their handler can give; referring to one before it exists is a bug. */
  private readonly localTypes: ReadonlySet<string>;
  private readonly conditionCache = new Map<string, boolean>();
  /** Values passed for the template's parameters (a nested stack's, by its parent). */
  private readonly parameterValues: ReadonlyMap<string, unknown>;

  constructor(template: CfnTemplate, stackName: string, localTypes: ReadonlySet<string>, parameterValues: ReadonlyMap<string, unknown> = new Map()) {
    this.template = template;
    this.parameterValues = parameterValues;
    this.stackName = stackName;
    this.mappings = template.mappings;
    this.localTypes = localTypes;
  }

  /** Records what a resource resolves to. */
  set(logicalId: string, value: ResourceValue): void {
    this.values.set(logicalId, value);
  }

  /** The recorded value of a resource, if any. */
  get(logicalId: string): ResourceValue | undefined {
    return this.values.get(logicalId);
  }

  ref(name: string): unknown {
    switch (name) {
      case 'AWS::Region':
        return LOCAL_IDENTITY.region;
      case 'AWS::AccountId':
        return LOCAL_IDENTITY.accountId;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return localArn('cloudformation', `stack/${this.stackName}/00000000-0000-0000-0000-000000000000`);
      case 'AWS::NotificationARNs':
        return [];
      default:
        break;
    }
    const parameter = this.template.parameters.get(name);
    if (parameter !== undefined && this.parameterValues.has(name)) return this.parameterValues.get(name);
    if (parameter !== undefined) {
      if (parameter.default === undefined) throw new IntrinsicError('', `parameter ${name} has no Default, and the local runtime cannot ask for one`);
      return parameter.default;
    }
    return this.valueOf(name).ref;
  }

  getAtt(logicalId: string, attribute: string): unknown {
    const value = this.valueOf(logicalId);
    const found = value.attributes[attribute];
    if (found !== undefined) return found;
    const resource = this.template.resources.get(logicalId);
    if (resource !== undefined && this.localTypes.has(resource.type)) {
      throw new IntrinsicError('', `${logicalId} (${resource.type}) has no attribute ${attribute} locally`);
    }
    return `${value.ref}.${attribute}`;
  }

  condition(name: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const definition = this.template.conditions[name];
    if (definition === undefined) throw new IntrinsicError('', `condition ${name} is not defined in the template`);
    const result = resolveIntrinsics(definition, this, `Conditions.${name}`);
    if (typeof result !== 'boolean') throw new IntrinsicError(`Conditions.${name}`, 'does not evaluate to a boolean');
    this.conditionCache.set(name, result);
    return result;
  }

  private valueOf(logicalId: string): ResourceValue {
    const known = this.values.get(logicalId);
    if (known !== undefined) return known;
    const resource = this.template.resources.get(logicalId);
    if (resource === undefined) throw new IntrinsicError('', `${logicalId} is not a resource or parameter of the template`);
    if (this.localTypes.has(resource.type)) {
      throw new IntrinsicError('', `${logicalId} (${resource.type}) is referenced before it exists (is its Condition false?)`);
    }
    // A resource with no local counterpart: give it a plausible physical id and ARN.
    const service = resource.type.split('::')[1]?.toLowerCase() ?? 'unknown';
    const ref = physicalName(this.stackName, logicalId, 128);
    const stand = { ref, attributes: { Arn: localArn(service, logicalId) } };
    this.values.set(logicalId, stand);
    return stand;
  }
}
