/**
 * What the worker does with one SQS record: parse, drop if expired, run, and turn a failure into a
 * message to send (a failure envelope for the retries queue, or the job itself back to its queue
 * when its retry is due within 15 minutes or a limiter asked to wait). Never throws: every outcome
 * is a value.
 */
import type { SQSRecord } from 'aws-lambda';
import { failureEnvelope, type EnvelopeError } from '../job/envelope.js';
import { dueAtMs } from '../job/due.js';
import { describeError, parseJob, type Job } from '../job/model.js';
import { limitedCount, nextHeldAttempt, nextLimitedAttempt } from '../limiters/reschedule.js';
import type { LimiterFactory } from '../limiters/limiter.js';
import { randomFromText } from '../common/random.js';
import { MAX_SQS_DELAY_SECONDS } from '../retry/policy.js';
import { planFailure, RETRY_DEFAULTS } from '../retry/plan.js';
import { IterationSignal, UnknownJobTypeError, isUnrecoverable, rateLimitedDelay } from '../errors/worker.js';
import { HopperError, isHopperError } from '../errors/base.js';
import { jobLogFields, type Logger } from '../observability/logger.js';
import { physicalNameFromArn, type QueueResolver } from '../aws/queues.js';
import { Reservation, type Reservations, type SqsVisibilityChanger } from './reservation.js';
import { jobMessage, type OutgoingMessage } from '../aws/sqs-batch.js';
import type { BatchContext, FlowContext, JobContext, JobHandler } from './types.js';
import type { WorkerFeatures } from './features.js';
import type { Limiter } from '../limiters/limiter.js';
import { hasJobLimits, jobLimits, withinLimits, type FlowGateScope, type Held } from './flow-gate.js';
import type { BusyBoard } from '../stats/busy.js';
import { ITERATION_SCOPE, type IterationCarrier, type IterationScope } from './iterate.js';
import { hasClientChain, runClientChain, type EnqueueVia, type HopperStep, type ServerMiddleware, type AnyMiddleware } from '../middleware/chain.js';
import { runServerChain, type ChainResult } from './server-chain.js';
import { flowContext } from './flow-step.js';

/** What the worker measured of a job it took up (for metrics and cohorts). */
export interface RunFacts {
  /** The queue the record came from. */
  readonly queue: string;
  /** Milliseconds the job waited between becoming due on its queue and being taken up. */
  readonly waitedMs: number;
  /** Milliseconds the handler ran; absent when no handler ran (unknown jobtype). */
  readonly durationMs?: number;
}

/** The outcome of one record. */
export type RecordOutcome =
  | { readonly kind: 'succeeded'; readonly job: Job; readonly run: RunFacts }
  | { readonly kind: 'expired'; readonly job: Job }
  /** A debounced job a later job of its key superseded (or that ran already): acknowledged, not run. */
  | { readonly kind: 'superseded'; readonly job: Job }
  /** A second copy of a batch callback job whose run another message holds: acknowledged, not run. */
  | { readonly kind: 'duplicate'; readonly job: Job }
  /** Could not tell whether the job may run: handed back to SQS to ask again. */
  | { readonly kind: 'deferred'; readonly job: Job }
  /**
   * The job failed: `message` is its failure envelope for the retries queue, or, when its next
   * attempt is due within SQS's delay, the job itself back on its queue (`retried`, as sent).
   */
  | { readonly kind: 'failed'; readonly message: OutgoingMessage; readonly job?: Job; readonly run?: RunFacts; readonly retried?: Job }
  | { readonly kind: 'rate_limited'; readonly message: OutgoingMessage; readonly job: Job; readonly run: RunFacts }
  /** An iterating job (./iterate.ts) stopped before the deadline: `message` sends it back to its queue to go on. */
  | { readonly kind: 'continued'; readonly message: OutgoingMessage; readonly job: Job; readonly run: RunFacts };

