/**
 * Built-in middleware a team adds to its declaration (lib/middleware/chain.ts). Each comes as a pair:
 * the client part writes something into the job and the server part reads it back, so both parts
 * go in the lists, in every module that enqueues or runs the jobs.
 *
 * - {@link traceContext} carries a W3C trace context in `custom.trace`, so that a job, the jobs it
 *   enqueues and the calls it makes downstream share one trace id.
 * - {@link compressArgs} gzips large arguments, so that a job stays within the job size limit
 *   (`JOB_LIMITS.maxJobBytes`) and the sets' item size.
 *
 * Hopper runs the client chain again on every re-enqueue (retries, the scheduler's moves), so both
 * client parts leave a job they already handled as it is.
 *
 * This module imports no AWS SDK and nothing of the worker: Hopper's functions load it with the
 * team's middleware module.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { UnrecoverableJobError } from '../errors/base.js';
import { InvalidMiddlewareError } from '../errors/middleware.js';
import { byteLength, cap, describeError, isRecord, type Job } from '../job/model.js';
import type { ClientMiddleware, ServerMiddleware } from './chain.js';

/** A client and a server part that work together; list both. */
export interface MiddlewarePair {
  readonly client: ClientMiddleware;
  readonly server: ServerMiddleware<unknown>;
}

/** The trace of the job running now, as {@link currentTrace} gives it. */
export interface RunningTrace {
  /** 32 lowercase hex digits, shared by every job and call of the trace. */
  readonly traceId: string;
  /** 16 lowercase hex digits, made for this run of the job. */
  readonly spanId: string;
  /** The `traceparent` header to send downstream: the trace id with this run's span id as parent. */
  readonly traceparent: string;
}

/** Version 00 of the W3C Trace Context `traceparent` header: version, trace id, parent id, flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Flags of a trace Hopper starts: sampled, so that a collector keeps what it is sent. */
const SAMPLED = '01';

interface TraceRun {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: string;
}

// One store for the module, not one per traceContext(): currentTrace() must see every run. Made on
// first use, so that importing the worker's entry point creates nothing for a team that has no trace.
let store: AsyncLocalStorage<TraceRun> | undefined;
const runs = (): AsyncLocalStorage<TraceRun> => (store ??= new AsyncLocalStorage<TraceRun>());

/**
 * W3C trace context for jobs, carried in the job as `custom.trace` (a `traceparent` value).
 *
 * The client part keeps a valid `custom.trace` (a retry stays in its trace). Otherwise, when the job
 * is enqueued while another job runs (in the server part's async context), it joins that run's
 * trace, with the run's span as parent; else it starts a new trace. A `custom.trace` that is not a
 * valid `traceparent` is replaced, with a warning. The server part gives each run a new span id
 * within the job's trace (a new trace when the job carries none) and runs the rest of the chain in
 * it: {@link currentTrace} reads it.
 *
 * @example
 * const trace = traceContext();
 * export default defineMiddleware({ client: [trace.client], server: [trace.server] });
 */
export function traceContext(): MiddlewarePair {
  const client: ClientMiddleware = function traceContextClient(job, ctx) {
    const given = job.custom?.trace;
    if (given !== undefined) {
      if (parseTraceparent(given) !== undefined) return job;
      ctx.logger.warn('custom.trace is not a valid W3C traceparent; replaced', {
        field: 'custom.trace',
        received: typeof given === 'string' ? cap(given, 100) : typeof given,
      });
    }
    const run = runs().getStore();
    const trace = run === undefined ? formatTraceparent(newId(16), newId(8), SAMPLED) : formatTraceparent(run.traceId, run.spanId, run.flags);
    return { ...job, custom: { ...job.custom, trace } };
  };
  const server: ServerMiddleware<unknown> = function traceContextServer(job, _ctx, next) {
    const parent = parseTraceparent(job.custom?.trace);
    const run: TraceRun = { traceId: parent?.traceId ?? newId(16), spanId: newId(8), flags: parent?.flags ?? SAMPLED };
    return runs().run(run, () => next());
  };
  return { client, server };
}

/**
 * The trace of the job running now (inside {@link traceContext}'s server part), or undefined
 * outside a run. For a team's own log lines and the `traceparent` header of calls it makes.
 *
 * @example
 * await fetch(url, { headers: { traceparent: currentTrace()?.traceparent ?? '' } });
 */
export function currentTrace(): RunningTrace | undefined {
  const run = runs().getStore();
  if (run === undefined) return undefined;
  return { traceId: run.traceId, spanId: run.spanId, traceparent: formatTraceparent(run.traceId, run.spanId, run.flags) };
}

/** The parts of a valid version-00 `traceparent`, or undefined (all-zero ids are invalid). */
function parseTraceparent(value: unknown): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const [, traceId, parentId, flags] = match;
  if (traceId === undefined || parentId === undefined || flags === undefined) return undefined;
  if (allZero(traceId) || allZero(parentId)) return undefined;
  return { traceId, parentId, flags };
}

function formatTraceparent(traceId: string, parentId: string, flags: string): string {
  return `00-${traceId}-${parentId}-${flags}`;
}

