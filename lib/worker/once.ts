/**
 * `ctx.once(key, fn)`: runs `fn` at most once per job and key, across duplicate deliveries, retries
 * and retries from the dead set, so that a job that charged a card and then failed does not charge
 * it again when it runs again. The step's completion and its value are kept in the state table
 * (lib/storage/once-steps.ts); a later run gets the value back without running `fn`.
 *
 * - A run takes the step until its invocation's deadline: nothing of it can run after that, so a
 *   run that crashed or timed out holds the step no longer than it could have been running.
 * - `fn` throws: the step is given back and the error is the job's (a retry runs the step again).
 * - Another delivery of the job holds the step: `OnceStepBusyError`, and the job goes back on its
 *   queue until that run's deadline without using a retry.
 * - `fn` returned but its value cannot be kept (not JSON, over {@link ONCE_LIMITS.maxResultBytes}),
 *   or the completion cannot be written: `OnceStepError`, and the job goes to the dead set, since a
 *   retry would run the step again.
 *
 * The value comes back through JSON on the first run as on a replay, so the code after the step
 * behaves the same either way: a step returns plain data.
 */
import { randomUUID } from 'node:crypto';
import { withAttempts } from '../common/attempts.js';
import { keptJson } from '../common/kept-json.js';
import { OnceStepBusyError, OnceStepError } from '../errors/worker.js';
import type { Logger } from '../observability/logger.js';
import type { OnceStepStore, StepOutcome } from '../storage/once-steps.js';

/** Limits of `ctx.once`. */
export const ONCE_LIMITS = {
  /** Most characters of a step key. */
  maxKeyLength: 200,
  /** Most bytes of a step's value as JSON (a step item stays one write unit per KB). */
  maxResultBytes: 32 * 1024,
  /** How long a run takes a step when its invocation has no deadline (tests, scripts): Lambda's longest. */
  withoutDeadlineMs: 15 * 60_000,
  /** Tries of the completion write. */
  completeAttempts: 3,
} as const;

/** Runs `fn` once per job and `key`; see the module comment. */
export type Once = <T>(key: string, fn: () => T | Promise<T>) => Promise<T>;

/** What `ctx.once` needs for one job. */
export interface OnceScope {
  readonly jid: string;
  /** The state table's steps, loaded on first use. */
  readonly store: () => Promise<OnceStepStore>;
  readonly remainingTimeMs: () => number;
  readonly now: () => number;
  readonly logger: Logger;
  /** @default randomUUID */
  readonly owner?: () => string;
  /** Waits between tries of the completion write. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** `ctx.once` for one run of one job. */
export function onceFor(scope: OnceScope): Once {
  return async <T>(key: string, fn: () => T | Promise<T>): Promise<T> => {
    validateKey(key);
    const store = await scope.store();
    const owner = (scope.owner ?? randomUUID)();
    const nowMs = scope.now();
    const remaining = scope.remainingTimeMs();
    const untilMs = nowMs + (Number.isFinite(remaining) ? Math.max(0, remaining) : ONCE_LIMITS.withoutDeadlineMs);
    const claim = await store.begin(scope.jid, key, { owner, untilMs });
    if (!claim.taken) {
      const { record } = claim;
      if (record.state === 'running') throw new OnceStepBusyError(key, Math.max(1, Math.ceil((record.untilMs - nowMs) / 1000)));
      if (record.unkept !== undefined) throw new OnceStepError(key, `it ran, but ${record.unkept}`);
      scope.logger.info('step already done; its recorded value is used', { step: key });
      return valueOf<T>(record.result);
    }

    let value: T;
    try {
      value = await fn();
    } catch (error) {
      try {
        await store.release(scope.jid, key, owner);
      } catch (releaseError) {
        // Still taken until this invocation's deadline; a retry comes later than that.
        scope.logger.warn('step not given back after its failure; it is free again at this invocation\'s deadline', { step: key, error: releaseError });
      }
      throw error;
    }

    const outcome = outcomeOf(value);
    try {
      await withAttempts(() => store.complete(scope.jid, key, owner, outcome), {
        attempts: ONCE_LIMITS.completeAttempts, firstDelayMs: 100, ...(scope.sleep === undefined ? {} : { sleep: scope.sleep }),
      });
    } catch (error) {
      throw new OnceStepError(key, 'it ran, but its completion could not be recorded, so the job is not run again on its own', { cause: error });
    }
    if (outcome.unkept !== undefined) throw new OnceStepError(key, `it ran, but ${outcome.unkept}`);
    return valueOf<T>(outcome.result);
  };
}

/** @throws OnceStepError when `key` is empty or too long */
function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > ONCE_LIMITS.maxKeyLength) {
    const shown = typeof key === 'string' ? key.slice(0, 40) : String(key);
    throw new OnceStepError(shown, `the key must be a string of 1 to ${ONCE_LIMITS.maxKeyLength} characters, but ${typeof key === 'string' ? `${key.length} characters were` : `${typeof key} was`} provided`);
  }
}

/** What is kept of a step's value: its JSON, or why it cannot be kept. */
function outcomeOf(value: unknown): StepOutcome {
  const kept = keptJson(value, ONCE_LIMITS.maxResultBytes, 'its value');
  return kept.unkept === undefined ? { result: kept.json } : { unkept: kept.unkept };
}

function valueOf<T>(json: string | undefined): T {
  return (json === undefined ? undefined : JSON.parse(json)) as T;
}
