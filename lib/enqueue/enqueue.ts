/**
 * How jobs are put on their queues, shared by `Client`, `Batch.add` and `ctx.batch.add`:
 * validate every job first, take unique locks, name debounced jobs in their keys' items, register
 * batch members (before anything is sent, so a batch cannot look finished while it is filled), send
 * (SQS batches of 10, or the scheduled set beyond 15 minutes), and undo the locks, debounce items
 * and registrations of jobs that could not be sent.
 *
 * No DynamoDB SDK here: locks, debounce items and batches come through the runtime, loaded when
 * first needed.
 */
import { InvalidJobError, PayloadTooLargeError } from '../errors/base.js';
import { byteLength, JOB_LIMITS, normalizeJob, serializeJob, type Job, type JobInput } from '../job/model.js';
import { MAX_SQS_DELAY_SECONDS } from '../retry/policy.js';
import { jobQueueUrl } from '../aws/queues.js';
import type { QueueTiers } from '../config/queue-tiers.js';
import { jobMessage, sendInBatches, type OutgoingMessage, type SqsBatchSender } from '../aws/sqs-batch.js';
import { NotUniqueError } from '../errors/unique.js';
import { EnqueueError, type EnqueueFailure } from '../errors/enqueue.js';
import { lockKeyOf, uniqueSpecOf } from '../unique/lock.js';
import { debounceOf } from '../job/debounce.js';
import type { ReplacedItem } from '../debounce/store.js';
import { HopperError } from '../errors/base.js';
import { hasClientChain, runClientChain, type AnyMiddleware, type EnqueueVia } from '../middleware/chain.js';
import { createLogger, jobLogFields, type Logger } from '../observability/logger.js';

export { EnqueueError, type EnqueueFailure } from '../errors/enqueue.js';

/** Where scheduled jobs (due more than 15 minutes ahead) are kept. */
export interface ScheduledSetWriter {
  /** Stores `job` in the scheduled set, due at `dueMs`. */
  putScheduled(job: Job, dueMs: number): Promise<void>;
}

/** Takes and gives back unique locks (`UniqueLocks` in lib/unique/store.ts). */
export interface UniqueLockHolder {
  acquire(job: Job, dueMs: number): Promise<void>;
  release(job: Job): Promise<boolean>;
}

/** Writes and undoes debounce items (`DebounceItems` in lib/debounce/store.ts). */
export interface DebounceMarker {
  /** Names `job` in its key's item; returns the item it replaced, for `restore`. */
  mark(job: Job, dueMs: number): Promise<ReplacedItem>;
  restore(job: Job, replaced: ReplacedItem): Promise<void>;
}

/** What enqueuing needs from its host (a `Client`, a worker). */
export interface EnqueueRuntime {
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The queues' priority tiers: a job of such a queue goes to its tier's queue. @default - no queue has tiers */
  readonly queueTiers?: QueueTiers;
  readonly sqs: SqsBatchSender;
  readonly now: () => Date;
  /** `retry` of jobs that do not say (`HOPPER_DEFAULT_RETRY`). */
  readonly defaultRetry: number;
  /** The scheduled set, loaded when a job is due beyond SQS's delay. */
  scheduledSet(): Promise<ScheduledSetWriter>;
  /**
   * Queues whose jobs due more than {@link LISTED_DIRECT_SECONDS} ahead wait in the scheduled set
   * too, where they are listed and can be deleted (the queue option `listScheduled`).
   */
  readonly listedQueues?: ReadonlySet<string>;
  /** Unique locks, loaded when a job has `custom.unique_for`. */
  uniqueLocks(): Promise<UniqueLockHolder>;
  /** Debounce items, loaded when a job has `custom.debounce`; a host without them refuses such jobs. */
  debounceItems?(): Promise<DebounceMarker>;
  /** The team's client middleware, run on every job before anything is written (lib/middleware). */
  readonly middleware?: { readonly chain: AnyMiddleware; readonly via: EnqueueVia; readonly logger?: Logger };
}

