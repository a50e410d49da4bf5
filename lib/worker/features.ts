/**
 * What the worker does for jobs that use batches, unique locks or a debounce: `ctx.batch`,
 * releasing a unique lock when the job starts or succeeds, recording successes in their batches,
 * and running only the last debounced job of a key. A plain job never
 * reaches the state table; the modules behind these features (and the DynamoDB SDK) load when a
 * job first needs them.
 */
import type { QueueTiers } from '../config/queue-tiers.js';
import { callbackOf } from '../batch/callbacks.js';
import type { Batch } from '../batch/handle.js';
import type { StateCommands } from '../aws/dynamo.js';
import type { EnqueueRuntime } from '../enqueue/enqueue.js';
import type { AnyMiddleware } from '../middleware/chain.js';
import type { HopperConfig } from '../config/hopper-config.js';
import type { Job } from '../job/model.js';
import type { SqsBatchSender } from '../aws/sqs-batch.js';
import { stateAccess } from '../storage/access.js';
import { uniqueSpecOf } from '../unique/lock.js';
import type { DebounceVerdict } from '../debounce/plan.js';
import type { Logger } from '../observability/logger.js';
import type { BatchContext } from './types.js';
import { onceFor, type Once } from './once.js';
import { isTracked, JobTracker } from './track.js';
import type { IterationStore } from '../storage/iterations.js';

/** A job that succeeded, and the key of its record (handed back if its bookkeeping fails). */
export interface Success {
  readonly key: string;
  readonly job: Job;
}

/** The batch and unique-lock side of a worker. */
export interface WorkerFeatures {
  /** `ctx.batch` for `job`, or undefined when it is not in a batch. */
  batchContext(job: Job): BatchContext | undefined;
  /**
   * Whether the record may run its job: false for a batch callback job another SQS message already
   * runs (the batch function sent it twice), or that already ran to success. Any other job is
   * admitted without a request.
   *
   * @throws when the claim cannot be written: the record goes back to SQS and asks again.
   */
  admit(job: Job, messageId: string, logger: Logger): Promise<boolean>;
  /** `ctx.once` for one run of `job` (./once.ts); the state table is reached only when it is called. */
  once(job: Job, logger: Logger, remainingTimeMs: () => number): Once;
  /** Where iterating jobs (./iterate.ts) keep their cursors, loaded on first use. */
  iterations(): Promise<IterationStore>;
  /** The result job `jid` kept (`custom.result`), or undefined when none was kept; one consistent read. */
  keptResult(jid: string): Promise<unknown>;
  /** The tracking of `job`'s attempt (./track.ts), or undefined when the job did not ask for it. */
  tracker(job: Job, logger: Logger): JobTracker | undefined;
  /**
   * Whether a debounced job (`custom.debounce`) is the last of its key and runs, or was superseded
   * (lib/debounce/plan.ts). One strongly consistent read; a job without a debounce runs without one.
   *
   * @throws when the item cannot be read: the record goes back to SQS and asks again.
   */
  debounce(job: Job): Promise<DebounceVerdict>;
  /**
   * After a debounced job succeeded: deletes its key's item if it still names the job, so that a
   * copy delivered again finds none and does not run. Never throws (a copy may then run again).
   */
  settleDebounce(job: Job, logger: Logger): Promise<void>;
  /** Before the handler runs: releases a lock held `unique_until: 'start'`. Never throws. */
  beforeRun(job: Job, logger: Logger): Promise<void>;
  /**
   * Before the handler runs a job delivered more than once: writes its start mark
   * (lib/storage/start-marks.ts), so that a crash now is told from a throttled delivery. Never
   * throws (without the mark a crash is let off up to three times, then charged).
   */
  markStart(job: Job, logger: Logger): Promise<void>;
  /**
   * After the handlers ran: records successes in their batches (one transaction per batch),
   * releases locks held until success, and marks batch callback jobs done once their own batch
   * bookkeeping is written (a later copy of one is then not run).
   *
   * @returns the keys of records whose batch bookkeeping failed: they are handed back to SQS and
   *   run again, and the bookkeeping with them (it is idempotent).
   */
  afterSuccess(successes: readonly Success[], logger: Logger): Promise<Set<string>>;
}

/** What the features need from the worker's runtime. */
export interface FeatureDeps {
  readonly config: HopperConfig;
  readonly dynamo?: StateCommands;
  readonly sqs: SqsBatchSender;
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The queues' priority tiers (`HOPPER_QUEUE_TIERS`). @default - no queue has tiers */
  readonly queueTiers?: QueueTiers;
  readonly defaultRetry: number;
  readonly now: () => Date;
  /** The team's middleware: its client chain runs on jobs added with `ctx.batch`. */
  readonly middleware?: AnyMiddleware;
}

