/**
 * Library access to the scheduled and retry sets, for the admin API, the CLI and the dashboard:
 * list (paged, filtered by jobtype and queue), run now, delete. Run now and delete claim the entry
 * first, as the scheduler does, so neither can race a sweep into running a job twice or running a
 * deleted one.
 */
import type { QueueTiers } from '../config/queue-tiers.js';
import { randomUUID } from 'node:crypto';
import { sqsClientOf } from '../aws/clients.js';
import type { HopperConfig } from '../config/hopper-config.js';
import { InvalidEntryIdError } from '../errors/admin.js';
import { HopperError } from '../errors/base.js';
import type { Job } from '../job/model.js';
import { entryKeyCandidates, parseTimeSortKey, type ItemKey } from '../storage/keys.js';
import { RETRY_DEFAULTS } from '../retry/handler.js';
import { moveEntries, type MoverTable } from '../scheduler/move.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import type { SetEntry } from '../storage/set-items.js';
import type { StateTable } from '../storage/state-table.js';
import { createLogger, type Logger } from '../observability/logger.js';
import type { AnyMiddleware } from '../middleware/chain.js';

/** The sets whose jobs are waiting for a time: Sidekiq's "Scheduled" and "Retries" pages. */
export type WaitingSetName = 'scheduled' | 'retry';

/**
 * The sets a job can be run from now: the waiting sets, and the dead set (a dead job keeps its
 * failure and gets one more run). Every one is claimed first, so two callers never both send it.
 */
export type RunnableSetName = WaitingSetName | 'dead';

/** Limits of {@link ScheduledJobs.list}. */
export const SCHEDULED_LIST_LIMITS = {
  defaultLimit: 50,
  maxLimit: 1000,
  /** Entries read per call at most when a filter matches few: the page then ends early with a cursor. */
  maxScanned: 5000,
} as const;

/** How long an admin call's claim lasts if the call dies half-way. */
const ADMIN_CLAIM_MS = 60_000;

export { InvalidEntryIdError } from '../errors/admin.js';

/** A waiting job as a list shows it. */
export interface WaitingJob {
  /** Stable id for run now and delete: the entry's sort key, `<due ms>#<jid>`. */
  readonly id: string;
  readonly set: WaitingSetName;
  readonly jid: string;
  /** When it is due, ISO-8601. */
  readonly at: string;
  readonly jobtype?: string;
  readonly queue?: string;
  /** The job; absent for an entry that holds no valid job (it has `raw` instead). */
  readonly job?: Job;
  readonly raw?: string;
  /** True while a mover (a sweep) holds it: it is on its way to its queue. */
  readonly moving: boolean;
}

/** Options of {@link ScheduledJobs.list}. */
export interface ListWaitingOptions {
  /** @default 'scheduled' */
  readonly set?: WaitingSetName;
  /** Jobs per page, 1 to 1000. @default 50 */
  readonly limit?: number;
  /** The `cursor` of the previous page. @default - from the earliest */
  readonly cursor?: string;
  /** Only jobs of this jobtype. @default - every jobtype */
  readonly jobtype?: string;
  /** Only jobs for this queue. @default - every queue */
  readonly queue?: string;
}

/** One page of a list. */
export interface WaitingPage {
  readonly jobs: readonly WaitingJob[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly cursor?: string;
}

/** What run now and delete found. */
export type WaitingJobAction = 'done' | 'moving' | 'gone';

/** What {@link ScheduledJobs} needs. */
export interface ScheduledJobsDeps {
  readonly table: MoverTable & Pick<StateTable, 'streamSetRange'>;
  readonly sqs: SqsBatchSender;
  /** Queue name → URL. */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The queues' priority tiers: a job run now goes to its tier's queue. @default - no queue has tiers */
  readonly queueTiers?: QueueTiers;
  /** @default 180 */
  readonly deadTtlDays?: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** @default - JSON lines on console.log */
  readonly logger?: Logger;
  /** The team's middleware: its client chain runs on each job run now, `onDead` after a burial. */
  readonly middleware?: AnyMiddleware;
}

/**
 * The scheduled and retry sets, for people.
 *
 * @example
 * const waiting = await scheduledJobsOf();
 * const { jobs } = await waiting.list({ jobtype: 'SendEmail', limit: 20 });
 * await waiting.runNow('scheduled', jobs[0].id);
 */
export class ScheduledJobs {
  private readonly clock: () => Date;
  private readonly logger: Logger;

  constructor(private readonly deps: ScheduledJobsDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.logger = deps.logger ?? createLogger({ now: this.clock });
  }

  /** Lists waiting jobs, earliest due first. */
  async list(options: ListWaitingOptions = {}): Promise<WaitingPage> {
    const set = options.set ?? 'scheduled';
    const limit = options.limit ?? SCHEDULED_LIST_LIMITS.defaultLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > SCHEDULED_LIST_LIMITS.maxLimit) {
      throw new RangeError(`limit must be an integer from 1 to ${SCHEDULED_LIST_LIMITS.maxLimit}, but ${limit} was provided`);
    }
    if (options.cursor !== undefined) this.keysOf(set, options.cursor);
    const nowMs = this.clock().getTime();
    const jobs: WaitingJob[] = [];
    let scanned = 0;
    let last: string | undefined;
    const filtered = options.jobtype !== undefined || options.queue !== undefined;
    const stream = this.deps.table.streamSetRange([set], {
      ...(options.cursor === undefined ? {} : { after: options.cursor }),
      // Unfiltered, a page needs `limit` entries; filtered, read in larger pages.
      pageSize: Math.min(SCHEDULED_LIST_LIMITS.maxLimit, filtered ? Math.max(limit, 100) : limit + 1),
    });
    for await (const entry of stream) {
      if (jobs.length === limit || scanned === SCHEDULED_LIST_LIMITS.maxScanned) return { jobs, ...(last === undefined ? {} : { cursor: last }) };
      scanned += 1;
      last = entry.key.sk;
      if (options.jobtype !== undefined && entry.jobtype !== options.jobtype) continue;
      if (options.queue !== undefined && entry.queue !== options.queue) continue;
      jobs.push(toWaitingJob(set, entry, nowMs));
    }
    return { jobs };
  }

