/**
 * Middleware: a team's code that every enqueue and every job run goes through, and lifecycle hooks
 * that Hopper's own functions call. One rule: every path runs the same chain.
 *
 * - **Client middleware** `(job, ctx) => job` runs, in order, on every enqueue Hopper performs:
 *   `Client` (and batch adds), the API, a failed job's next attempt (the worker's or the retry
 *   function's), a job sent back by a limiter or an iteration (`requeue`), the scheduler's moves, a
 *   run-now from a set, a retry from the dead set, cron ticks, batch callbacks and redrive.
 *   `ctx.via` says which. It gives back the job to send (the same or a changed copy; `jid` and
 *   `queue` stay as they are); a throw refuses the enqueue: a producer gets a `MiddlewareError`,
 *   and Hopper's own functions keep the job where it was and try again, as for any failed send.
 * - **Server middleware** `(job, ctx, next) => value` runs around every job in the worker; the
 *   value is the handler's unless a middleware returns another. Hopper's own steps are named
 *   entries that can stand anywhere in the list: `'expiry'` (drops an expired job), `'unique'`
 *   (releases a `unique_until: 'start'` lock) and `'limiter'` (waits for the queue's
 *   `maxConcurrency` lease). Steps not named run first, in that order.
 * - **Hooks** run in the function that made the move, after it was written: `onRetry` (a failed
 *   job's next attempt was enqueued), `onDead` (moved to the dead set), `onExpired` (dropped
 *   unrun), `onBatchSettled` (a batch completed or succeeded). A hook that throws is logged and
 *   changes nothing; a move retried after a crash may call its hook again.
 *
 * This module imports no AWS SDK and nothing of the worker: Hopper's functions load it with the
 * team's middleware module (./load.ts).
 */
import { InvalidMiddlewareError, MiddlewareError } from '../errors/middleware.js';
import { byteLength, describeError, isRecord, JOB_LIMITS, normalizeJob, serializeJob, type Job } from '../job/model.js';
import { lockKeyOf, uniqueSpecOf } from '../unique/lock.js';
import { CALLBACK_FIELD, type BatchCallbackStatus } from '../batch/callbacks.js';
import type { Logger } from '../observability/logger.js';

/** The paths a job is enqueued by, as `ctx.via` names them. */
export const ENQUEUE_VIAS = [
  'client', 'api', 'retry', 'requeue', 'scheduler', 'run-now', 'dead-retry', 'cron', 'callback', 'redrive',
] as const;

/** One of {@link ENQUEUE_VIAS}. */
export type EnqueueVia = (typeof ENQUEUE_VIAS)[number];

/** What a client middleware is told besides the job. */
export interface EnqueueContext {
  /** The path that enqueues the job. */
  readonly via: EnqueueVia;
  /** The enqueuing function's logger (lines carry the job's fields). */
  readonly logger: Logger;
}

/**
 * Runs on every enqueue; gives back the job to send. `jid` and `queue` must stay as they are.
 *
 * @example
 * const stampTenant: ClientMiddleware = (job) => ({ ...job, custom: { ...job.custom, tenant: job.custom?.tenant ?? currentTenant() } });
 */
export type ClientMiddleware = (job: Job, ctx: EnqueueContext) => Job | Promise<Job>;

/** Hopper's own steps of a job's run, as server middleware entries. */
export const HOPPER_STEPS = ['expiry', 'unique', 'limiter'] as const;

/** One of {@link HOPPER_STEPS}. */
export type HopperStep = (typeof HOPPER_STEPS)[number];

/**
 * Runs around a job: call `next()` to go on (it resolves to the handler's value) and return what
 * the job's result should be. `next(job)` hands on a changed job (the same `jid`): the handler gets
 * its `args`. `Ctx` is the handler's context (`JobContext` in a worker).
 */
export type ServerMiddleware<Ctx = unknown> = (job: Job, ctx: Ctx, next: (job?: Job) => Promise<unknown>) => unknown;

/** What a dead job's hook is told: the job (absent when the body was not a job) and why. */
export interface DeadJob {
  readonly job?: Job;
  /** The body as received, when it was not a job. */
  readonly raw?: string;
  readonly queue?: string;
  readonly errtype: string;
  readonly message: string;
}

/**
 * What `onDead` is told of a dead-set entry: its job, or the raw body of a message that was not
 * one, and the reason it was buried (else the job's last failure).
 */