/** The batch the jobs join: registered before they are sent, unregistered if they are not. */
export interface BatchMembership {
  readonly bid: string;
  register(jids: readonly string[]): Promise<void>;
  /** Takes `unsent` (of the jids `registered` by one `register` call) out of the batch again. */
  unregister(unsent: readonly string[], registered: readonly string[]): Promise<void>;
}

/** A validated job, ready to send. */
export interface PreparedJob {
  readonly job: Job;
  readonly body: string;
  readonly queueUrl: string;
  readonly delaySeconds: number;
  readonly dueMs: number;
}

/**
 * Validates one input and fills in its defaults; `path` prefixes field names in errors
 * (`jobs[3].`), `bid` makes it a member of that batch.
 *
 * @throws InvalidJobError (an undeclared queue, a tier or priority its queue does not have included), PayloadTooLargeError.
 */
export function prepareJob(
  input: JobInput,
  runtime: Pick<EnqueueRuntime, 'queueUrls' | 'queueTiers' | 'defaultRetry'>,
  options: { readonly path?: string; readonly now: Date; readonly bid?: string; readonly expiresInSeconds?: number; readonly startDebounce?: boolean },
): PreparedJob {
  const path = options.path ?? '';
  const { now, bid, expiresInSeconds } = options;
  let job: Job;
  try {
    const custom = bid === undefined ? input.custom : { ...input.custom, bid };
    job = normalizeJob({ ...input, ...(custom === undefined ? {} : { custom }), enqueued_at: now.toISOString() }, { now, defaultRetry: runtime.defaultRetry });
  } catch (error) {
    if (error instanceof InvalidJobError && path !== '') throw new InvalidJobError(`${path}${error.field}`, error.expected, error.received);
    throw error;
  }
  if (options.startDebounce === true) job = debounced(job, now);
  if (expiresInSeconds !== undefined) {
    if (job.custom?.expires_at !== undefined) {
      throw new InvalidJobError(`${path}custom.expires_at`, 'absent when the expiresIn option is given', JSON.stringify(job.custom.expires_at));
    }
    // Counted from when the job is due: a job scheduled for tomorrow expires tomorrow, not today.
    const due = job.at === undefined ? now.getTime() : Date.parse(job.at);
    job = { ...job, custom: { ...job.custom, expires_at: new Date(due + expiresInSeconds * 1000).toISOString() } };
  }
  const queueUrl = jobQueueUrl(job, runtime.queueUrls, runtime.queueTiers, { path });
  if (queueUrl === undefined) {
    throw new InvalidJobError(`${path}queue`, `one of the declared queues (${Object.keys(runtime.queueUrls).join(', ')})`, JSON.stringify(job.queue));
  }
  const body = serializeJob(job);
  const size = byteLength(body);
  if (size > JOB_LIMITS.maxJobBytes) throw new PayloadTooLargeError(`job ${job.jid}`, size, JOB_LIMITS.maxJobBytes);
  const dueMs = job.at === undefined ? now.getTime() : Date.parse(job.at);
  const delaySeconds = Math.max(0, Math.ceil((dueMs - now.getTime()) / 1000));
  return { job, body, queueUrl, delaySeconds, dueMs };
}

/**
 * `job` due `custom.debounce.period` seconds after it would have been (now, or its `at`): each job
 * of a key restarts the key's quiet period. Unchanged without a debounce.
 */
function debounced(job: Job, now: Date): Job {
  const spec = debounceOf(job);
  if (spec === undefined) return job;
  const from = job.at === undefined ? now.getTime() : Date.parse(job.at);
  return { ...job, at: new Date(from + Math.round(spec.period * 1000)).toISOString() };
}

/**
 * Enqueues `inputs` and returns their jids in input order.
 *
 * @throws InvalidJobError or PayloadTooLargeError before anything is written;
 *   NotUniqueError when the only job (`many: false`) is refused as not unique;
 *   EnqueueError when some jobs were refused or not accepted (the others are enqueued).
 */
