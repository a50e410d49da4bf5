/**
 * The producer's handle on a batch: create it, add jobs (many at once, in as many calls as needed),
 * seal it, add child batches, read its status. Used by `Client.batch` and by `ctx.batch` in a worker.
 *
 * A batch is created unsealed: no callback fires until its producer seals it (`seal()`, or the fill
 * form `client.batch(options, fill)`, which seals when `fill` returns), however many of the jobs
 * added so far have already run. Jobs of the batch may add jobs to it at any time (`ctx.batch.add`):
 * a running job is itself pending, so the batch cannot finish before what it adds is counted.
 */
import { createHash } from 'node:crypto';
import { enqueueJobs, prepareJob, type EnqueueRuntime } from '../enqueue/enqueue.js';
import { InvalidJobError } from '../errors/base.js';
import { JOB_LIMITS, type JobInput } from '../job/model.js';
import { newBid } from './callbacks.js';
import { BatchNotFoundError } from '../errors/batch.js';
import type { CallbackEvent, CallbackJob } from './model.js';
import { batchStatus, type BatchStatus } from './status.js';
import type { BatchStore } from './store.js';

/** Bounds of batch ids: a callback's jid is `<bid>-complete`, which must stay a valid jid. */
export const BATCH_LIMITS = {
  bidMaxLength: 100,
} as const;

/** Options of a new batch. */
export interface BatchOptions {
  /**
   * The batch id (1 to 100 letters, digits, `.`, `_`, `:` or `-`). Creating a batch whose id exists
   * returns a handle on the existing one, unchanged.
   * @default - a random id
   */
  readonly bid?: string;
  /** Free text shown with the batch. */
  readonly description?: string;
  /** Enqueued once when every job has run once (succeeded or failed at least once). */
  readonly onComplete?: CallbackJob;
  /** Enqueued once when every job has succeeded. */
  readonly onSuccess?: CallbackJob;
  /** Enqueued once when a job of the batch (or of a child batch) lands in the dead set. */
  readonly onDeath?: CallbackJob;
  /** The parent batch: this batch must complete (and succeed) before the parent does. */
  readonly parent?: string;
}

/** What a batch handle needs from its host. */
export interface BatchDeps {
  readonly runtime: EnqueueRuntime;
  store(): Promise<BatchStore>;
  /**
   * Ids for jobs and child batches given without one. A worker derives them from the running job's
   * jid, so that a job run twice adds the same jobs (counted once) instead of new ones.
   * @default - random ids
   */
  readonly nextId?: () => string;
}

const CALLBACK_OPTIONS: ReadonlyArray<readonly [CallbackEvent, 'onComplete' | 'onSuccess' | 'onDeath']> = [
  ['complete', 'onComplete'],
  ['success', 'onSuccess'],
  ['death', 'onDeath'],
];

/** Fills a new batch; the batch is sealed when it returns. */
export type BatchFill = (batch: Batch) => Promise<unknown>;

/**
 * Creates a batch (idempotent for a given bid), unsealed, and returns its handle. With `fill`, runs
 * it and then seals the batch; when `fill` throws, the batch stays unsealed (nothing fires): create
 * it again with the same `bid` and fill it again (jobs with the same jid are counted once), or
 * seal it as it is.
 *
 * @throws InvalidJobError naming the bad option (`bid`, `onSuccess.queue`, …);
 *   BatchNotFoundError when `parent` does not exist; BatchFinishedError when it has succeeded;
 *   what `fill` throws.
 */
export async function createBatch(deps: BatchDeps, options: BatchOptions, fill?: BatchFill): Promise<Batch> {
  const bid = options.bid ?? deps.nextId?.() ?? newBid();
  validateBid(bid, 'bid');
  if (options.parent !== undefined) validateBid(options.parent, 'parent');
  const now = deps.runtime.now();
  const callbacks: Partial<Record<CallbackEvent, CallbackJob>> = {};
  for (const [event, option] of CALLBACK_OPTIONS) {
    const callback = options[option];
    if (callback === undefined) continue;
    // Validated as the job it will become, so a bad callback fails now, not when the batch ends.
    prepareJob({ ...callback, jid: `${bid}-${event}` }, deps.runtime, { path: `${option}.`, now });
    callbacks[event] = callback;
  }
  const store = await deps.store();
  await store.create({
    bid,
    callbacks,
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.parent === undefined ? {} : { parent: options.parent }),
  });
  const batch = new Batch(bid, deps);
  if (fill !== undefined) {
    await fill(batch);
    await batch.seal();
  }
  return batch;
}

