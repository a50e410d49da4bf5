/**
 * The job wire format (Faktory-compatible) and its validation. `docs/job.schema.json` is the
 * normative description; this module is the one place that applies it.
 */
import { randomBytes } from 'node:crypto';
import { InvalidJobError } from '../errors/base.js';
import { validateDebounce, type DebounceSpec } from './debounce.js';
import { validateThrottle, type JobThrottle } from './throttle.js';

/** Defaults a job gets when its producer leaves a field out. */
export const JOB_DEFAULTS = {
  queue: 'default',
  retry: 25,
} as const;

/** Bounds the validator enforces (kept here so docs, schema and code agree). */
export const JOB_LIMITS = {
  jidMaxLength: 128,
  jobtypeMaxLength: 256,
  queueNamePattern: /^[A-Za-z0-9_-]{1,64}$/,
  jidPattern: /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
  maxRetry: 1000,
  /** SQS visibility timeout can be at most 12 hours. */
  maxReserveForSeconds: 43_200,
  /**
   * Largest job, as UTF-8 JSON. A quarter of SQS's 1 MiB, so that every place a job can be fits it:
   * the scheduled, retry and dead sets (DynamoDB items of at most 400 KB) and the failure envelope
   * (the job plus its error) on the retries queue.
   */
  maxJobBytes: 262_144,
  /** Most elements of `args` itself. */
  argsMaxLength: 1000,
  /** Deepest nesting of arrays and objects in `args` (`args` itself is level 1). */
  argsMaxDepth: 32,
} as const;

/** What Hopper keeps of a failure (capped as Faktory does). */
export const FAILURE_CAPS = {
  errtype: 100,
  message: 1000,
  backtraceLines: 50,
} as const;

/** Hopper's own optional fields, kept under `custom` as Faktory asks of extensions. */
export interface JobCustom {
  /** Batch id when the job belongs to a batch. */
  readonly bid?: string;
  /** Seconds a unique lock on (jobtype, args, queue) holds. */
  readonly unique_for?: number;
  /** When the unique lock is released. @default 'success' */
  readonly unique_until?: 'success' | 'start';
  /** ISO-8601 time after which the job is dropped instead of run. */
  readonly expires_at?: string;
  /** Tenant the job was enqueued for (set by the API from the caller's identity). */
  readonly tenant?: string;
  /** At most `limit` of the jobs with this key start per `per` (./throttle.ts). */
  readonly throttle?: JobThrottle;
  /** Slices an iterating job has run so far, on the message that continues it (lib/worker/iterate.ts). */
  readonly slice?: number;
  /** Of the jobs enqueued with this key, the last within `period` seconds runs, once (lib/debounce). */
  readonly debounce?: DebounceSpec;
  readonly [key: string]: unknown;
}

/** The record of the latest failure of a job, as retries and the dead set show it. */
export interface JobFailure {
  /** How many times the job has failed before this failure (0 on the first failure). */
  readonly retry_count: number;
  readonly failed_at: string;
  /** When the next attempt is due; absent when the job went to the dead set. */
  readonly next_at?: string;
  readonly message: string;
  readonly errtype: string;
  readonly backtrace?: readonly string[];
  /** `enqueued_at` of the job's first attempt: the cohort it is counted in (lib/stats/cohort.ts). */
  readonly first_enqueued_at?: string;
}

/** A job as it travels on the wire (the body of one SQS message). */
export interface Job {
  readonly jid: string;
  readonly jobtype: string;
  readonly args: readonly unknown[];
  readonly queue: string;
  readonly created_at: string;
  readonly enqueued_at?: string;
  readonly at?: string;
  readonly retry: number;
  readonly reserve_for?: number;
  readonly custom?: JobCustom;
  readonly failure?: JobFailure;
}