/** What a record's processing needs from its invocation. */
export interface RecordScope {
  readonly jobs: Readonly<Record<string, JobHandler>>;
  readonly queues: QueueResolver;
  readonly retriesQueueUrl: string;
  /** `retry` of a job body without one. */
  readonly defaultRetry: number;
  /** The worker's clock, in epoch ms. */
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly remainingTimeMs: () => number;
  readonly signal: AbortSignal;
  /** The reservations of the jobs running now: the invocation stops them when it gives up on them. */
  readonly reservations: Reservations;
  /** For reservations (ChangeMessageVisibility). */
  readonly sqs: SqsVisibilityChanger;
  /** Queue name → visibility timeout in seconds, for the queues the worker was told about. */
  readonly visibility: Readonly<Record<string, number>>;
  /** When the batch was received: its messages' visibility runs from then. */
  readonly receivedAtMs: number;
  /** Batches and unique locks (loaded only for jobs that use them). */
  readonly features?: WorkerFeatures;
  /** `ctx.limiter`: limiters on the instance's store, waiting no longer than the invocation allows. */
  readonly limiter: LimiterFactory;
  /** The lease every job of the queue holds while it runs, when the queue's cap needs one. */
  readonly queueLease?: Limiter;
  /** Per-tenant caps and their overrides (./flow-gate.ts); absent: no queue caps its tenants. */
  readonly flow?: Omit<FlowGateScope, 'limiter'>;
  /** What iterating jobs use (./iterate.ts), the same for every job of the invocation. */
  readonly iteration?: IterationScope;
  /** Told how long each job waited on its queue when its handler starts (for the queues' latency). */
  readonly observeWait?: (queue: string, waitedMs: number, tier?: string) => void;
  /** The instance's running jobs, for the Busy page (lib/stats/busy.ts). */
  readonly busy?: BusyBoard;
  /** The team's middleware: its client chain runs on every job the worker sends back (lib/middleware). */
  readonly middleware?: AnyMiddleware;
  /**
   * The server entries in the order they run (`serverOrder`): Hopper's steps and the team's
   * middleware. Absent when the team has no server middleware: Hopper's steps run in their order.
   */
  readonly serverChain?: readonly (ServerMiddleware<JobContext> | HopperStep)[];
}

