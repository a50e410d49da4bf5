/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme): object members sorted by key (UTF-16
 * code units), no whitespace, numbers and strings as ECMAScript's `JSON.stringify` writes them. Two
 * values that are equal as JSON get the same text, whatever the order their producer wrote keys in,
 * so a digest of the text identifies the value (unique-job locks are keyed this way).
 */
import { InvalidJobError } from '../errors/base.js';

/**
 * The canonical JSON text of `value`.
 *
 * @throws InvalidJobError naming `path` when a value has no JSON form (a function, a symbol, a
 *   bigint, a number that is not finite, `undefined` inside an array).
 * @example
 * canonicalJson({ b: [1, { d: 2, c: 'x' }], a: null }) // '{"a":null,"b":[1,{"c":"x","d":2}]}'
 */
export function canonicalJson(value: unknown, path = 'value'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidJobError(path, 'a finite number', String(value));
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new InvalidJobError(path, 'a JSON value', `a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown, index) => {
      if (item === undefined) throw new InvalidJobError(`${path}[${index}]`, 'a JSON value', 'undefined');
      return canonicalJson(item, `${path}[${index}]`);
    }).join(',')}]`;
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  // Members whose value is undefined are left out, as JSON.stringify does.
  const members = Object.entries(value)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member, `${path}.${key}`)}`);
  return `{${members.join(',')}}`;
}