export function deadJobOf(entry: ({ readonly job: Job } | { readonly raw: string; readonly queue?: string }) & { readonly reason?: { readonly errtype: string; readonly message: string } }): DeadJob {
  const job = 'job' in entry ? entry.job : undefined;
  const reason = { errtype: entry.reason?.errtype ?? job?.failure?.errtype ?? 'Unknown', message: entry.reason?.message ?? job?.failure?.message ?? '' };
  return 'job' in entry
    ? { job: entry.job, queue: entry.job.queue, ...reason }
    : { raw: entry.raw, ...(entry.queue === undefined ? {} : { queue: entry.queue }), ...reason };
}

/** What `onBatchSettled` is told: the status a callback job gets, for `complete` or `success`. */
export type SettledBatch = BatchCallbackStatus & { readonly event: 'complete' | 'success' };

/** Hooks Hopper's functions call after a move; a hook's throw is logged and changes nothing. */
export interface LifecycleHooks {
  /** A failed job's next attempt was enqueued (its `failure` says when, and why it failed). */
  readonly onRetry?: (job: Job, ctx: { readonly logger: Logger }) => unknown;
  /** A job was moved to the dead set (retries exhausted, or not retryable). */
  readonly onDead?: (dead: DeadJob, ctx: { readonly logger: Logger }) => unknown;
  /** A job was dropped without running: its `custom.expires_at` had passed. */
  readonly onExpired?: (job: Job, ctx: { readonly logger: Logger }) => unknown;
  /** A batch completed or succeeded (after its callbacks, if any, were enqueued). */
  readonly onBatchSettled?: (batch: SettledBatch, ctx: { readonly logger: Logger }) => unknown;
}

/** A team's middleware: what `defineMiddleware` takes and gives back. */
export interface Middleware<Ctx = unknown> {
  readonly client?: readonly ClientMiddleware[];
  readonly server?: readonly (ServerMiddleware<Ctx> | HopperStep)[];
  readonly hooks?: LifecycleHooks;
}

/** Middleware whatever its server context: what `Client` and Hopper's functions take. */
export type AnyMiddleware = Middleware<never>;

/** The name of a hook of {@link LifecycleHooks}. */
export type HookName = keyof LifecycleHooks;

const HOOK_NAMES: readonly HookName[] = ['onRetry', 'onDead', 'onExpired', 'onBatchSettled'];

/**
 * Checks a middleware declaration and gives it back: every client entry a function, every server
 * entry a function or one of Hopper's steps (each at most once), every hook a function.
 *
 * @throws InvalidMiddlewareError naming the entry at fault and what was expected.
 */
export function checkMiddleware<Ctx>(middleware: Middleware<Ctx>): Middleware<Ctx> {
  if (!isRecord(middleware)) throw new InvalidMiddlewareError(`middleware must be an object with client, server and hooks, but ${typeof middleware} was given`);
  for (const key of Object.keys(middleware)) {
    if (key !== 'client' && key !== 'server' && key !== 'hooks') throw new InvalidMiddlewareError(`middleware.${key} is not an option: expected client, server or hooks`);
  }
  const { client, server, hooks } = middleware;
  if (client !== undefined) {
    if (!Array.isArray(client)) throw new InvalidMiddlewareError('middleware.client must be an array of functions');
    client.forEach((entry, index) => {
      if (typeof entry !== 'function') throw new InvalidMiddlewareError(`middleware.client[${index}] must be a function (job, ctx) => job, but ${typeof entry} was given`);
    });
  }
  if (server !== undefined) {
    if (!Array.isArray(server)) throw new InvalidMiddlewareError('middleware.server must be an array of functions and step names');
    const seen = new Set<string>();
    server.forEach((entry: unknown, index) => {
      if (typeof entry === 'function') return;
      if (typeof entry !== 'string' || !(HOPPER_STEPS as readonly string[]).includes(entry)) {
        throw new InvalidMiddlewareError(`middleware.server[${index}] must be a function (job, ctx, next) or one of ${HOPPER_STEPS.map((step) => `'${step}'`).join(', ')}, but ${JSON.stringify(entry) ?? typeof entry} was given`);
      }
      if (seen.has(entry)) throw new InvalidMiddlewareError(`middleware.server[${index}]: step '${entry}' is named twice`);
      seen.add(entry);
    });
  }
  if (hooks !== undefined) {
    if (!isRecord(hooks)) throw new InvalidMiddlewareError('middleware.hooks must be an object of functions');
    for (const [name, hook] of Object.entries(hooks)) {
      if (!(HOOK_NAMES as readonly string[]).includes(name)) throw new InvalidMiddlewareError(`middleware.hooks.${name} is not a hook: expected one of ${HOOK_NAMES.join(', ')}`);
      if (hook !== undefined && typeof hook !== 'function') throw new InvalidMiddlewareError(`middleware.hooks.${name} must be a function, but ${typeof hook} was given`);
    }
  }
  return middleware;
}

