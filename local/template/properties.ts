/**
 * Typed, validating access to a resource's resolved properties. Every failure is a TemplateError
 * that names the resource, the property path, what was expected and what was given.
 */
import { isRecord } from '../../lib/job/model.js';
import { TemplateError, describeValue } from './model.js';

/** Bounds for {@link Properties.integer}. */
export interface IntegerBounds {
  readonly min?: number;
  readonly max?: number;
}

/** A resolved properties object (or a nested object inside one) of one resource. */
export class Properties {
  readonly logicalId: string;
  readonly resourceType: string;
  private readonly values: Readonly<Record<string, unknown>>;
  private readonly path: string;

  constructor(logicalId: string, resourceType: string, values: Readonly<Record<string, unknown>>, path = 'Properties') {
    this.logicalId = logicalId;
    this.resourceType = resourceType;
    this.values = values;
    this.path = path;
  }

  /** Throws a TemplateError about this resource. */
  fail(problem: string): never {
    throw new TemplateError(this.logicalId, this.resourceType, problem);
  }

  /** Whether the property is present. */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** The raw value of a property. */
  raw(name: string): unknown {
    return this.values[name];
  }

  /** Path of a property for messages (`Properties.RedrivePolicy.maxReceiveCount`). */
  pathOf(name: string): string {
    return `${this.path}.${name}`;
  }

  /** A required string. */
  string(name: string): string {
    const value = this.optionalString(name);
    if (value === undefined) this.fail(`${this.pathOf(name)} is required`);
    return value;
  }

  /** An optional string (numbers are accepted as CloudFormation does). */
  optionalString(name: string): string | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    return this.fail(`${this.pathOf(name)} must be a string, but ${describeValue(value)} was provided`);
  }

  /** An optional string that must be one of `allowed`. */
  optionalEnum<const T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.optionalString(name);
    if (value === undefined) return undefined;
    const match = allowed.find((candidate) => candidate === value);
    if (match === undefined) this.fail(`${this.pathOf(name)} must be one of ${allowed.join(', ')}, but ${describeValue(value)} was provided`);
    return match;
  }

  /** An optional integer (numeric strings are accepted as CloudFormation does). */
  integer(name: string, bounds: IntegerBounds = {}): number | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number)) {
      return this.fail(`${this.pathOf(name)} must be an integer, but ${describeValue(value)} was provided`);
    }
    const { min, max } = bounds;
    if ((min !== undefined && number < min) || (max !== undefined && number > max)) {
      const range = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max ?? ''}`;
      this.fail(`${this.pathOf(name)} must be ${range}, but ${number} was provided`);
    }
    return number;
  }

  /** An optional boolean (`"true"`/`"false"` accepted). */
  boolean(name: string): boolean | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    return this.fail(`${this.pathOf(name)} must be a boolean, but ${describeValue(value)} was provided`);
  }

  /** An optional nested object. */
  object(name: string): Properties | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (!isRecord(value)) return this.fail(`${this.pathOf(name)} must be an object, but ${describeValue(value)} was provided`);
    return new Properties(this.logicalId, this.resourceType, value, this.pathOf(name));
  }

  /** An optional nested object that may also be written as a JSON string (RedrivePolicy, Filter patterns). */
  jsonObject(name: string): Properties | undefined {
    const value = this.values[name];
    if (typeof value !== 'string') return this.object(name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return this.fail(`${this.pathOf(name)} must be an object or a JSON object string, but ${describeValue(value)} is not JSON`);
    }
    if (!isRecord(parsed)) return this.fail(`${this.pathOf(name)} must be a JSON object, but ${describeValue(value)} was provided`);
    return new Properties(this.logicalId, this.resourceType, parsed, this.pathOf(name));
  }

  /** An optional list of objects. */
  objects(name: string): Properties[] {
    const value = this.values[name];
    if (value === undefined) return [];
    if (!Array.isArray(value)) return this.fail(`${this.pathOf(name)} must be a list, but ${describeValue(value)} was provided`);
    return value.map((item, index) => {
      if (!isRecord(item)) return this.fail(`${this.pathOf(name)}[${index}] must be an object, but ${describeValue(item)} was provided`);
      return new Properties(this.logicalId, this.resourceType, item, `${this.pathOf(name)}[${index}]`);
    });
  }

  /** An optional list of strings. */
  strings(name: string): string[] {
    const value = this.values[name];
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      return this.fail(`${this.pathOf(name)} must be a list of strings, but ${describeValue(value)} was provided`);
    }
    return value.filter((item): item is string => typeof item === 'string');
  }

  /** An optional object whose values are all strings (environment variables, tags). */
  stringMap(name: string): Record<string, string> {
    const value = this.values[name];
    if (value === undefined) return {};
    if (!isRecord(value)) return this.fail(`${this.pathOf(name)} must be an object, but ${describeValue(value)} was provided`);
    const result: Record<string, string> = {};
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string') result[key] = item;
      else if (typeof item === 'number' || typeof item === 'boolean') result[key] = String(item);
      else this.fail(`${this.pathOf(name)}.${key} must be a string, but ${describeValue(item)} was provided`);
    }
    return result;
  }
}