/**
 * A batch of jobs tracked together. Its callbacks wait until it is sealed.
 *
 * @example
 * const batch = await client.batch({ description: 'nightly export', onSuccess: { jobtype: 'ExportDone' } }, async (b) => {
 *   for await (const page of accountPages()) await b.add(page.map((id) => ({ jobtype: 'ExportAccount', args: [id] })));
 * });
 */
export class Batch {
  constructor(
    /** The batch id. */
    readonly bid: string,
    private readonly deps: BatchDeps,
  ) {}

  /**
   * Adds jobs to the batch and enqueues them: they are registered as pending (one transaction per
   * 1,000 jobs) before any is sent, then sent in SQS batches of 10. Adding the same jobs again (the
   * same jids: a retried `add`) counts them once, so retrying an `add` is safe; a jid must not be
   * added in two different calls. Jobs that could not be sent are taken out of the batch again and
   * reported. Call it as often as needed before {@link Batch.seal}: the
   * batch cannot finish in between, even when every job added so far has run.
   *
   * @returns the jids, in input order.
   * @throws InvalidJobError before anything is written; BatchNotFoundError; BatchFinishedError when
   *   the batch has succeeded; EnqueueError when some jobs were refused or not sent (the others are
   *   in the batch and enqueued).
   */
  async add(jobs: readonly JobInput[]): Promise<string[]> {
    const nextId = this.deps.nextId;
    const inputs = nextId === undefined ? jobs : jobs.map((job) => (job.jid === undefined ? { ...job, jid: nextId() } : job));
    if (inputs.length === 0) return [];
    const store = await this.deps.store();
    return enqueueJobs(this.deps.runtime, inputs, {
      many: true,
      batch: {
        bid: this.bid,
        register: async (jids) => { await store.register(this.bid, jids); },
        unregister: (unsent, registered) => store.unregister(this.bid, registered, unsent),
      },
    });
  }

  /**
   * Says every job is added: from now on the batch's callbacks fire when its jobs are done (at once
   * when they already are). Sealing again changes nothing.
   *
   * @throws BatchNotFoundError when the batch no longer exists.
   */
  async seal(): Promise<void> {
    await (await this.deps.store()).seal(this.bid);
  }

  /**
   * Creates a child batch, unsealed like any new batch (with `fill`, sealed when `fill` returns):
   * this batch completes (and succeeds) only after the child does.
   */
  async child(options: Omit<BatchOptions, 'parent'> = {}, fill?: BatchFill): Promise<Batch> {
    return createBatch(this.deps, { ...options, parent: this.bid }, fill);
  }

  /**
   * Adds to a batch that may already be sealed: its callbacks cannot fire while `fill` runs, even if
   * every job added so far has already finished (a job of the batch adding to it needs none of
   * this: while it runs, it is pending itself).
   *
   * @example
   * await batch.jobs(async (b) => {
   *   for await (const page of pages()) await b.add(page.map(toJob));
   * });
   */
  async jobs<T>(fill: (batch: Batch) => Promise<T>): Promise<T> {
    const store = await this.deps.store();
    await store.open(this.bid, 1);
    try {
      return await fill(this);
    } finally {
      await store.open(this.bid, -1);
    }
  }

  /** The batch's status. @throws BatchNotFoundError when it no longer exists. */
  async status(): Promise<BatchStatus> {
    const state = await (await this.deps.store()).get(this.bid);
    if (state === undefined) throw new BatchNotFoundError(this.bid);
    return batchStatus(state);
  }
}

/**
 * Ids derived from `seed` (`<seed>-1`, `<seed>-2`, …), hashed when too long for a bid. A worker
 * seeds them with the running job's jid, so a job that runs again adds the same ids.
 */
export function derivedIds(seed: string): () => string {
  let next = 0;
  return () => {
    next += 1;
    const id = `${seed}-${next}`;
    return id.length <= BATCH_LIMITS.bidMaxLength ? id : createHash('sha256').update(id).digest('hex').slice(0, 40);
  };
}

function validateBid(bid: string, field: string): void {
  if (bid.length === 0 || bid.length > BATCH_LIMITS.bidMaxLength || !JOB_LIMITS.jidPattern.test(bid)) {
    throw new InvalidJobError(field, `a batch id of 1 to ${BATCH_LIMITS.bidMaxLength} letters, digits, '.', '_', ':' or '-'`, JSON.stringify(bid));
  }
}
