/**
 * SQS's 12-hour limit on a message's visibility: a ChangeMessageVisibility that would keep the
 * message hidden past 12 hours from when it was first received is refused. fauxqs checks only the
 * request's own range (0 to 43,200); the local endpoint checks the total, as SQS does. Pure.
 */
import { JOB_LIMITS } from '../../lib/job/model.js';

/** SQS's longest total visibility of a message, seconds. */
export const MAX_TOTAL_VISIBILITY_SECONDS = JOB_LIMITS.maxReserveForSeconds;

/** The error code SQS answers a visibility past the limit with. */
export const VISIBILITY_LIMIT_ERROR = 'InvalidParameterValue';

/**
 * SQS's message for a visibility of `seconds` asked at `nowMs` for a message first received at
 * `firstReceivedAtMs`, when it would end past 12 hours from then; undefined when it is allowed.
 *
 * @example
 * visibilityRefusal(t0, t0 + 3_600_000, 40_000)
 * // 'Value 40000 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]'
 */
export function visibilityRefusal(firstReceivedAtMs: number, nowMs: number, seconds: number): string | undefined {
  if (nowMs + seconds * 1000 <= firstReceivedAtMs + MAX_TOTAL_VISIBILITY_SECONDS * 1000) return undefined;
  return `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_TOTAL_VISIBILITY_SECONDS} seconds]`;
}