/** Processes one record; see the module comment. */
export async function processRecord(record: SQSRecord, scope: RecordScope): Promise<RecordOutcome> {
  const sourceQueue = scope.queues.nameOf(record.eventSourceARN);
  let job: Job;
  try {
    job = parseJob(record.body, {
      now: new Date(scope.nowMs()),
      defaultJid: record.messageId,
      defaultRetry: scope.defaultRetry,
      ...(sourceQueue === undefined ? {} : { defaultQueue: sourceQueue }),
    });
  } catch (error) {
    // Retrying cannot fix the body: straight to the dead set, keeping the body for inspection.
    const queue = sourceQueue ?? physicalNameFromArn(record.eventSourceARN);
    scope.logger.warn('invalid job sent to the dead set', { message_id: record.messageId, queue, error: describeError(error).message });
    return fail(record, scope, { queue, raw: record.body, error, unrecoverable: true });
  }

  const tier = scope.queues.tierOf(record.eventSourceARN);
  const logger = scope.logger.child(tier === undefined ? jobLogFields(job) : { ...jobLogFields(job), tier });
  // Nothing of the team's runs before the expiry step: an expired job costs nothing more.
  if ((scope.serverChain === undefined || scope.serverChain[0] === 'expiry') && isExpired(job, scope, logger)) return { kind: 'expired', job };
  // Nor before the debounce check: a superseded job is not a run of it.
  // Checked here so that a plain job pays no await for it.
  if (job.custom?.debounce !== undefined) {
    const superseded = await isSuperseded(job, scope, logger);
    if (superseded !== false) return { kind: superseded, job };
  }

  const handler = Object.hasOwn(scope.jobs, job.jobtype) ? scope.jobs[job.jobtype] : undefined;
  const queue = sourceQueue ?? job.queue;
  const waited = waitedMs(job, record, scope.nowMs());
  if (handler === undefined) {
    const error = new UnknownJobTypeError(job.jobtype, Object.keys(scope.jobs));
    logger.error('unknown jobtype; job sent to the dead set', { error: error.message });
    return { ...fail(record, scope, { queue, job, error, unrecoverable: true }), job, run: { queue, waitedMs: waited } };
  }

  try {
    if (scope.features !== undefined && !(await scope.features.admit(job, record.messageId, logger))) return { kind: 'duplicate', job };
  } catch (error) {
    logger.warn('could not claim the run of a batch callback; handed back to SQS', { error: describeError(error).message });
    return { kind: 'deferred', job };
  }
  const batch = scope.features?.batchContext(job);
  // Without server middleware, the unique step runs where it always has: before the run's bookkeeping.
  if (scope.serverChain === undefined) await scope.features?.beforeRun(job, logger);
  const tracker = scope.features?.tracker(job, logger);
  await tracker?.start();
  const reservation = new Reservation({
    sqs: scope.sqs,
    queueUrl: scope.queues.sourceUrlOf(record.eventSourceARN),
    receiptHandle: record.receiptHandle,
    visibilitySeconds: sourceQueue === undefined ? undefined : scope.visibility[sourceQueue],
    reserveForSeconds: job.reserve_for,
    receivedAtMs: scope.receivedAtMs,
    ...firstReceived(record),
    nowMs: scope.nowMs,
    logger,
    reservations: scope.reservations,
  });
  const features = scope.features;
  const iteration = scope.iteration;
  const startedMs = scope.nowMs();
  const started: RunStart = { queue, waitedMs: waited, startedMs };
  const busy = scope.busy?.begin({ jid: job.jid, jobtype: job.jobtype, queue, startedMs, attempt: job.failure === undefined ? 1 : job.failure.retry_count + 2 });
  const progress = tracker?.progress ?? untracked;
  const ctx: IterationCarrier = {
    jid: job.jid, job, logger, remainingTimeMs: scope.remainingTimeMs, signal: scope.signal,
    // Bound rather than wrapped: a closure made per job costs more in a keep-names bundle.
    extend: reservation.extend.bind(reservation),
    limiter: scope.limiter,
    once: features?.once(job, logger, scope.remainingTimeMs) ?? onceUnavailable,
    progress: busy === undefined ? progress : async (percent, message) => {
      await progress(percent, message);
      busy.progress(percent, message);
    },
    ...(batch === undefined ? {} : { batch }),
    ...flowOf(job, batch, features),
    ...(iteration === undefined ? {} : { [ITERATION_SCOPE]: iteration }),
  };
  scope.observeWait?.(queue, waited, tier);
  // An abandoned job (the invocation's deadline) stops renewing: the invocation stops what this holds.
  scope.reservations.add(reservation);
  // Received before: crashes, timeouts or throttles. Marking the run lets the retry function tell them apart.
  if (receiveCountOf(record) > 1) await scope.features?.markStart(job, logger);
  try {
    await reservation.start();
    let uniqueStepRan = false;
    const result = scope.serverChain === undefined
      ? await hopperStepsOnly(job, queue, ctx, handler, scope, logger)
      : await runServerChain(scope.serverChain, job, ctx, {
        expired: () => isExpired(job, scope, logger),
        unique: async () => {
          uniqueStepRan = true;
          await scope.features?.beforeRun(job, logger);
        },
        limiter: async (next) => withinLimits(await limitsOf(job, queue, scope, logger), next),
        handler: async (ran) => handler(ran.args, ctx),
      });
    // A middleware that ended the job before the unique step: the job is done, so a lock held until
    // its start is released now rather than at its TTL.
    if (result.kind === 'ran' && scope.serverChain !== undefined && !uniqueStepRan) await scope.features?.beforeRun(job, logger);
    if (result.kind === 'expired') {
      await tracker?.failed({ errtype: 'JobExpired', message: `expired at ${job.custom?.expires_at ?? '?'}; dropped without running` });
      return { kind: 'expired', job };
    }
    const queueUrl = scope.queues.urlOf({ queue, custom: job.custom });
    if (result.kind === 'capped' && queueUrl !== undefined) {
      const back = heldBack(job, result.held, scope, logger);
      return requeue(record, job, scope, logger, { kind: 'rate_limited', message: jobMessage(record.messageId, queueUrl, back.job, { delaySeconds: back.delaySeconds }), job, run: runFacts(started, scope) });
    }
    const facts = runFacts(started, scope);
    await tracker?.succeeded(result.kind === 'ran' ? result.value : undefined);
    if (job.custom?.debounce !== undefined) await scope.features?.settleDebounce(job, logger);
    // DEBUG: nothing at INFO (a success costs no log line on AWS); hopper dev shows it.
    logger.debug('job done', { duration_ms: facts.durationMs });
    return { kind: 'succeeded', job, run: facts };
  } catch (error) {
    if (isHopperError(error, 'IterationSignal')) {
      // A copy of a finished job: its tracked state goes back to what the finishing slice wrote.
      if ((error as IterationSignal).kind === 'finished') await tracker?.alreadySucceeded();
      const end = iterationEnd(error as IterationSignal, record, job, scope, logger, runFacts(started, scope));
      return end.kind === 'continued' ? requeue(record, job, scope, logger, end) : end;
    }
    const waitSeconds = rateLimitedDelay(error);
    const jobQueueUrl = scope.queues.urlOf(job);
    if (waitSeconds !== undefined && jobQueueUrl !== undefined) {
      // A limiter's wait is not a failure: the job goes back with jitter and keeps its retries, up
      // to a cap. Seeded by the job and the reschedule, so a redelivery computes the same delay.
      const count = limitedCount(job) + 1;
      const attempt = nextLimitedAttempt(job, { retryAfterSeconds: waitSeconds }, { random: randomFromText(`${job.jid}#limited#${count}`) });
      if (attempt.action === 'reschedule') {
        // Waits beyond SQS's 15 minutes are cut to 15; the limiter answers again then.
        const delaySeconds = Math.min(MAX_SQS_DELAY_SECONDS, attempt.delaySeconds);
        const why = isHopperError(error, 'OnceStepBusyError') ? 'a step of ctx.once runs in another delivery; job delayed'
          : isHopperError(error, 'IterationBusyError') ? 'the job iterates in another delivery; job delayed' : 'rate limited; job delayed';
        logger.info(why, { delay_s: delaySeconds, limited_count: attempt.limitedCount });
        // It enters its queue again now and is due after the delay: its wait is not latency.
        const nowMs = scope.nowMs();
        const again: Job = { ...attempt.job, enqueued_at: new Date(nowMs).toISOString(), at: new Date(nowMs + delaySeconds * 1000).toISOString() };
        return requeue(record, job, scope, logger, { kind: 'rate_limited', message: jobMessage(record.messageId, jobQueueUrl, again, { delaySeconds }), job, run: runFacts(started, scope) });
      }
      logger.warn('rate limited too many times; handled as a failure', { limited_count: attempt.limitedCount });
    }
    const unrecoverable = isUnrecoverable(error);
    const described = describeError(error);
    await tracker?.failed({ errtype: described.errtype, message: described.message });
    logger.warn(unrecoverable ? 'job failed; not retryable' : 'job failed', { errtype: described.errtype, error: described.message, backtrace: described.backtrace });
    const retried = unrecoverable ? undefined : await retryHere(record, job, described, jobQueueUrl, scope, logger);
    if (retried !== undefined) {
      logger.info('retry enqueued', { retry_count: retried.job.failure?.retry_count, errtype: described.errtype, error: described.message, delay_s: retried.message.delaySeconds });
      return { kind: 'failed', message: retried.message, job, run: runFacts(started, scope), retried: retried.job };
    }
    return { ...fail(record, scope, { queue, job, error, unrecoverable }), job, run: runFacts(started, scope) };
  } finally {
    busy?.end();
    scope.reservations.delete(reservation);
  }
}

