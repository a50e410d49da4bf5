/** Errors of crons: their expressions, their definitions, and the cron function's ticks. */
import { HopperError } from './base.js';

/** A cron expression that cannot be parsed; `message` names the field and what was expected. */
export class CronExpressionError extends HopperError {
  static override readonly errorName: string = 'CronExpressionError';
}

/** A cron definition that does not validate; `field` is its path inside the definition. */
export class CronDefinitionError extends HopperError {
  static override readonly errorName: string = 'CronDefinitionError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** The event is not a cron tick (a schedule with a hand-edited input, a manual invocation). */
export class InvalidCronEventError extends HopperError {
  static override readonly errorName: string = 'InvalidCronEventError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`invalid cron event: ${message}`);
    this.field = field;
  }
}

/**
 * Another invocation is enqueuing this tick right now. Thrown so that Lambda retries this one
 * later, when the tick is either enqueued (nothing to do) or its claim has lapsed (enqueue it).
 */
export class CronTickBusyError extends HopperError {
  static override readonly errorName: string = 'CronTickBusyError';
  readonly cron: string;
  readonly scheduledTime: string;

  constructor(cron: string, scheduledTime: string) {
    super(`tick ${scheduledTime} of cron ${JSON.stringify(cron)} is being enqueued by another invocation; retry later`);
    this.cron = cron;
    this.scheduledTime = scheduledTime;
  }
}
