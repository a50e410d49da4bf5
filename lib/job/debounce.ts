/**
 * `custom.debounce: { key, period }`: of the jobs enqueued for one key, the last one within the
 * period runs, once, `period` seconds after it was enqueued (lib/debounce runs the rule). This
 * module is the field's shape and its validation, which lib/job/model.ts applies to every job.
 */
import { InvalidJobError } from '../errors/base.js';

/** Bounds of `custom.debounce` (kept here so docs, schema and code agree). */
export const DEBOUNCE_LIMITS = {
  /** A key names a state-table item (`debounce#<key>`): short, and without `#` or spaces. */
  keyMaxLength: 200,
  keyPattern: /^[A-Za-z0-9_.:@/+=-]+$/,
  /** Seven days, as Inngest allows; a longer wait is a scheduled job, not a debounce. */
  maxPeriodSeconds: 604_800,
} as const;

/** A job's debounce: its key and its quiet period in seconds. */
export interface DebounceSpec {
  readonly key: string;
  readonly period: number;
}

/**
 * Checks `value` as `custom.debounce` and returns it.
 *
 * @throws InvalidJobError naming `custom.debounce`, `custom.debounce.key` or `custom.debounce.period`.
 */
export function validateDebounce(value: unknown): DebounceSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidJobError('custom.debounce', 'an object { key, period }', value === null ? 'null' : Array.isArray(value) ? 'an array' : `${typeof value}`);
  }
  const key = 'key' in value ? value.key : undefined;
  const period = 'period' in value ? value.period : undefined;
  if (typeof key !== 'string' || key.length === 0 || key.length > DEBOUNCE_LIMITS.keyMaxLength || !DEBOUNCE_LIMITS.keyPattern.test(key)) {
    throw new InvalidJobError('custom.debounce.key', `a string of 1 to ${DEBOUNCE_LIMITS.keyMaxLength} letters, digits or _ - . : @ / + =`, describeKey(key));
  }
  if (typeof period !== 'number' || !Number.isFinite(period) || period <= 0 || period > DEBOUNCE_LIMITS.maxPeriodSeconds) {
    throw new InvalidJobError('custom.debounce.period', `a number of seconds greater than 0 and at most ${DEBOUNCE_LIMITS.maxPeriodSeconds}`, typeof period === 'number' ? `number ${period}` : typeof period);
  }
  return { key, period };
}

/** The debounce of `job` (`custom.debounce`, validated when the job was), or undefined. */
export function debounceOf(job: { readonly custom?: { readonly debounce?: unknown } }): DebounceSpec | undefined {
  const value = job.custom?.debounce;
  return value === undefined ? undefined : validateDebounce(value);
}

function describeKey(key: unknown): string {
  if (typeof key !== 'string') return key === undefined ? 'nothing' : typeof key;
  return key.length > 40 ? `a string of ${key.length} characters` : JSON.stringify(key);
}