export async function enqueueJobs(
  runtime: EnqueueRuntime,
  inputs: readonly JobInput[],
  options: { readonly many: boolean; readonly batch?: BatchMembership; readonly expiresInSeconds?: number },
): Promise<string[]> {
  const now = runtime.now();
  const { batch } = options;
  const prepared = await throughMiddleware(runtime, inputs.map((input, index) => prepareJob(input, runtime, {
    now,
    startDebounce: true,
    ...(options.expiresInSeconds === undefined ? {} : { expiresInSeconds: options.expiresInSeconds }),
    ...(options.many ? { path: `jobs[${index}].` } : {}),
    ...(batch === undefined ? {} : { bid: batch.bid }),
  })), now, options.many);

  const failed: EnqueueFailure[] = [];
  const locks = await takeLocks(runtime, prepared);
  failed.push(...locks.refused);
  const marks = await takeMarks(runtime, locks.accepted);
  failed.push(...marks.refused);
  const unmarked = new Set(marks.refused.map((entry) => entry.jid));
  await releaseLocks(runtime, locks.locked.filter((job) => unmarked.has(job.jid)));
  const locked = locks.locked.filter((job) => !unmarked.has(job.jid));
  const accepted = locks.accepted.filter((entry) => !unmarked.has(entry.job.jid));

  const registered = accepted.map((entry) => entry.job.jid);
  if (batch !== undefined && accepted.length > 0) {
    try {
      await batch.register(registered);
    } catch (error) {
      await Promise.all([releaseLocks(runtime, locked), restoreMarks(runtime, marks.marked)]);
      throw error;
    }
  }

  const unsent = await send(runtime, accepted);
  if (unsent.length > 0) {
    const unsentJids = new Set(unsent.map((entry) => entry.jid));
    await Promise.all([
      releaseLocks(runtime, locked.filter((job) => unsentJids.has(job.jid))),
      restoreMarks(runtime, marks.marked.filter((mark) => unsentJids.has(mark.job.jid))),
    ]);
    let undo = '';
    if (batch !== undefined) {
      try {
        await batch.unregister([...unsentJids], registered);
      } catch (error) {
        undo = `; it is still counted in batch ${batch.bid} (${error instanceof Error ? error.message : String(error)})`;
      }
    }
    failed.push(...unsent.map((entry) => ({ ...entry, reason: `${entry.reason}${undo}` })));
  }

  const jids = prepared.map((entry) => entry.job.jid);
  const only = failed[0];
  if (!options.many && only !== undefined && only.existingJid !== undefined) {
    const lock = locks.refused.find((entry) => entry.jid === only.jid);
    throw new NotUniqueError(only.jid, only.existingJid, lock?.lockedUntil);
  }
  if (failed.length > 0) {
    const failedJids = new Set(failed.map((entry) => entry.jid));
    throw new EnqueueError(jids.filter((jid) => !failedJids.has(jid)), failed.map(({ jid, reason, existingJid, lockedUntil }) => ({
      jid, reason, ...(existingJid === undefined ? {} : { existingJid }), ...(lockedUntil === undefined ? {} : { lockedUntil }),
    })));
  }
  return jids;
}

/**
 * Runs the runtime's client middleware over every prepared job, in parallel, and prepares each
 * result again (its size and queue are checked again).
 *
 * @throws MiddlewareError, InvalidJobError or PayloadTooLargeError before anything is written.
 */
async function throughMiddleware(runtime: EnqueueRuntime, prepared: readonly PreparedJob[], now: Date, many: boolean): Promise<PreparedJob[]> {
  const { middleware } = runtime;
  if (middleware === undefined || !hasClientChain(middleware.chain)) return [...prepared];
  const logger = middleware.logger ?? createLogger();
  return Promise.all(prepared.map(async (entry, index) => {
    const job = await runClientChain(middleware.chain, entry.job, middleware.via, logger.child(jobLogFields(entry.job)));
    // A debounce the middleware added starts here; one the job had has started already.
    return prepareJob(job, runtime, { now, startDebounce: debounceOf(entry.job) === undefined, ...(many ? { path: `jobs[${index}].` } : {}) });
  }));
}