/** What a producer must give: `jobtype` and `args`; everything else has a default. */
export interface JobInput {
  readonly jobtype: string;
  readonly args?: readonly unknown[];
  readonly jid?: string;
  readonly queue?: string;
  readonly at?: string | Date;
  readonly retry?: number;
  /**
   * Seconds the job's message stays reserved (invisible to other workers) while it runs, 1 to
   * 43,200; the worker renews it while the handler runs. SQS ends every reservation at 12 hours
   * from the message's first receive at the latest, and the worker caps its requests so. A
   * reservation longer than the worker can live (its Lambda timeout, at most 15 minutes) buys
   * nothing: when the worker crashes, it only hides the job longer before it is retried.
   * @default - the queue's visibility timeout
   */
  readonly reserve_for?: number;
  readonly custom?: JobCustom;
  readonly created_at?: string;
}

/** A new random job id: 24 hex characters, as Sidekiq makes them. */
export function newJid(): string {
  return randomBytes(12).toString('hex');
}

export interface NormalizeOptions {
  /** The clock, for `created_at`. */
  readonly now: Date;
  /** The jid to use when the input has none (the worker passes the SQS message id). */
  readonly defaultJid?: string;
  /** The queue to use when the input has none. @default 'default' */
  readonly defaultQueue?: string;
  /** The retry count to use when the input has none (`HOPPER_DEFAULT_RETRY`). @default 25 */
  readonly defaultRetry?: number;
}

/**
 * Validates anything that claims to be a job and fills in its defaults.
 *
 * @throws InvalidJobError naming the first field that is wrong and what was expected.
 * @example
 * normalizeJob({ jobtype: 'SendEmail', args: ['a@example.com'] }, { now: new Date() })
 */
export function normalizeJob(input: unknown, options: NormalizeOptions): Job {
  if (!isRecord(input)) throw new InvalidJobError('job', 'a JSON object', describe(input));
  const jobtype = input.jobtype;
  if (typeof jobtype !== 'string' || jobtype.length === 0 || jobtype.length > JOB_LIMITS.jobtypeMaxLength) {
    throw new InvalidJobError('jobtype', `a string of 1 to ${JOB_LIMITS.jobtypeMaxLength} characters`, describe(jobtype));
  }
  const args = input.args ?? [];
  if (!Array.isArray(args)) throw new InvalidJobError('args', 'an array', describe(args));
  if (args.length > JOB_LIMITS.argsMaxLength) throw new InvalidJobError('args', `an array of at most ${JOB_LIMITS.argsMaxLength} elements`, `an array of ${args.length}`);
  const tooDeep = pathDeeperThan(args, JOB_LIMITS.argsMaxDepth);
  if (tooDeep !== undefined) throw new InvalidJobError(`args${tooDeep}`, `JSON nested at most ${JOB_LIMITS.argsMaxDepth} levels deep in args`, 'deeper nesting');

  const jid = input.jid ?? options.defaultJid ?? newJid();
  if (typeof jid !== 'string' || jid.length > JOB_LIMITS.jidMaxLength || !JOB_LIMITS.jidPattern.test(jid)) {
    throw new InvalidJobError('jid', `a string of 1 to ${JOB_LIMITS.jidMaxLength} letters, digits, '.', '_', ':' or '-'`, describe(jid));
  }
  const queue = input.queue ?? options.defaultQueue ?? JOB_DEFAULTS.queue;
  if (typeof queue !== 'string' || !JOB_LIMITS.queueNamePattern.test(queue)) {
    throw new InvalidJobError('queue', 'a queue name of 1 to 64 letters, digits, - or _', describe(queue));
  }
  const retry = input.retry ?? options.defaultRetry ?? JOB_DEFAULTS.retry;
  if (!Number.isInteger(retry) || typeof retry !== 'number' || retry < 0 || retry > JOB_LIMITS.maxRetry) {
    throw new InvalidJobError('retry', `an integer from 0 to ${JOB_LIMITS.maxRetry}`, describe(retry));
  }
  const reserveFor = input.reserve_for;
  if (reserveFor !== undefined && (typeof reserveFor !== 'number' || !Number.isInteger(reserveFor) || reserveFor < 1 || reserveFor > JOB_LIMITS.maxReserveForSeconds)) {
    throw new InvalidJobError('reserve_for', `an integer number of seconds from 1 to ${JOB_LIMITS.maxReserveForSeconds}`, describe(reserveFor));
  }
  const createdAt = input.created_at ?? options.now.toISOString();
  const custom = input.custom === undefined ? undefined : validateCustom(input.custom);
  const failure = input.failure === undefined ? undefined : validateFailure(input.failure);
  const at = input.at instanceof Date ? input.at.toISOString() : input.at;

  const job: Job = {
    jid,
    jobtype,
    args,
    queue,
    created_at: validTime('created_at', createdAt),
    ...(input.enqueued_at === undefined ? {} : { enqueued_at: validTime('enqueued_at', input.enqueued_at) }),
    ...(at === undefined ? {} : { at: validTime('at', at) }),
    retry,
    ...(reserveFor === undefined ? {} : { reserve_for: reserveFor }),
    ...(custom === undefined ? {} : { custom }),
    ...(failure === undefined ? {} : { failure }),
  };
  return job;
}

