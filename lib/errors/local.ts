/** Errors of the local runtime (`startLocal`, `hopper dev`): the app, its template, its schedules. */
import { HopperError } from './base.js';

/** The synthesizer failed; `output` holds the tail of what the CLI printed. */
export class SynthError extends HopperError {
  static override readonly errorName: string = 'SynthError';
  readonly output: string;

  constructor(message: string, output: string) {
    super(`${message}\n${output}`);
    this.output = output;
  }
}

/**
 * A template resource the local runtime cannot use as written. The message starts with the
 * resource's logical id and type, then says what is wrong and what was given.
 */
export class TemplateError extends HopperError {
  static override readonly errorName: string = 'TemplateError';
  readonly logicalId: string;
  readonly resourceType: string;

  constructor(logicalId: string, resourceType: string, problem: string, options?: { cause?: unknown }) {
    super(`template resource ${logicalId} (${resourceType}): ${problem}`, options);
    this.logicalId = logicalId;
    this.resourceType = resourceType;
  }
}

/**
 * An intrinsic that cannot be resolved. `path` locates it inside the value being resolved
 * (`Environment.Variables.QUEUE_URL`).
 */
export class IntrinsicError extends HopperError {
  static override readonly errorName: string = 'IntrinsicError';
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`${path === '' ? '' : `${path}: `}${problem}`);
    this.path = path;
  }
}

/** A schedule expression (`cron(…)`, `rate(…)`, `at(…)`) of a template's schedule that cannot be parsed. */
export class ScheduleExpressionError extends HopperError {
  static override readonly errorName: string = 'ScheduleExpressionError';
}

/** A query-protocol SQS request that the local endpoint cannot translate to the JSON protocol. */
export class QueryTranslationError extends HopperError {
  static override readonly errorName: string = 'QueryTranslationError';
}