/**
 * Takes the locks of the unique jobs among `prepared`, in parallel. Of jobs of one call that share a
 * lock, the first in input order asks for it and the others are refused without a request.
 */
async function takeLocks(runtime: EnqueueRuntime, prepared: readonly PreparedJob[]): Promise<{
  accepted: PreparedJob[];
  refused: (EnqueueFailure & { lockedUntil?: string })[];
  locked: Job[];
}> {
  const unique = prepared.filter((entry) => uniqueSpecOf(entry.job) !== undefined);
  if (unique.length === 0) return { accepted: [...prepared], refused: [], locked: [] };
  const firstByLock = new Map<string, PreparedJob>();
  const repeats: { entry: PreparedJob; first: PreparedJob }[] = [];
  for (const entry of unique) {
    const lock = lockKeyOf(entry.job).pk;
    const first = firstByLock.get(lock);
    if (first === undefined) firstByLock.set(lock, entry);
    else repeats.push({ entry, first });
  }
  const locks = await runtime.uniqueLocks();
  const firsts = [...firstByLock.values()];
  const results = await Promise.allSettled(firsts.map((entry) => locks.acquire(entry.job, entry.dueMs)));
  const refused: (EnqueueFailure & { lockedUntil?: string })[] = [];
  const locked: Job[] = [];
  const holderOf = new Map<PreparedJob, NotUniqueError | undefined>();
  results.forEach((result, index) => {
    const entry = firsts[index];
    if (entry === undefined) return;
    if (result.status === 'fulfilled') {
      locked.push(entry.job);
      holderOf.set(entry, undefined);
      return;
    }
    const error: unknown = result.reason;
    if (error instanceof NotUniqueError) {
      holderOf.set(entry, error);
      refused.push({ jid: entry.job.jid, reason: error.message, existingJid: error.existingJid, ...(error.lockedUntil === undefined ? {} : { lockedUntil: error.lockedUntil }) });
    } else {
      refused.push({ jid: entry.job.jid, reason: `unique lock not taken: ${describe(error)}` });
    }
  });
  for (const { entry, first } of repeats) {
    if (!holderOf.has(first)) {
      refused.push({ jid: entry.job.jid, reason: `unique lock not taken: the request for job ${first.job.jid}, which shares it, failed` });
      continue;
    }
    // The lock goes to the first of the call; when another job held it already, that one is named.
    const holder = holderOf.get(first);
    const existingJid = holder?.existingJid ?? first.job.jid;
    const notUnique = new NotUniqueError(entry.job.jid, existingJid, holder?.lockedUntil);
    refused.push({ jid: entry.job.jid, reason: notUnique.message, existingJid, ...(holder?.lockedUntil === undefined ? {} : { lockedUntil: holder.lockedUntil }) });
  }
  const refusedJids = new Set(refused.map((entry) => entry.jid));
  return { accepted: prepared.filter((entry) => !refusedJids.has(entry.job.jid)), refused, locked };
}

/** A debounced job's mark, and the item it replaced. */
interface Mark {
  readonly job: Job;
  readonly replaced: ReplacedItem;
}

/**
 * Names each debounced job among `prepared` in its key's item, in parallel. Of jobs of one call that
 * share a key, only the last in input order writes: the others would be superseded by it anyway.
 */