  /**
   * Sends the job to its queue now (no delay) and removes it from its set: claim, send, delete on
   * the claim. Two callers (a sweep, two operators retrying the dead set after an outage) never
   * both send it; a caller that dies after its claim leaves the entry for the next one once the
   * claim lapses (a minute).
   *
   * @returns `done`; `moving` when another mover is sending it right now; `gone` when it is no longer there.
   * @throws InvalidEntryIdError for a malformed id; the send's error when SQS refused it, MiddlewareError
   *   when the team's client middleware did (the job stays).
   */
  async runNow(set: RunnableSetName, id: string): Promise<WaitingJobAction> {
    // The entry's shard, then its shard under the set's former count (lib/storage/keys.ts).
    for (const entry of this.stubs(set, id)) {
      const [outcome] = await moveEntries([entry], this.moverDeps(), {
        owner: `admin:${randomUUID()}`, claimUntilMs: this.clock().getTime() + ADMIN_CLAIM_MS, immediately: true, via: set === 'dead' ? 'dead-retry' : 'run-now',
      });
      if (outcome === undefined || outcome.kind === 'gone') continue;
      if (outcome.kind === 'busy') return 'moving';
      // The team's middleware refused it: its own error, which the API answers 422.
      if (outcome.kind === 'failed') throw outcome.refusal ?? new HopperError(`could not run ${entry.jid} now: ${outcome.reason}`);
      return 'done';
    }
    return 'gone';
  }

  /**
   * Deletes the job from its set without running it.
   *
   * @returns `done`; `moving` when a sweep is sending it right now (too late to delete); `gone`.
   */
  async delete(set: WaitingSetName, id: string): Promise<WaitingJobAction> {
    const owner = `admin:${randomUUID()}`;
    for (const key of this.keysOf(set, id)) {
      const nowMs = this.clock().getTime();
      // Claim first: a delete must not remove an entry a sweep has already sent (and is about to delete itself).
      const claim = await this.deps.table.claimSetEntry(set, key, { owner, nowMs, untilMs: nowMs + ADMIN_CLAIM_MS });
      if (claim.status === 'busy') return 'moving';
      if (claim.status !== 'claimed') continue;
      const deleted = await this.deps.table.deleteSetEntry(set, key, { kind: 'claimed-by', owner });
      if (deleted !== undefined) this.logger.info('waiting job deleted', { set, jid: deleted.jid, jobtype: deleted.jobtype, queue: deleted.queue });
      return deleted === undefined ? 'gone' : 'done';
    }
    return 'gone';
  }

  private moverDeps() {
    return {
      table: this.deps.table,
      sqs: this.deps.sqs,
      queueUrls: this.deps.queueUrls,
      ...(this.deps.queueTiers === undefined ? {} : { queueTiers: this.deps.queueTiers }),
      deadTtlDays: this.deps.deadTtlDays ?? RETRY_DEFAULTS.deadTtlDays,
      clock: this.clock,
      logger: this.logger,
      concurrency: 1,
      ...(this.deps.middleware === undefined ? {} : { middleware: this.deps.middleware }),
    };
  }

  /** The entry `id` names under each key it may have, as far as its key tells (the claim reads the rest). */
  private stubs(set: RunnableSetName, id: string): SetEntry[] {
    const parsed = parseTimeSortKey(id);
    return this.keysOf(set, id).map((key) => ({ set, key, epochMs: parsed?.epochMs ?? 0, jid: parsed?.jid ?? id }));
  }

  /** The keys the entry `id` may have: its shard, then its shard under the set's former count. */
  private keysOf(set: RunnableSetName, id: string): ItemKey[] {
    const keys = entryKeyCandidates(set, id);
    if (keys === undefined) throw new InvalidEntryIdError(id);
    return keys;
  }
}

function toWaitingJob(set: WaitingSetName, entry: SetEntry, nowMs: number): WaitingJob {
  return {
    id: entry.key.sk,
    set,
    jid: entry.jid,
    at: new Date(entry.epochMs).toISOString(),
    ...(entry.jobtype === undefined ? {} : { jobtype: entry.jobtype }),
    ...(entry.queue === undefined ? {} : { queue: entry.queue }),
    ...(entry.job === undefined ? {} : { job: entry.job }),
    ...(entry.raw === undefined ? {} : { raw: entry.raw }),
    moving: entry.claimedUntilMs !== undefined && entry.claimedUntilMs >= nowMs,
  };
}

/**
 * {@link ScheduledJobs} for the JobSystem `config` describes (`HOPPER_STATE_TABLE`,
 * `HOPPER_QUEUE_URLS`, `HOPPER_DEAD_TTL_DAYS`); loads the DynamoDB SDK.
 */
export async function scheduledJobsOf(config: HopperConfig): Promise<ScheduledJobs> {
  const { stateTableOf } = await import('../storage/state-table.js');
  return new ScheduledJobs({
    table: await stateTableOf(config),
    sqs: sqsClientOf(config),
    queueUrls: config.queueUrls(),
    queueTiers: config.queueTiers,
    deadTtlDays: config.deadTtlDays,
    clock: config.clock,
  });
}