/**
 * The server entries in the order they run: the steps not named first (in {@link HOPPER_STEPS}
 * order), then the list as given.
 */
export function serverOrder<Ctx>(middleware: Middleware<Ctx> | undefined): (ServerMiddleware<Ctx> | HopperStep)[] {
  const given = middleware?.server ?? [];
  const missing = HOPPER_STEPS.filter((step) => !given.includes(step));
  return [...missing, ...given];
}

/**
 * Runs the client chain of `middleware` over `job` for an enqueue `via` a path. Each entry's result
 * is checked as a job (defaults are not filled in again) with the same `jid` and `queue`.
 *
 * @throws MiddlewareError naming the entry that threw or gave back something else.
 */
export async function runClientChain(middleware: AnyMiddleware | undefined, job: Job, via: EnqueueVia, logger: Logger): Promise<Job> {
  const entries = middleware?.client ?? [];
  let current = job;
  for (const [index, entry] of entries.entries()) {
    const name = entryName(entry, `client[${index}]`);
    let result: unknown;
    try {
      result = await entry(current, { via, logger });
    } catch (error) {
      throw new MiddlewareError(name, via, `threw ${describeError(error).errtype}: ${describeError(error).message}`, { cause: error });
    }
    let next: Job;
    try {
      next = normalizeJob(result, { now: new Date(Date.parse(current.created_at)), defaultQueue: current.queue, defaultRetry: current.retry });
    } catch (error) {
      throw new MiddlewareError(name, via, `gave back something that is not a job (${describeError(error).message})`, { cause: error });
    }
    const changed = fixedFieldChanged(current, next);
    if (changed !== undefined) throw new MiddlewareError(name, via, `changed the job's ${changed}; a middleware may not`);
    current = next;
  }
  const size = byteLength(serializeJob(current));
  if (size > JOB_LIMITS.maxJobBytes) throw new MiddlewareError('the chain', via, `made job ${current.jid} ${size} bytes, over the limit of ${JOB_LIMITS.maxJobBytes} bytes`);
  return current;
}

/**
 * What a middleware may not change, because Hopper keys something by it that may exist before the
 * chain runs (a retry, a scheduler move): the jid (claims, states), the queue, the jobtype, the batch
 * and callback markers, the unique options, and a unique job's arguments (its lock is a digest of
 * jobtype, queue and args). The first one changed, as the error says it, or undefined.
 */
function fixedFieldChanged(before: Job, after: Job): string | undefined {
  if (after.jid !== before.jid) return `jid from ${before.jid} to ${after.jid}`;
  if (after.queue !== before.queue) return `queue from ${before.queue} to ${after.queue}`;
  if (after.jobtype !== before.jobtype) return `jobtype from ${before.jobtype} to ${after.jobtype}`;
  for (const key of FIXED_CUSTOM) {
    if (JSON.stringify(after.custom?.[key]) !== JSON.stringify(before.custom?.[key])) return `custom.${key}`;
  }
  if (uniqueSpecOf(before) !== undefined && lockKeyOf(after).pk !== lockKeyOf(before).pk) return 'args (a unique job\'s lock is keyed by them)';
  return undefined;
}

/** The `custom` fields a middleware may not change (see {@link fixedFieldChanged}). */
const FIXED_CUSTOM = ['bid', CALLBACK_FIELD, 'unique_for', 'unique_until'] as const;

/** Calls hook `name` if the middleware has it; a throw is logged (ERROR) and swallowed. */
export async function callHook<Name extends HookName>(
  middleware: AnyMiddleware | undefined,
  name: Name,
  subject: Parameters<NonNullable<LifecycleHooks[Name]>>[0],
  logger: Logger,
): Promise<void> {
  const hook = middleware?.hooks?.[name] as ((subject: unknown, ctx: { logger: Logger }) => unknown) | undefined;
  if (hook === undefined) return;
  try {
    await hook(subject, { logger });
  } catch (error) {
    const described = describeError(error);
    logger.error(`hook ${name} threw; ignored`, { errtype: described.errtype, error: described.message, backtrace: described.backtrace });
  }
}

/** Whether there is middleware with a client chain (paths skip the work when there is none). */
export function hasClientChain(middleware: AnyMiddleware | undefined): middleware is AnyMiddleware {
  return (middleware?.client?.length ?? 0) > 0;
}

/** A middleware entry as errors name it: its function name, if any, and its position. */
export function entryName(entry: unknown, position: string): string {
  const name: unknown = typeof entry === 'function' ? entry.name : undefined;
  return typeof name === 'string' && name !== '' ? `${name} (${position})` : position;
}