/** Creates the features of one worker (shared by its invocations). */
export function workerFeatures(deps: FeatureDeps): WorkerFeatures {
  const state = stateAccess(deps.config, deps.dynamo, deps.now);
  // One clock in milliseconds for every job's tracker and steps, not one made per job.
  const nowMs = (): number => deps.now().getTime();
  const runtime: EnqueueRuntime = {
    queueUrls: deps.queueUrls,
    ...(deps.queueTiers === undefined ? {} : { queueTiers: deps.queueTiers }),
    sqs: deps.sqs,
    now: deps.now,
    defaultRetry: deps.defaultRetry,
    scheduledSet: state.scheduledSet,
    listedQueues: deps.config.listedQueues,
    uniqueLocks: state.uniqueLocks,
    debounceItems: state.debounceItems,
    ...(deps.middleware === undefined ? {} : { middleware: { chain: deps.middleware, via: 'client' } }),
  };

  return {
    batchContext(job) {
      const bid = job.custom?.bid;
      if (bid === undefined) return undefined;
      let handle: Promise<Batch> | undefined;
      // Ids of added jobs and child batches derive from this job's jid: a job that runs again
      // (a retry, a duplicate delivery) adds the same jobs, which its batch counts once.
      const batch = (): Promise<Batch> => {
        handle ??= import('../batch/handle.js').then(({ Batch: Handle, derivedIds }) => new Handle(bid, { runtime, store: state.batchStore, nextId: derivedIds(job.jid) }));
        return handle;
      };
      return {
        bid,
        add: async (jobs) => (await batch()).add(jobs),
        child: async (options, fill) => (await batch()).child(options, fill),
        status: async () => (await batch()).status(),
      };
    },

    async keptResult(jid) {
      return (await (await state.jobStates()).get(jid))?.result;
    },

    tracker(job, logger) {
      return isTracked(job) ? new JobTracker(job, { store: state.jobStates, now: nowMs, logger }) : undefined;
    },

    iterations: state.iterations,

    once(job, logger, remainingTimeMs) {
      return onceFor({ jid: job.jid, store: state.onceSteps, remainingTimeMs, now: nowMs, logger });
    },

    async admit(job, messageId, logger) {
      const callback = callbackOf(job);
      if (callback === undefined) return true;
      // A retry (the job has failed before) is the same run continuing: it takes the run over,
      // unless the job is done.
      const verdict = await (await state.batchStore()).claimCallbackRun(callback.bid, callback.event, messageId, { retry: job.failure !== undefined });
      if (verdict === 'duplicate') logger.warn('batch callback job sent twice; this copy is not run', { bid: callback.bid, event: callback.event, message_id: messageId });
      if (verdict === 'done') logger.warn('batch callback job already ran; this copy is not run', { bid: callback.bid, event: callback.event, message_id: messageId });
      return verdict === 'run';
    },

    async beforeRun(job, logger) {
      if (uniqueSpecOf(job)?.until !== 'start') return;
      try {
        await (await state.uniqueLocks()).release(job);
      } catch (error) {
        // The lock still expires by its TTL; failing the job for it would run it twice.
        logger.warn('unique lock not released at start; it expires by TTL', { error });
      }
    },

    async debounce(job) {
      return (await state.debounceItems()).verdict(job);
    },

    async settleDebounce(job, logger) {
      try {
        const settled = await (await state.debounceItems()).settle(job);
        if (!settled) logger.info('a later job of the debounce key was enqueued while this one ran; it runs too');
      } catch (error) {
        logger.warn('debounce item not deleted; a copy of this job delivered again would run again', { error });
      }
    },

    async markStart(job, logger) {
      try {
        await (await state.startMarks()).mark(job);
      } catch (error) {
        logger.warn('start mark not written; a crash of this run may be let off as a throttled delivery', { error });
      }
    },

    async afterSuccess(successes, logger) {
      const handBack = new Set<string>();
      const byBatch = new Map<string, Success[]>();
      const toRelease: Job[] = [];
      for (const success of successes) {
        const bid = success.job.custom?.bid;
        if (bid !== undefined) byBatch.set(bid, [...(byBatch.get(bid) ?? []), success]);
        if (uniqueSpecOf(success.job)?.until === 'success') toRelease.push(success.job);
      }
      const recordAll = [...byBatch].map(async ([bid, members]) => {
        try {
          const store = await state.batchStore();
          await store.record(bid, members.map(({ job }) => ({ jid: job.jid, to: 'succeeded' })));
        } catch (error) {
          logger.error('could not record successes in their batch; records handed back', { bid, error });
          for (const member of members) handBack.add(member.key);
        }
      });
      const releaseAll = toRelease.map(async (job) => {
        try {
          await (await state.uniqueLocks()).release(job);
        } catch (error) {
          logger.warn('unique lock not released on success; it expires by TTL', { jid: job.jid, error });
        }
      });
      await Promise.all([...recordAll, ...releaseAll]);
      // Done only once its own batch knows it succeeded: a copy handed back for that runs again.
      const callbacksDone = successes.flatMap(({ key, job }) => {
        const callback = handBack.has(key) ? undefined : callbackOf(job);
        return callback === undefined ? [] : [callback];
      });
      await Promise.all(callbacksDone.map(async (callback) => {
        try {
          await (await state.batchStore()).markCallbackDone(callback.bid, callback.event);
        } catch (error) {
          // The job ran; only a late copy of it could now run again (as without the mark).
          logger.warn('batch callback job not marked done', { bid: callback.bid, event: callback.event, error });
        }
      }));
      return handBack;
    },
  };
}
