/**
 * Prop validation shared by Hopper's constructs. Every check skips unresolved tokens (their value
 * is only known at deploy time) and says what was expected and what was given. Failures are
 * `ConfigurationError`s (lib/errors/base.ts).
 */
import { type Duration, Token } from 'aws-cdk-lib';
import { ConfigurationError } from '../lib/errors/base.js';
import { JOB_LIMITS } from '../lib/job/model.js';

/** Throws unless `value` is an integer in `[min, max]` (or an unresolved token). */
export function validateIntegerRange(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`${name} must be between ${min} and ${max}, but ${value} was provided`);
  }
}

/** Throws unless `value` lasts from `min` to `max` (or is an unresolved token). */
export function validateDurationRange(name: string, value: Duration | undefined, min: Duration, max: Duration): void {
  if (value === undefined || value.isUnresolved()) return;
  const seconds = value.toSeconds({ integral: false });
  if (seconds < min.toSeconds() || seconds > max.toSeconds()) {
    throw new ConfigurationError(`${name} must be between ${min.toHumanString()} and ${max.toHumanString()}, but ${value.toHumanString()} was provided`);
  }
}

/** Throws unless `name` is a valid queue name (the same rule the job model applies). */
export function validateQueueName(name: string): void {
  if (!JOB_LIMITS.queueNamePattern.test(name)) {
    throw new ConfigurationError(`queue name ${JSON.stringify(name)} is invalid: a queue name is 1 to 64 letters, digits, '-' or '_'`);
  }
}

/** Whole seconds of a resolved duration, or `undefined` when it is a token. */
export function resolvedSeconds(value: Duration): number | undefined {
  return value.isUnresolved() ? undefined : Math.ceil(value.toSeconds({ integral: false }));
}