async function takeMarks(runtime: EnqueueRuntime, prepared: readonly PreparedJob[]): Promise<{ marked: Mark[]; refused: EnqueueFailure[] }> {
  const lastByKey = new Map<string, PreparedJob>();
  for (const entry of prepared) {
    const spec = debounceOf(entry.job);
    if (spec !== undefined) lastByKey.set(spec.key, entry);
  }
  if (lastByKey.size === 0) return { marked: [], refused: [] };
  const lasts = [...lastByKey.values()];
  let items: DebounceMarker;
  try {
    if (runtime.debounceItems === undefined) throw new HopperError('debounced jobs need the state table, and this host has none');
    items = await runtime.debounceItems();
  } catch (error) {
    return { marked: [], refused: lasts.map((entry) => ({ jid: entry.job.jid, reason: `debounce item not written: ${describe(error)}` })) };
  }
  const results = await Promise.allSettled(lasts.map((entry) => items.mark(entry.job, entry.dueMs)));
  const marked: Mark[] = [];
  const refused: EnqueueFailure[] = [];
  results.forEach((result, index) => {
    const entry = lasts[index];
    if (entry === undefined) return;
    if (result.status === 'fulfilled') marked.push({ job: entry.job, replaced: result.value });
    else refused.push({ jid: entry.job.jid, reason: `debounce item not written: ${describe(result.reason)}` });
  });
  return { marked, refused };
}

/**
 * Undoes the marks of jobs that will not be enqueued: the item each replaced goes back, so the job
 * it named runs after all. A mark that cannot be undone leaves its key to a job that was never
 * sent: nothing of the key runs until its next job.
 */
async function restoreMarks(runtime: EnqueueRuntime, marks: readonly Mark[]): Promise<void> {
  if (marks.length === 0 || runtime.debounceItems === undefined) return;
  const items = await runtime.debounceItems();
  await Promise.allSettled(marks.map((mark) => items.restore(mark.job, mark.replaced)));
}

/** Gives back locks taken for jobs that will not be enqueued; a lock left behind expires by TTL. */
async function releaseLocks(runtime: EnqueueRuntime, jobs: readonly Job[]): Promise<void> {
  if (jobs.length === 0) return;
  const locks = await runtime.uniqueLocks();
  await Promise.allSettled(jobs.map((job) => locks.release(job)));
}

/**
 * Jobs of a listed queue due at most this many seconds ahead still go to SQS at once: the sweep
 * runs every minute, so one due sooner could start up to a minute late from the set.
 */
export const LISTED_DIRECT_SECONDS = 60;

/** Whether `entry` waits in the scheduled set rather than in SQS. */
function waitsInSet(runtime: EnqueueRuntime, entry: PreparedJob): boolean {
  if (entry.delaySeconds > MAX_SQS_DELAY_SECONDS) return true;
  return entry.delaySeconds > LISTED_DIRECT_SECONDS && runtime.listedQueues?.has(entry.job.queue) === true;
}

/**
 * Sends jobs due within 15 minutes to SQS and the others to the scheduled set, with those of a
 * listed queue due more than a minute ahead.
 */
async function send(runtime: EnqueueRuntime, prepared: readonly PreparedJob[]): Promise<EnqueueFailure[]> {
  const later = prepared.filter((entry) => waitsInSet(runtime, entry));
  const soon: OutgoingMessage[] = prepared
    .filter((entry) => !waitsInSet(runtime, entry))
    .map((entry) => jobMessage(entry.job.jid, entry.queueUrl, entry.job, { body: entry.body, ...(entry.delaySeconds > 0 ? { delaySeconds: entry.delaySeconds } : {}) }));

  const failed: EnqueueFailure[] = [];
  if (soon.length > 0) failed.push(...(await sendInBatches(runtime.sqs, soon)).map((failure) => ({ jid: failure.key, reason: failure.reason })));
  if (later.length > 0) {
    let writer: ScheduledSetWriter;
    try {
      writer = await runtime.scheduledSet();
    } catch (error) {
      return failed.concat(later.map((entry) => ({ jid: entry.job.jid, reason: describe(error) })));
    }
    await Promise.all(later.map(async (entry) => {
      try {
        await writer.putScheduled(entry.job, entry.dueMs);
      } catch (error) {
        failed.push({ jid: entry.job.jid, reason: describe(error) });
      }
    }));
  }
  return failed;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
