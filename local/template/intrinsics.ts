/**
 * Resolves CloudFormation intrinsic functions to plain values. CDK renders tokens as `Ref`,
 * `Fn::GetAtt`, `Fn::Join` (also for `Stack.toJsonString`), `Fn::Sub`, `Fn::Select`, `Fn::Split`
 * and, with conditions, `Fn::If`; this module knows those plus the condition functions,
 * `Fn::FindInMap`, `Fn::Base64`, `Fn::GetAZs` and `AWS::NoValue`.
 */
import { IntrinsicError } from '../../lib/errors/local.js';
import { isRecord } from '../../lib/job/model.js';
import { describeValue } from './model.js';

/** What resolution needs from the runtime: the values of references. */
export interface IntrinsicContext {
  /** Value of `Ref` to a resource, parameter or pseudo parameter (never `AWS::NoValue`). */
  ref(name: string): unknown;
  /** Value of `Fn::GetAtt` of a resource. */
  getAtt(logicalId: string, attribute: string): unknown;
  /** Value of a named condition. */
  condition(name: string): boolean;
  /** The template's Mappings section. */
  readonly mappings: Readonly<Record<string, unknown>>;
  /** Region for `Fn::GetAZs`. */
  readonly region: string;
}

export { IntrinsicError } from '../../lib/errors/local.js';

const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

/**
 * Resolves every intrinsic inside `value`. Properties and list items that resolve to
 * `AWS::NoValue` are removed, as CloudFormation does.
 *
 * @param path where `value` sits, for error messages.
 * @throws IntrinsicError naming the path of the intrinsic that failed.
 */
export function resolveIntrinsics(value: unknown, context: IntrinsicContext, path = ''): unknown {
  const resolved = resolveValue(value, context, path);
  return resolved === NO_VALUE ? undefined : resolved;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function resolveValue(value: unknown, context: IntrinsicContext, path: string): unknown {
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    value.forEach((item, index) => {
      const resolved = resolveValue(item, context, join(path, index));
      if (resolved !== NO_VALUE) items.push(resolved);
    });
    return items;
  }
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  const only = keys.length === 1 ? keys[0] : undefined;
  if (only !== undefined && (only === 'Ref' || only.startsWith('Fn::') || only === 'Condition')) {
    return resolveFunction(only, value[only], context, join(path, only));
  }
  const result: Record<string, unknown> = {};
  for (const key of keys) {
    const resolved = resolveValue(value[key], context, join(path, key));
    if (resolved !== NO_VALUE) result[key] = resolved;
  }
  return result;
}

/** Runs a context lookup, locating its error at `path`. */
function lookup(path: string, run: () => unknown): unknown {
  try {
    return run();
  } catch (error) {
    if (error instanceof IntrinsicError && error.path === '') throw new IntrinsicError(path, error.message);
    throw error;
  }
}