/** A random id of `bytes` bytes in lowercase hex; never all zeros, which the spec forbids. */
function newId(bytes: number): string {
  for (;;) {
    const id = randomBytes(bytes).toString('hex');
    if (!allZero(id)) return id;
  }
}

function allZero(hex: string): boolean {
  return /^0+$/.test(hex);
}

/** The field of `args[0]` that holds compressed arguments: `[{ $hopper_gzip: '<base64 gzip>' }]`. */
export const GZIP_ARGS_MARKER = '$hopper_gzip';

/** Defaults of {@link compressArgs}. */
export const COMPRESS_ARGS_DEFAULTS = {
  aboveBytes: 16_384,
  /**
   * Most bytes a compressed body may expand to: a small hostile body (a gzip bomb) must not take
   * the worker's memory. Gzip expands at most about 1,000 times, and a job is at most 256 KiB.
   */
  maxDecodedBytes: 64 * 1_048_576,
} as const;

/** Options of {@link compressArgs}. */
export interface CompressArgsOptions {
  /**
   * Arguments whose JSON is longer than this many bytes (UTF-8) are compressed.
   * @default 16384
   */
  readonly aboveBytes?: number;
}

/**
 * Gzips a job's arguments when their JSON is longer than `aboveBytes`: the client part replaces
 * `args` by `[{ $hopper_gzip: '<base64>' }]` when that is smaller, and the server part hands the
 * rest of the chain, and the handler, the original arguments. Arguments already compressed are
 * left as they are, and so are a unique job's (its lock is keyed by them, and a middleware may not
 * change them). `ctx.job.args` stays as it was sent: the handler's own `args` are the original ones.
 *
 * List the server part before any server middleware that reads `args`.
 *
 * @throws InvalidMiddlewareError when `aboveBytes` is not an integer ≥ 0.
 * @example
 * const compress = compressArgs({ aboveBytes: 32_768 });
 * export default defineMiddleware({ client: [compress.client], server: [compress.server] });
 */
export function compressArgs(options: CompressArgsOptions = {}): MiddlewarePair {
  const aboveBytes: unknown = options.aboveBytes ?? COMPRESS_ARGS_DEFAULTS.aboveBytes;
  if (typeof aboveBytes !== 'number' || !Number.isInteger(aboveBytes) || aboveBytes < 0) {
    throw new InvalidMiddlewareError(`compressArgs: aboveBytes must be an integer number of bytes ≥ 0, but ${describeValue(aboveBytes)} was provided`);
  }
  const client: ClientMiddleware = function compressArgsClient(job) {
    if (compressedBody(job.args) !== undefined || job.custom?.unique_for !== undefined) return job;
    const json = JSON.stringify(job.args);
    const size = byteLength(json);
    if (size <= aboveBytes) return job;
    const args = [{ [GZIP_ARGS_MARKER]: gzipSync(Buffer.from(json, 'utf8')).toString('base64') }];
    return byteLength(JSON.stringify(args)) < size ? { ...job, args } : job;
  };
  // Async, so that a body that does not decode rejects the run as any failing middleware does.
  const server: ServerMiddleware<unknown> = async function compressArgsServer(job, _ctx, next) {
    const body = compressedBody(job.args);
    if (body === undefined) return await next();
    const decoded: Job = { ...job, args: decodeArgs(body) };
    return await next(decoded);
  };
  return { client, server };
}

/** A short description of an option's value for error messages. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(cap(value, 40));
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return value === null ? 'null' : typeof value;
}

/** The compressed body when `args` is exactly `[{ $hopper_gzip: string }]`, else undefined. */
function compressedBody(args: readonly unknown[]): string | undefined {
  if (args.length !== 1) return undefined;
  const [only] = args;
  if (!isRecord(only) || Object.keys(only).length !== 1) return undefined;
  const body = only[GZIP_ARGS_MARKER];
  return typeof body === 'string' ? body : undefined;
}

/**
 * The arguments a compressed body holds.
 *
 * @throws UnrecoverableJobError when the body does not decode: retrying the same body cannot help.
 */
function decodeArgs(body: string): unknown[] {
  // Buffer.from skips characters that are not base64; a damaged body must fail, not decode to less.
  if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw undecodable('it is not base64');
  let json: string;
  try {
    json = gunzipSync(Buffer.from(body, 'base64'), { maxOutputLength: COMPRESS_ARGS_DEFAULTS.maxDecodedBytes }).toString('utf8');
  } catch (error) {
    throw undecodable(`it is not gzip of at most ${COMPRESS_ARGS_DEFAULTS.maxDecodedBytes} bytes (${describeError(error).message})`, error);
  }
  let args: unknown;
  try {
    args = JSON.parse(json);
  } catch (error) {
    throw undecodable('it does not hold JSON', error);
  }
  if (!Array.isArray(args)) throw undecodable('it does not hold an array');
  return args;
}

function undecodable(reason: string, cause?: unknown): UnrecoverableJobError {
  return new UnrecoverableJobError(`args[0].${GZIP_ARGS_MARKER} does not decode to the job's arguments: ${reason}`, cause === undefined ? undefined : { cause });
}
