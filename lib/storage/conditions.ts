/**
 * Conditional-write failures, recognised by name (errors cross bundles) with the item DynamoDB
 * returned when asked for `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`.
 */
import type { Item } from './set-items.js';

/** True for DynamoDB's ConditionalCheckFailedException. */
export function isConditionFailure(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** The item a failed condition check returned, when it returned one. */
export function conditionFailureItem(error: Error): Item | undefined {
  if (!('Item' in error)) return undefined;
  const item: unknown = error.Item;
  return isItem(item) ? item : undefined;
}

function isItem(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
