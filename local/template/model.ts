/**
 * The parts of a CloudFormation template the local runtime reads, parsed from JSON with errors
 * that name where the template is wrong.
 */
import { HopperError } from '../../lib/errors/base.js';
import { TemplateError } from '../../lib/errors/local.js';
import { isRecord } from '../../lib/job/model.js';

/** One resource of a template, as written (intrinsics unresolved). */
export interface CfnResource {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly dependsOn: readonly string[];
  /** Name of the condition that decides whether the resource exists. */
  readonly condition: string | undefined;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** One output of a template, as written. */
export interface CfnOutput {
  readonly logicalId: string;
  readonly value: unknown;
  readonly description: string | undefined;
}

/** A parameter of a template (CDK stacks have `BootstrapVersion`). */
export interface CfnParameter {
  readonly logicalId: string;
  readonly type: string;
  readonly default: unknown;
}

/** A parsed template. */
export interface CfnTemplate {
  readonly resources: ReadonlyMap<string, CfnResource>;
  readonly outputs: readonly CfnOutput[];
  readonly parameters: ReadonlyMap<string, CfnParameter>;
  readonly conditions: Readonly<Record<string, unknown>>;
  readonly mappings: Readonly<Record<string, unknown>>;
}

export { TemplateError } from '../../lib/errors/local.js';

/** Describes a value briefly for an error message (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Parses a template's JSON.
 *
 * @param source where the template came from, for messages (a file path).
 * @throws TemplateError when a resource is not an object with a string `Type`.
 */
export function parseTemplate(json: unknown, source: string): CfnTemplate {
  if (!isRecord(json)) throw new HopperError(`${source} is not a CloudFormation template: expected a JSON object`);
  const rawResources = json.Resources;
  if (!isRecord(rawResources)) throw new HopperError(`${source} is not a CloudFormation template: it has no Resources object`);
  const resources = new Map<string, CfnResource>();
  for (const [logicalId, raw] of Object.entries(rawResources)) {
    resources.set(logicalId, parseResource(logicalId, raw));
  }
  const outputs: CfnOutput[] = [];
  if (isRecord(json.Outputs)) {
    for (const [logicalId, raw] of Object.entries(json.Outputs)) {
      if (!isRecord(raw)) continue;
      outputs.push({ logicalId, value: raw.Value, description: typeof raw.Description === 'string' ? raw.Description : undefined });
    }
  }
  const parameters = new Map<string, CfnParameter>();
  if (isRecord(json.Parameters)) {
    for (const [logicalId, raw] of Object.entries(json.Parameters)) {
      if (!isRecord(raw)) continue;
      parameters.set(logicalId, { logicalId, type: typeof raw.Type === 'string' ? raw.Type : 'String', default: raw.Default });
    }
  }
  return {
    resources,
    outputs,
    parameters,
    conditions: isRecord(json.Conditions) ? json.Conditions : {},
    mappings: isRecord(json.Mappings) ? json.Mappings : {},
  };
}

function parseResource(logicalId: string, raw: unknown): CfnResource {
  if (!isRecord(raw)) throw new TemplateError(logicalId, 'unknown type', `expected an object with Type and Properties, but ${describeValue(raw)} was provided`);
  const type = raw.Type;
  if (typeof type !== 'string' || type === '') {
    throw new TemplateError(logicalId, 'unknown type', `Type must be a non-empty string, but ${describeValue(type)} was provided`);
  }
  const properties = raw.Properties ?? {};
  if (!isRecord(properties)) throw new TemplateError(logicalId, type, `Properties must be an object, but ${describeValue(properties)} was provided`);
  const dependsOnRaw = raw.DependsOn ?? [];
  const dependsOn = typeof dependsOnRaw === 'string' ? [dependsOnRaw] : dependsOnRaw;
  if (!Array.isArray(dependsOn) || !dependsOn.every((entry) => typeof entry === 'string')) {
    throw new TemplateError(logicalId, type, `DependsOn must be a string or a list of strings, but ${describeValue(dependsOnRaw)} was provided`);
  }
  const strings: string[] = dependsOn.filter((entry): entry is string => typeof entry === 'string');
  return {
    logicalId,
    type,
    properties,
    dependsOn: strings,
    condition: typeof raw.Condition === 'string' ? raw.Condition : undefined,
    metadata: isRecord(raw.Metadata) ? raw.Metadata : {},
  };
}
