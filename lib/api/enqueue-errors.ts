/**
 * What the API answers when an enqueue did not put every job on its queue (`EnqueueError`): the
 * jobs refused as not unique are a conflict the caller must see (`409 not_unique`, with the jid
 * of the job holding each lock), never an outage to retry; jobs SQS or DynamoDB did not accept are
 * `502 upstream_error`, retryable. Either way the body lists what was enqueued, so a client resends
 * only what was not.
 */
import type { EnqueueError, EnqueueFailure } from '../enqueue/enqueue.js';
import { API_ERRORS, ApiError } from './http.js';

/** A failure as the API shows it. */
function failureView(failure: EnqueueFailure): Record<string, string> {
  return {
    jid: failure.jid,
    reason: failure.reason,
    ...(failure.existingJid === undefined ? {} : { existing_jid: failure.existingJid }),
    ...(failure.lockedUntil === undefined ? {} : { locked_until: failure.lockedUntil }),
  };
}

/**
 * The answer to `error`. With `single` (a request of one job), a conflict names its jid, the
 * holder's jid and the lock's expiry at the top level, as `NotUniqueError` carries them.
 *
 * @example
 * // one unique job whose lock is held:
 * // 409 { "error": { "code": "not_unique", "message": "job b is not unique: …", "jid": "b",
 * //                  "existing_jid": "a", "locked_until": "…", "enqueued": [], "failed": [ … ] } }
 */
export function enqueueErrorAnswer(error: EnqueueError, single: boolean): ApiError {
  const details = { enqueued: error.enqueued, failed: error.failed.map(failureView) };
  const conflicts = error.failed.filter((failure) => failure.existingJid !== undefined);
  if (conflicts.length === 0 || conflicts.length < error.failed.length) {
    return new ApiError(502, API_ERRORS.upstream, error.message, { details });
  }
  const [first] = conflicts;
  if (!single || first === undefined) return new ApiError(409, API_ERRORS.notUnique, error.message, { details });
  return new ApiError(409, API_ERRORS.notUnique, first.reason, {
    details: {
      jid: first.jid,
      existing_jid: first.existingJid,
      ...(first.lockedUntil === undefined ? {} : { locked_until: first.lockedUntil }),
      ...details,
    },
  });
}
