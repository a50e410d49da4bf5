/**
 * Lambda event filtering (`FilterCriteria`): EventBridge-style patterns matched against each
 * record. For SQS, a JSON body is matched as parsed JSON (Lambda does the same). Supported
 * operators: exact values, `prefix`, `suffix`, `anything-but`, `numeric`, `exists`,
 * `equals-ignore-case`.
 */
import { isRecord } from '../../lib/job/model.js';

/** Whether `record` matches any of the patterns (true when there are none). */
export function matchesAnyFilter(patterns: readonly unknown[], record: unknown): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesPattern(pattern, record));
}

/** Whether `value` matches one EventBridge pattern. */
export function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (!isRecord(pattern)) return false;
  for (const [key, expected] of Object.entries(pattern)) {
    const actual = isRecord(value) ? value[key] : undefined;
    if (Array.isArray(expected)) {
      if (!expected.some((matcher) => matchesValue(matcher, actual))) return false;
    } else if (isRecord(expected)) {
      if (!matchesPattern(expected, actual)) return false;
    } else return false;
  }
  return true;
}

function matchesValue(matcher: unknown, actual: unknown): boolean {
  if (isRecord(matcher) && 'exists' in matcher) return (actual !== undefined) === (matcher.exists === true);
  // A list value matches when any of its elements does.
  if (Array.isArray(actual)) return actual.some((item) => matchesValue(matcher, item));
  if (actual === undefined) return false;
  if (!isRecord(matcher)) return matcher === actual;
  if (typeof matcher.prefix === 'string') return typeof actual === 'string' && actual.startsWith(matcher.prefix);
  if (typeof matcher.suffix === 'string') return typeof actual === 'string' && actual.endsWith(matcher.suffix);
  if (typeof matcher['equals-ignore-case'] === 'string') return typeof actual === 'string' && actual.toLowerCase() === matcher['equals-ignore-case'].toLowerCase();
  if ('anything-but' in matcher) {
    const excluded = matcher['anything-but'];
    if (Array.isArray(excluded)) return !excluded.includes(actual);
    if (isRecord(excluded)) return !matchesValue(excluded, actual);
    return actual !== excluded;
  }
  if (Array.isArray(matcher.numeric)) return typeof actual === 'number' && numericMatches(matcher.numeric, actual);
  return false;
}

function numericMatches(conditions: readonly unknown[], actual: number): boolean {
  for (let index = 0; index + 1 < conditions.length; index += 2) {
    const operator = conditions[index];
    const bound = conditions[index + 1];
    if (typeof bound !== 'number') return false;
    const ok =
      operator === '=' ? actual === bound : operator === '<' ? actual < bound : operator === '<=' ? actual <= bound : operator === '>' ? actual > bound : operator === '>=' ? actual >= bound : false;
    if (!ok) return false;
  }
  return true;
}