/**
 * Parses the body of an SQS message into a job.
 *
 * @throws InvalidJobError (`field: 'body'` when the body is not JSON).
 */
export function parseJob(body: string, options: NormalizeOptions): Job {
  const size = byteLength(body);
  if (size > JOB_LIMITS.maxJobBytes) throw new InvalidJobError('body', `a job of at most ${JOB_LIMITS.maxJobBytes} bytes`, `${size} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidJobError('body', 'a JSON object', 'text that is not JSON');
  }
  return normalizeJob(parsed, options);
}

/** An array or object met while walking args, and how it was reached. */
interface Nested {
  readonly value: object;
  readonly depth: number;
  readonly parent?: Nested;
  readonly key?: string | number;
}

/**
 * The path (`[0].a[2]`) to the first array or object in `value` nested deeper than `maxDepth`
 * levels (`value` itself is level 1), or undefined. Iterative, so that no nesting overflows the
 * stack; the path is spelled only for the place refused, from the links back to the top.
 */
function pathDeeperThan(value: unknown, maxDepth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const stack: Nested[] = [{ value, depth: 1 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.depth > maxDepth) return pathTo(next);
    const entries: Iterable<[string | number, unknown]> = Array.isArray(next.value) ? next.value.entries() : Object.entries(next.value);
    for (const [key, item] of entries) {
      if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: next.depth + 1, parent: next, key });
    }
  }
  return undefined;
}

/** `[0].a["b c"]` for the keys from the top down to `nested`, no longer than about 200 characters. */
function pathTo(nested: Nested): string {
  const keys: (string | number)[] = [];
  for (let at: Nested | undefined = nested; at?.key !== undefined; at = at.parent) keys.unshift(at.key);
  let path = '';
  for (const key of keys) {
    if (path.length > 200) break;
    path += typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return path;
}

/** Serializes a job for the wire. */
export function serializeJob(job: Job): string {
  return JSON.stringify(job);
}

/** The UTF-8 size of a string, as SQS counts message size. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Builds the capped failure record of `error` (error type, message and backtrace). The error type
 * names the error's class, as Sidekiq's does: a `name` the error or its class sets wins (Hopper's
 * errors set one, because minifiers rename classes); otherwise the class's own name, so that a
 * team's `class CardDeclined extends Error {}` is recorded as `CardDeclined`, not `Error`.
 *
 * @example
 * describeError(new (class CardDeclined extends Error {})('declined')).errtype // 'CardDeclined'
 */
export function describeError(error: unknown): { errtype: string; message: string; backtrace: string[] } {
  if (error instanceof Error) {
    const stack = (error.stack ?? '').split('\n').slice(1).map((line) => line.trim()).filter((line) => line.length > 0);
    return {
      errtype: cap(errorTypeOf(error), FAILURE_CAPS.errtype),
      message: cap(error.message, FAILURE_CAPS.message),
      backtrace: stack.slice(0, FAILURE_CAPS.backtraceLines),
    };
  }
  return { errtype: 'Error', message: cap(safeString(error), FAILURE_CAPS.message), backtrace: [] };
}

/**
 * The class name of `error`: its `name` when set on the error itself (`this.name = …` in a
 * constructor, as Hopper's errors and most libraries do) or on its class's prototype; else the
 * class's name, when the `name` it has is only inherited (from `Error.prototype`, or from a parent
 * class's prototype).
 */
function errorTypeOf(error: Error): string {
  const own = Object.hasOwn(error, 'name');
  const prototype: unknown = Object.getPrototypeOf(error);
  const setByClass = typeof prototype === 'object' && prototype !== null && Object.hasOwn(prototype, 'name');
  const className = typeof prototype === 'object' && prototype !== null && typeof prototype.constructor === 'function' ? prototype.constructor.name : '';
  const named = typeof error.name === 'string' ? error.name : '';
  if (own || setByClass || className === '') return named || 'Error';
  return className;
}

/** Cuts `text` to at most `max` characters, marking the cut. */
export function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function validateCustom(custom: unknown): JobCustom {
  if (!isRecord(custom)) throw new InvalidJobError('custom', 'a JSON object', describe(custom));
  const { bid, unique_for: uniqueFor, unique_until: uniqueUntil, expires_at: expiresAt, tenant, debounce } = custom;
  if (bid !== undefined && (typeof bid !== 'string' || bid.length === 0)) {
    throw new InvalidJobError('custom.bid', 'a non-empty string', describe(bid));
  }
  if (uniqueFor !== undefined && (typeof uniqueFor !== 'number' || !Number.isInteger(uniqueFor) || uniqueFor < 1)) {
    throw new InvalidJobError('custom.unique_for', 'a positive integer number of seconds', describe(uniqueFor));
  }
  if (uniqueUntil !== undefined && uniqueUntil !== 'success' && uniqueUntil !== 'start') {
    throw new InvalidJobError('custom.unique_until', "'success' or 'start'", describe(uniqueUntil));
  }
  if (expiresAt !== undefined) validTime('custom.expires_at', expiresAt);
  if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
    throw new InvalidJobError('custom.tenant', 'a non-empty string', describe(tenant));
  }
  if (debounce !== undefined) validateDebounce(debounce);
  validateThrottle(custom.throttle, describe);
  return custom;
}

function validateFailure(failure: unknown): JobFailure {
  if (!isRecord(failure)) throw new InvalidJobError('failure', 'a JSON object', describe(failure));
  const retryCount = failure.retry_count;
  if (typeof retryCount !== 'number' || !Number.isInteger(retryCount) || retryCount < 0) {
    throw new InvalidJobError('failure.retry_count', 'a non-negative integer', describe(retryCount));
  }
  const backtrace = failure.backtrace;
  if (backtrace !== undefined && (!Array.isArray(backtrace) || !backtrace.every((line) => typeof line === 'string'))) {
    throw new InvalidJobError('failure.backtrace', 'an array of strings', describe(backtrace));
  }
  return {
    retry_count: retryCount,
    failed_at: validTime('failure.failed_at', failure.failed_at),
    ...(failure.next_at === undefined ? {} : { next_at: validTime('failure.next_at', failure.next_at) }),
    message: cap(typeof failure.message === 'string' ? failure.message : '', FAILURE_CAPS.message),
    errtype: cap(typeof failure.errtype === 'string' ? failure.errtype : 'Error', FAILURE_CAPS.errtype),
    ...(backtrace === undefined ? {} : { backtrace: backtrace.slice(0, FAILURE_CAPS.backtraceLines) }),
    ...(failure.first_enqueued_at === undefined ? {} : { first_enqueued_at: validTime('failure.first_enqueued_at', failure.first_enqueued_at) }),
  };
}

function validTime(field: string, value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new InvalidJobError(field, 'an ISO-8601 date-time string', describe(value));
  }
  return value;
}

/** True for a plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of a value for error messages, never the whole value. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
