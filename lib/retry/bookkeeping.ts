/**
 * What the retry function records for jobs in batches and jobs holding unique locks:
 * - before a first failure is moved (retried): the job is marked failed in its batch, so the
 *   batch can complete ("every job has run once") while the retry waits;
 * - after a job is put in the dead set: it is marked dead in its batch (the death callback), and
 *   its unique lock is released.
 * Marks are conditional on the job's previous status (lib/batch/store.ts), so a redelivered
 * envelope changes nothing twice. Only jobs that use these features reach the state table.
 */
import type { JobReport } from '../batch/store.js';
import type { Job } from '../job/model.js';
import type { RetryAction } from './plan.js';
import type { StateAccess } from '../storage/access.js';
import { uniqueSpecOf } from '../unique/lock.js';
import type { Logger } from '../observability/logger.js';

/** A planned move and the key of the record it answers for. */
export interface PlannedMove {
  readonly key: string;
  readonly action: RetryAction;
}

/** The job an action moves, when it moves a job (not the raw body of a bad message). */
export function jobOf(action: RetryAction): Job | undefined {
  if (action.kind === 'enqueue') return action.job;
  return 'job' in action.entry ? action.entry.job : undefined;
}

/**
 * Before moving: marks first failures in their batches.
 * @returns the keys whose mark failed (not to be moved now: handed back, tried again).
 */
export async function markFirstFailures(state: StateAccess, moves: readonly PlannedMove[], logger: Logger): Promise<Set<string>> {
  const reports = moves.flatMap((move) => {
    const job = jobOf(move.action);
    return move.action.kind !== 'dead' && job?.failure?.retry_count === 0 ? [{ move, job, report: { jid: job.jid, to: 'failed' } as const }] : [];
  });
  return recordInBatches(state, reports, logger);
}

/**
 * After moving to the dead set: marks the jobs dead in their batches and releases their unique
 * locks (a lock that cannot be released expires by its TTL).
 * @returns the keys whose batch mark failed (handed back; the dead-set put is idempotent).
 */
export async function markDead(state: StateAccess, moves: readonly PlannedMove[], logger: Logger): Promise<Set<string>> {
  const dead = moves.flatMap((move) => {
    const job = move.action.kind === 'dead' ? jobOf(move.action) : undefined;
    return job === undefined ? [] : [{ move, job }];
  });
  const reports = dead.map(({ move, job }) => ({
    move,
    job,
    report: { jid: job.jid, to: 'dead' } as const,
  }));
  const [failed] = await Promise.all([
    recordInBatches(state, reports, logger),
    Promise.all(dead.filter(({ job }) => uniqueSpecOf(job) !== undefined).map(async ({ job }) => {
      try {
        await (await state.uniqueLocks()).release(job);
      } catch (error) {
        logger.warn('unique lock of a dead job not released; it expires by TTL', { jid: job.jid, error });
      }
    })),
  ]);
  return failed;
}

async function recordInBatches(
  state: StateAccess,
  reports: readonly { move: PlannedMove; job: Job; report: JobReport }[],
  logger: Logger,
): Promise<Set<string>> {
  const byBatch = new Map<string, { move: PlannedMove; report: JobReport }[]>();
  for (const { move, job, report } of reports) {
    const bid = job.custom?.bid;
    if (bid !== undefined) byBatch.set(bid, [...(byBatch.get(bid) ?? []), { move, report }]);
  }
  const failed = new Set<string>();
  await Promise.all([...byBatch].map(async ([bid, members]) => {
    try {
      await (await state.batchStore()).record(bid, members.map((member) => member.report));
    } catch (error) {
      logger.error('could not record failures in their batch; records handed back', { bid, error });
      for (const member of members) failed.add(member.move.key);
    }
  }));
  return failed;
}