/**
 * The run of a worker without server middleware: Hopper's steps in their order, without the chain's
 * closures (expiry and unique ran before the run began). What every plain job pays.
 */
async function hopperStepsOnly(job: Job, queue: string, ctx: JobContext, handler: JobHandler, scope: RecordScope, logger: Logger): Promise<ChainResult> {
  let value: unknown;
  const run = async (): Promise<void> => { value = await handler(job.args, ctx); };
  if (scope.queueLease === undefined && !hasJobLimits(job, queue, scope.flow)) {
    await run();
    return { kind: 'ran', value };
  }
  const held = await withinLimits(await limitsOf(job, queue, scope, logger), run);
  return held === undefined ? { kind: 'ran', value } : { kind: 'capped', held };
}

/** The limits `job` holds while it runs: its own (./flow-gate.ts), then the queue's lease. */
async function limitsOf(job: Job, queue: string, scope: RecordScope, logger: Logger): Promise<Limiter[]> {
  const own = hasJobLimits(job, queue, scope.flow) ? await jobLimits(job, queue, { ...scope.flow, limiter: scope.limiter }, logger) : [];
  return scope.queueLease === undefined ? own : [...own, scope.queueLease];
}

/**
 * What goes back on the queue for a job that found no room. At the queue's cap, the job itself,
 * unchanged (its turn, not a limit of its own), after the lease's wait. Held by its tenant's cap or
 * its throttle, the job with one more hold counted, after the limiter's wait plus a jitter that
 * grows with the holds (lib/limiters/reschedule.ts): never failed, no retry used.
 */