function resolveFunction(name: string, argument: unknown, context: IntrinsicContext, path: string): unknown {
  switch (name) {
    case 'Ref': {
      if (typeof argument !== 'string') throw new IntrinsicError(path, `expected a logical id or parameter name, but ${describeValue(argument)} was provided`);
      if (argument === 'AWS::NoValue') return NO_VALUE;
      return lookup(path, () => context.ref(argument));
    }
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = getAttArguments(argument, context, path);
      return lookup(path, () => context.getAtt(logicalId, attribute));
    }
    case 'Fn::Join': {
      const args = list(resolveValue(argument, context, path), path, 2);
      const [delimiter, items] = args;
      if (typeof delimiter !== 'string') throw new IntrinsicError(path, `the delimiter must be a string, but ${describeValue(delimiter)} was provided`);
      if (!Array.isArray(items)) throw new IntrinsicError(path, `the values to join must be a list, but ${describeValue(items)} was provided`);
      return items.map((item, index) => scalar(item, join(path, index))).join(delimiter);
    }
    case 'Fn::Sub':
      return substitute(argument, context, path);
    case 'Fn::Select': {
      const [index, items] = list(resolveValue(argument, context, path), path, 2);
      const position = typeof index === 'string' ? Number(index) : index;
      if (typeof position !== 'number' || !Number.isInteger(position) || position < 0) {
        throw new IntrinsicError(path, `the index must be a non-negative integer, but ${describeValue(index)} was provided`);
      }
      if (!Array.isArray(items)) throw new IntrinsicError(path, `the values to select from must be a list, but ${describeValue(items)} was provided`);
      if (position >= items.length) throw new IntrinsicError(path, `index ${position} is out of range for a list of ${items.length}`);
      return items[position];
    }
    case 'Fn::Split': {
      const [delimiter, source] = list(resolveValue(argument, context, path), path, 2);
      if (typeof delimiter !== 'string' || typeof source !== 'string') {
        throw new IntrinsicError(path, `expected [delimiter, string], but ${describeValue([delimiter, source])} was provided`);
      }
      return source.split(delimiter);
    }
    case 'Fn::Base64':
      return Buffer.from(scalar(resolveValue(argument, context, path), path)).toString('base64');
    case 'Fn::GetAZs':
      return ['a', 'b', 'c'].map((zone) => `${context.region}${zone}`);
    case 'Fn::FindInMap': {
      const [mapName, topKey, secondKey] = list(resolveValue(argument, context, path), path, 3);
      const map = context.mappings[scalar(mapName, path)];
      const top = isRecord(map) ? map[scalar(topKey, path)] : undefined;
      const found = isRecord(top) ? top[scalar(secondKey, path)] : undefined;
      if (found === undefined) throw new IntrinsicError(path, `no mapping value for ${describeValue([mapName, topKey, secondKey])}`);
      return found;
    }
    case 'Fn::If': {
      const [conditionName, whenTrue, whenFalse] = list(argument, path, 3);
      if (typeof conditionName !== 'string') throw new IntrinsicError(path, `the condition must be a name, but ${describeValue(conditionName)} was provided`);
      return lookup(path, () => context.condition(conditionName)) ? resolveValue(whenTrue, context, join(path, 1)) : resolveValue(whenFalse, context, join(path, 2));
    }
    case 'Condition':
      if (typeof argument !== 'string') throw new IntrinsicError(path, `expected a condition name, but ${describeValue(argument)} was provided`);
      return context.condition(argument);
    case 'Fn::Equals': {
      const [left, right] = list(resolveValue(argument, context, path), path, 2);
      return JSON.stringify(left) === JSON.stringify(right);
    }
    case 'Fn::Not': {
      const [operand] = list(resolveValue(argument, context, path), path, 1);
      return !truthy(operand, path);
    }
    case 'Fn::And':
      return listOfAny(resolveValue(argument, context, path), path).every((operand) => truthy(operand, path));
    case 'Fn::Or':
      return listOfAny(resolveValue(argument, context, path), path).some((operand) => truthy(operand, path));
    case 'Fn::ImportValue':
      throw new IntrinsicError(path, 'cross-stack references (Fn::ImportValue) are not supported locally; run the stack that exports the value in the same app, or pass the value in directly');
    default:
      throw new IntrinsicError(path, `${name} is not supported by the local runtime`);
  }
}

function getAttArguments(argument: unknown, context: IntrinsicContext, path: string): [string, string] {
  if (typeof argument === 'string') {
    const dot = argument.indexOf('.');
    if (dot > 0) return [argument.slice(0, dot), argument.slice(dot + 1)];
  } else if (Array.isArray(argument) && argument.length === 2) {
    const [logicalId, attribute] = argument;
    const resolvedAttribute = resolveValue(attribute, context, path);
    if (typeof logicalId === 'string' && typeof resolvedAttribute === 'string') return [logicalId, resolvedAttribute];
  }
  throw new IntrinsicError(path, `expected [logicalId, attribute] or "logicalId.attribute", but ${describeValue(argument)} was provided`);
}

const SUB_VARIABLE = /\$\{([^}]*)\}/g;

function substitute(argument: unknown, context: IntrinsicContext, path: string): string {
  let template: unknown = argument;
  let variables: Record<string, unknown> = {};
  if (Array.isArray(argument)) {
    const [text, vars] = list(argument, path, 2);
    template = text;
    const resolvedVars = resolveValue(vars, context, join(path, 1));
    if (!isRecord(resolvedVars)) throw new IntrinsicError(path, `the variables must be an object, but ${describeValue(vars)} was provided`);
    variables = resolvedVars;
  }
  if (typeof template !== 'string') throw new IntrinsicError(path, `expected a string or [string, variables], but ${describeValue(argument)} was provided`);
  return template.replace(SUB_VARIABLE, (_match, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    if (name in variables) return scalar(variables[name], path);
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::')) return scalar(lookup(path, () => context.getAtt(name.slice(0, dot), name.slice(dot + 1))), path);
    return scalar(lookup(path, () => context.ref(name)), path);
  });
}

function list(value: unknown, path: string, length: number): unknown[] {
  if (!Array.isArray(value) || value.length < length) {
    throw new IntrinsicError(path, `expected a list of ${length} arguments, but ${describeValue(value)} was provided`);
  }
  return value;
}

function listOfAny(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new IntrinsicError(path, `expected a list, but ${describeValue(value)} was provided`);
  return value;
}

function truthy(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new IntrinsicError(path, `expected a condition, but ${describeValue(value)} was provided`);
}

function scalar(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new IntrinsicError(path, `expected a string, but ${describeValue(value)} was provided`);
}
