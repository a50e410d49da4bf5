/**
 * Where an entry of the scheduled or retry set goes when it is due: onto its queue with the SQS
 * delay that lands it at its due time, or into the dead set when it cannot go anywhere. Pure.
 */
import { jobQueueUrl } from '../aws/queues.js';
import type { QueueTiers } from '../config/queue-tiers.js';
import { serializeJob, type Job } from '../job/model.js';
import { MAX_SQS_DELAY_SECONDS } from '../retry/policy.js';
import type { NewSetEntry, SetEntry } from '../storage/set-items.js';

/** The errtypes the scheduler gives to entries it sends to the dead set. */
export const SCHEDULER_ERRTYPES = {
  /** The job names a queue this JobSystem does not declare (the same errtype the retry function uses). */
  unknownQueue: 'UnknownQueue',
  /** The stored entry is not a valid job (written by hand, or by an incompatible version). */
  invalidEntry: 'InvalidJobError',
} as const;

/** What to do with one due entry. */
export type MovePlan =
  | { readonly kind: 'enqueue'; readonly job: Job; readonly body: string; readonly queueUrl: string; readonly delaySeconds: number }
  | { readonly kind: 'dead'; readonly entry: NewSetEntry };

/** What {@link planMove} needs besides the entry. */
export interface MoveContext {
  /** The mover's clock, in epoch ms: the delay is what remains from now to the due time. */
  readonly nowMs: number;
  /** Queue name → URL (`HOPPER_QUEUE_URLS`). */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The queues' priority tiers (`HOPPER_QUEUE_TIERS`): a job goes back to its tier's queue. @default - no queue has tiers */
  readonly queueTiers?: QueueTiers;
  /** Days a dead entry is kept (`HOPPER_DEAD_TTL_DAYS`). */
  readonly deadTtlDays: number;
  /** Send with no delay whatever the due time ("run now"). @default false */
  readonly immediately?: boolean;
}

/**
 * The SQS delay that makes a message visible at `dueMs`: the remaining time rounded up to whole
 * seconds (never early), 0 when overdue, at most SQS's 900 seconds.
 */
export function delaySecondsUntil(dueMs: number, nowMs: number): number {
  return Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, Math.ceil((dueMs - nowMs) / 1000)));
}

/**
 * Decides where a due entry goes. The job gets `enqueued_at` = now: it enters its queue now. The
 * due time is the entry's place in the set (its sort key), which is what the set is ordered by.
 */
export function planMove(entry: SetEntry, context: MoveContext): MovePlan {
  const failedAt = context.nowMs;
  const ttl = Math.floor(failedAt / 1000) + context.deadTtlDays * 86_400;
  const job = entry.job;
  if (job === undefined) {
    return {
      kind: 'dead',
      entry: {
        raw: entry.raw ?? '',
        jid: entry.jid,
        ...(entry.queue === undefined ? {} : { queue: entry.queue }),
        epochMs: failedAt,
        reason: { errtype: SCHEDULER_ERRTYPES.invalidEntry, message: `the ${entry.set} set entry ${entry.key.sk} does not hold a valid job` },
        ttl,
      },
    };
  }
  const queueUrl = jobQueueUrl(job, context.queueUrls, context.queueTiers, { lenient: true });
  if (queueUrl === undefined) {
    const declared = Object.keys(context.queueUrls).join(', ');
    const message = `queue ${JSON.stringify(job.queue)} is not declared in this JobSystem (declared: ${declared || 'none'})`;
    return { kind: 'dead', entry: { job, epochMs: failedAt, reason: { errtype: SCHEDULER_ERRTYPES.unknownQueue, message }, ttl } };
  }
  const enqueued: Job = { ...job, enqueued_at: new Date(context.nowMs).toISOString() };
  const delaySeconds = context.immediately === true ? 0 : delaySecondsUntil(entry.epochMs, context.nowMs);
  return { kind: 'enqueue', job: enqueued, body: serializeJob(enqueued), queueUrl, delaySeconds };
}