function heldBack(job: Job, held: Held, scope: RecordScope, logger: Logger): { delaySeconds: number; job: Job } {
  if (held.limiter === scope.queueLease?.name) {
    const delaySeconds = Math.min(MAX_SQS_DELAY_SECONDS, Math.max(1, held.waitSeconds));
    logger.info('queue at its maxConcurrency; job delayed', { delay_s: delaySeconds });
    return { delaySeconds, job };
  }
  // Seeded by the job and the hold, so a redelivery computes the same delay.
  const attempt = nextHeldAttempt(job, held.waitSeconds, randomFromText(`${job.jid}#held#${job.custom?.held_count ?? 0}`));
  const delaySeconds = Math.min(MAX_SQS_DELAY_SECONDS, attempt.delaySeconds);
  logger.info('held back by its limits; job delayed', { limiter: held.limiter, delay_s: delaySeconds, held_count: attempt.heldCount });
  return { delaySeconds, job: attempt.job };
}

/**
 * An iterating job's slice that ended without finishing: sent back to its queue at once to go on
 * (entering it now, so its wait is measured from now, and without `expires_at`: it started in time),
 * or acknowledged when another delivery holds or finished its iteration. With no URL for its queue,
 * the record is handed back to SQS, and the redelivery resumes from the cursor just recorded.
 */
function iterationEnd(signal: IterationSignal, record: SQSRecord, job: Job, scope: RecordScope, logger: Logger, run: RunFacts): RecordOutcome {
  if (signal.kind !== 'continue') {
    logger.info('iteration held or finished by another delivery; this copy is acknowledged', { reason: signal.message });
    return { kind: 'duplicate', job };
  }
  const queueUrl = scope.queues.urlOf(job);
  if (queueUrl === undefined) return { kind: 'deferred', job };
  const { expires_at: _started, ...custom } = job.custom ?? {};
  const { at: _due, ...fields } = job;
  const again: Job = { ...fields, enqueued_at: new Date(scope.nowMs()).toISOString(), custom: { ...custom, slice: signal.slices } };
  return { kind: 'continued', message: jobMessage(record.messageId, queueUrl, again), job, run };
}

/** Whether `job` expired (its `custom.expires_at` passed), logged when it did. */
function isExpired(job: Job, scope: RecordScope, logger: Logger): boolean {
  const expiresAt = job.custom?.expires_at;
  if (expiresAt === undefined || Date.parse(expiresAt) > scope.nowMs()) return false;
  logger.info('job expired; dropped without running', { expires_at: expiresAt });
  return true;
}

/**
 * Whether a debounced job must not run: `'superseded'` when a later job of its key holds the key
 * (or none does: the key's job ran to success), `'deferred'` when the key's item cannot be read.
 * False for every other job, without a request.
 */
async function isSuperseded(job: Job, scope: RecordScope, logger: Logger): Promise<'superseded' | 'deferred' | false> {
  const debounce = job.custom?.debounce;
  if (debounce === undefined || scope.features === undefined) return false;
  try {
    if (await scope.features.debounce(job) === 'run') return false;
  } catch (error) {
    logger.warn('could not read the debounce item; handed back to SQS', { debounce_key: debounce.key, error: describeError(error).message });
    return 'deferred';
  }
  logger.info('superseded by a later job of its debounce key; acknowledged without running', { debounce_key: debounce.key });
  return 'superseded';
}

/** Where and when a run began. */
interface RunStart {
  readonly queue: string;
  readonly waitedMs: number;
  readonly startedMs: number;
}

/** The facts of a run, as it ends now. */
function runFacts({ queue, waitedMs, startedMs }: RunStart, scope: RecordScope): RunFacts {
  return { queue, waitedMs, durationMs: Math.max(0, scope.nowMs() - startedMs) };
}

/** `ctx.progress` of a job that is not tracked: nothing to record. */
const untracked: JobContext['progress'] = async () => undefined;

/** `ctx.once` of a worker made without its state-table features (a test's scope). */
const onceUnavailable: JobContext['once'] = () => Promise.reject(new HopperError('ctx.once needs the state table: this worker was made without it'));

/** How many times SQS has handed the record's message out (1 for a first delivery). */
function receiveCountOf(record: SQSRecord): number {
  const count = Number(record.attributes.ApproximateReceiveCount);
  return Number.isFinite(count) ? count : 1;
}

/** SQS's first receive of the record's message, when the record says. */
function firstReceived(record: SQSRecord): { firstReceivedAtMs?: number } {
  const ms = Number(record.attributes.ApproximateFirstReceiveTimestamp);
  return Number.isFinite(ms) && ms > 0 ? { firstReceivedAtMs: ms } : {};
}

/** Milliseconds between the moment the job became due on its queue (lib/job/due.ts) and now. */
function waitedMs(job: Job, record: SQSRecord, nowMs: number): number {
  const due = dueAtMs(job, Number(record.attributes.SentTimestamp)) ?? nowMs;
  return Math.max(0, nowMs - due);
}

/**
 * The job back on its queue with the failure recorded and SQS's delay, when its next attempt is due
 * within 15 minutes: what the retry function would send, without the trip through the retries queue.
 * A job of a batch still takes that trip (the retry function marks its failure in the batch), and so
 * does one due later (the retry set) or out of retries (the dead set).
 */
async function retryHere(
  record: SQSRecord, job: Job, error: EnvelopeError, queueUrl: string | undefined, scope: RecordScope, logger: Logger,
): Promise<{ message: OutgoingMessage; job: Job } | undefined> {
  if (queueUrl === undefined || job.custom?.bid !== undefined) return undefined;
  const now = new Date(scope.nowMs());
  const action = planFailure(job, error, now.getTime(), false, {
    now, queueUrls: { [job.queue]: queueUrl }, deadTtlDays: RETRY_DEFAULTS.deadTtlDays, defaultRetry: scope.defaultRetry,
  });
  if (action.kind !== 'enqueue') return undefined;
  let next: Job;
  try {
    next = await throughClientChain(action.job, 'retry', scope, logger);
  } catch (chainError) {
    // The failure envelope takes the retry function's way, which runs the chain again.
    logger.error('client middleware refused the retry; the failure goes to the retry function', { error: describeError(chainError).message });
    return undefined;
  }
  return { message: jobMessage(record.messageId, action.queueUrl, next, { delaySeconds: action.delaySeconds }), job: next };
}

/** `job` through the team's client chain, as the path `via` enqueues it (unchanged without a chain). */
function throughClientChain(job: Job, via: EnqueueVia, scope: RecordScope, logger: Logger): Promise<Job> {
  return hasClientChain(scope.middleware) ? runClientChain(scope.middleware, job, via, logger) : Promise.resolve(job);
}

/**
 * A job going back to its queue (a limiter's or the queue's wait, an iteration going on), through
 * the client chain; when the chain refuses, the record is handed back to SQS, which delivers it
 * again after its visibility timeout.
 */
async function requeue<Outcome extends Extract<RecordOutcome, { kind: 'rate_limited' | 'continued' }>>(
  record: SQSRecord, job: Job, scope: RecordScope, logger: Logger, outcome: Outcome,
): Promise<Outcome | Extract<RecordOutcome, { kind: 'deferred' }>> {
  if (!hasClientChain(scope.middleware)) return outcome;
  try {
    const sent = await throughClientChain(JSON.parse(outcome.message.body) as Job, 'requeue', scope, logger);
    return { ...outcome, message: jobMessage(outcome.message.key, outcome.message.queueUrl, sent, outcome.message.delaySeconds === undefined ? {} : { delaySeconds: outcome.message.delaySeconds }) };
  } catch (error) {
    logger.error('client middleware refused to send the job back; record handed back to SQS', { message_id: record.messageId, error: describeError(error).message });
    return { kind: 'deferred', job };
  }
}

function fail(
  record: SQSRecord,
  scope: RecordScope,
  input: { queue: string; job?: Job; raw?: string; error: unknown; unrecoverable: boolean },
): Extract<RecordOutcome, { kind: 'failed' }> {
  const envelope = failureEnvelope({ ...input, messageId: record.messageId, now: new Date(scope.nowMs()) });
  const body = JSON.stringify(envelope);
  // The envelope goes with its job's group: one tenant's failures do not hold back the others' retries.
  const message = input.job === undefined ? { key: record.messageId, queueUrl: scope.retriesQueueUrl, body } : jobMessage(record.messageId, scope.retriesQueueUrl, input.job, { body });
  return { kind: 'failed', message };
}

/** `{ flow }` for a flow step's context, else nothing. */
function flowOf(job: Job, batch: BatchContext | undefined, features: WorkerFeatures | undefined): { readonly flow?: FlowContext } {
  // A step is in its batch only when the worker has its features (batch contexts come from them).
  if (features === undefined) return {};
  const flow = flowContext(job, batch, (jid) => features.keptResult(jid));
  return flow === undefined ? {} : { flow };
}
