/**
 * `iterate({ items, each })`: a job longer than one Lambda invocation, run as slices. `items(args,
 * cursor)` yields `[item, cursor]` pairs, the cursor saying where to resume after that item; `each`
 * handles one item. The worker moves the job's cursor forward in the state table as items are done
 * (a checkpoint at most every {@link ITERATE_DEFAULTS.checkpointEveryMs}), and when the invocation's
 * deadline comes near it stops between two items, records the cursor and sends the job back to its
 * queue: the next invocation resumes from there. One jid, one progress (`ctx.progress`, never lower),
 * any number of slices.
 *
 * - A slice that crashes or times out resumes, on the job's redelivery, from its last checkpoint:
 *   the items after that checkpoint run again. An item whose effect must not repeat uses `ctx.once`,
 *   or `checkpointEveryMs: 0` (a write after every item).
 * - An item that throws fails the job as any handler does; the retry resumes from the last item done.
 * - Two deliveries of the same job never iterate at once: a slice holds the iteration until its
 *   invocation's deadline, and a copy that finds it held goes back to its queue until then
 *   (`IterationBusyError`, no retry used); a copy that finds it done is acknowledged without running.
 * - `complete(args, ctx)`, if given, runs after the last item; its value is the job's result.
 */
import { randomUUID } from 'node:crypto';
import { keptJson } from '../common/kept-json.js';
import { ConfigurationError, HopperError, isHopperError } from '../errors/base.js';
import { IterationBusyError, IterationError, IterationSignal } from '../errors/worker.js';
import type { StandardSchemaV1 } from '../job/typed.js';
import type { IterationStore } from '../storage/iterations.js';
import type { JobContext } from './types.js';

/** Defaults and limits of iterating jobs. */
export const ITERATE_DEFAULTS = {
  /** Least time between two checkpoints of a slice (the last one is always written). */
  checkpointEveryMs: 5_000,
  /** Most bytes of a cursor as JSON. */
  maxCursorBytes: 32 * 1024,
  /** How long a slice holds its iteration when its invocation has no deadline (tests, scripts): Lambda's longest. */
  withoutDeadlineMs: 15 * 60_000,
} as const;

/** An iterating job, as written. */
export interface IterateDefinition<Args extends readonly unknown[], Item, Cursor> {
  /** A Standard Schema of the arguments, checked before the first item (as in `withArgs`). */
  readonly args?: StandardSchemaV1<unknown, Args>;
  /**
   * The items from `cursor` on (undefined: from the start), each with the cursor that resumes after
   * it: a JSON value (not undefined) of at most 32 KB, such as an offset, a key or a page token.
   */
  readonly items: (args: Args, cursor: Cursor | undefined, ctx: JobContext) => AsyncIterable<readonly [Item, Cursor]> | Iterable<readonly [Item, Cursor]>;
  /** Handles one item. Throwing fails the job; its retry resumes at this item. */
  readonly each: (item: Item, args: Args, ctx: JobContext) => unknown;
  /** Runs after the last item, once the iteration is over; its value is the job's result (`custom.result`). */
  readonly complete?: (args: Args, ctx: JobContext) => unknown;
  /**
   * Least milliseconds between two checkpoints; 0 writes one after every item (one request each).
   * A crash re-runs the items done since the last checkpoint.
   * @default 5000
   */
  readonly checkpointEveryMs?: number;
  /**
   * Longest a slice runs, in milliseconds, even when its invocation has longer: the job then goes
   * to the back of its queue and other jobs of the queue get their turn.
   * @default - until the invocation's deadline is near
   */
  readonly maxSliceMs?: number;
}

/** What `iterate` makes: a job for `defineJobs`/`createWorker`, typed by its arguments. */
export interface IteratingJob<Args extends readonly unknown[]> {
  readonly args?: StandardSchemaV1<unknown, Args>;
  readonly run: (args: Args, ctx: JobContext) => Promise<unknown>;
}

/** What the worker gives an iterating job besides its context (set by lib/worker/record.ts). */
export interface IterationScope {
  /** The state table's iterations, loaded on first use. */
  readonly store: () => Promise<IterationStore>;
  /** Epoch ms. */
  readonly now: () => number;
  /** The worker's deadline margin for this invocation: a slice stops before its last stretch. */
  readonly marginMs: number;
}

/** The key under which a job's context carries its {@link IterationScope}. */
export const ITERATION_SCOPE: unique symbol = Symbol('hopper.iteration');

/** A job context that may carry an iteration scope. */
export type IterationCarrier = JobContext & { readonly [ITERATION_SCOPE]?: IterationScope };

/**
 * An iterating job; see the module comment.
 *
 * @throws ConfigurationError naming the field of the definition that is not valid
 * @example
 * export const jobs = defineJobs({
 *   ImportRows: iterate({
 *     items: async function* ([file]: [string], cursor: number | undefined) {
 *       for (let row = cursor ?? 0; row < await rowCount(file); row += 1) yield [await readRow(file, row), row + 1];
 *     },
 *     each: async (row, [file], ctx) => { await importRow(file, row); },
 *   }),
 * });
 */
export function iterate<Args extends readonly unknown[], Item, Cursor>(definition: IterateDefinition<Args, Item, Cursor>): IteratingJob<Args> {
  validate(definition);
  const everyMs = definition.checkpointEveryMs ?? ITERATE_DEFAULTS.checkpointEveryMs;
  const run = async (args: Args, ctx: JobContext): Promise<unknown> => {
    const scope = (ctx as IterationCarrier)[ITERATION_SCOPE];
    if (scope === undefined) throw new HopperError('iterate needs the state table: this worker was made without it');
    const store = await scope.store();
    const owner = randomUUID();
    const startMs = scope.now();
    const remaining = ctx.remainingTimeMs();
    const claim = await store.take(ctx.jid, { owner, untilMs: startMs + (Number.isFinite(remaining) ? Math.max(0, remaining) : ITERATE_DEFAULTS.withoutDeadlineMs) });
    if (!claim.taken) {
      if (claim.done) throw new IterationSignal('finished', 0, 'the iteration already ran to its end; this copy of the job is not run');
      throw new IterationBusyError(ctx.jid, Math.max(1, Math.ceil((claim.untilMs - startMs) / 1000)));
    }
    const { slices } = claim;
    if (slices > 1) ctx.logger.info('iteration resumed', { slice: slices, items_done: claim.items });
    let cursor = claim.cursor;
    let items = claim.items;
    let saved = { cursor, items };
    let lastCheckpointMs = startMs;
    let longestItemMs = 0;
    // maxSliceMs counts from the take: loading the SDK on a cold start is not the slice's work.
    const takenMs = scope.now();
    const sliceOver = (): boolean => ctx.signal.aborted
      || ctx.remainingTimeMs() < scope.marginMs + 2 * longestItemMs
      || (definition.maxSliceMs !== undefined && scope.now() - takenMs >= definition.maxSliceMs);

    let iterator: AsyncIterator<readonly [Item, Cursor]> | Iterator<readonly [Item, Cursor]> | undefined;
    let finished = false;
    try {
      // Inside the try: an `items` that throws at once gives the iteration back like any failure.
      iterator = toIterator(definition.items(args, cursor === undefined ? undefined : JSON.parse(cursor) as Cursor, ctx));
      for (;;) {
        // The next item is asked for first, so that a slice that ends after the last item finishes
        // the job rather than leaving an empty slice to do it.
        const step = await iterator.next();
        if (step.done === true) break;
        if (sliceOver()) {
          await store.release(ctx.jid, owner, { cursor, items });
          ctx.logger.info('iteration paused; the job goes back to its queue', { slice: slices, items_done: items });
          throw new IterationSignal('continue', slices, 'the slice ended before the invocation\'s deadline');
        }
        const [item, next] = pairOf(step.value);
        const itemStartMs = scope.now();
        await definition.each(item as Item, args, ctx);
        longestItemMs = Math.max(longestItemMs, scope.now() - itemStartMs);
        cursor = cursorJson(next);
        items += 1;
        if (scope.now() - lastCheckpointMs >= everyMs) {
          await store.checkpoint(ctx.jid, owner, { cursor, items });
          saved = { cursor, items };
          lastCheckpointMs = scope.now();
        }
      }
      finished = true;
    } catch (error) {
      if (error instanceof IterationSignal) throw error;
      if (isHopperError(error, 'IterationLostError')) throw new IterationSignal('duplicate', slices, error.message);
      // What was done is kept: the retry resumes after the last item that ended well.
      await giveBack(store, ctx, owner, { cursor, items }, saved);
      throw error;
    } finally {
      if (!finished) await closeQuietly(iterator, ctx);
    }

    let value: unknown;
    try {
      value = await definition.complete?.(args, ctx);
    } catch (error) {
      await giveBack(store, ctx, owner, { cursor, items }, saved);
      throw error;
    }
    try {
      await store.finish(ctx.jid, owner, items);
    } catch (error) {
      if (isHopperError(error, 'IterationLostError')) throw new IterationSignal('duplicate', slices, error.message);
      throw error;
    }
    ctx.logger.info('iteration done', { slices, items });
    return value;
  };
  return definition.args === undefined ? { run } : { args: definition.args, run };
}

/** Gives the iteration back after a failure, with how far it got. Never throws. */
async function giveBack(store: IterationStore, ctx: JobContext, owner: string, progress: { cursor: string | undefined; items: number }, saved: { cursor: string | undefined; items: number }): Promise<void> {
  try {
    await store.release(ctx.jid, owner, progress);
  } catch (error) {
    // Held until this invocation's deadline; the retry, later than that, resumes from the last checkpoint.
    ctx.logger.warn('iteration not given back after a failure; it resumes from its last checkpoint', { items_done: saved.items, error });
  }
}

/** Lets a generator left mid-way run its cleanup; a cleanup that fails is logged, not thrown over the slice's own outcome. */
async function closeQuietly(iterator: { return?: () => unknown } | undefined, ctx: JobContext): Promise<void> {
  try {
    await iterator?.return?.();
  } catch (error) {
    ctx.logger.warn('items: closing the iterator failed', { error });
  }
}

function validate(definition: { readonly [Field in keyof IterateDefinition<never, never, never>]?: unknown }): void {
  if (typeof definition !== 'object' || definition === null) throw new ConfigurationError(`iterate takes { items, each }, but ${definition === null ? 'null' : typeof definition} was provided`);
  if (typeof definition.items !== 'function') throw new ConfigurationError(`iterate: items must be a function of (args, cursor, ctx) returning [item, cursor] pairs, but ${typeof definition.items} was provided`);
  if (typeof definition.each !== 'function') throw new ConfigurationError(`iterate: each must be a function of (item, args, ctx), but ${typeof definition.each} was provided`);
  if (definition.complete !== undefined && typeof definition.complete !== 'function') throw new ConfigurationError(`iterate: complete must be a function of (args, ctx), but ${typeof definition.complete} was provided`);
  const every = definition.checkpointEveryMs;
  if (every !== undefined && (typeof every !== 'number' || !Number.isFinite(every) || every < 0)) throw new ConfigurationError(`iterate: checkpointEveryMs must be a number of milliseconds of at least 0, but ${String(every)} was provided`);
  const slice = definition.maxSliceMs;
  if (slice !== undefined && (typeof slice !== 'number' || !Number.isFinite(slice) || slice <= 0)) throw new ConfigurationError(`iterate: maxSliceMs must be a positive number of milliseconds, but ${String(slice)} was provided`);
}

function toIterator<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> | Iterator<T> {
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  if (source !== null && typeof source === 'object' && Symbol.iterator in source) return source[Symbol.iterator]();
  throw new IterationError(`items must return an iterable (an array, a generator or an async generator) of [item, cursor] pairs, but it returned ${source === null ? 'null' : typeof source}`);
}

function pairOf(value: unknown): readonly [unknown, unknown] {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new IterationError(`items must yield [item, cursor] pairs, but it yielded ${Array.isArray(value) ? `an array of ${value.length}` : value === null ? 'null' : typeof value}`);
  }
  return [value[0], value[1]];
}

function cursorJson(cursor: unknown): string {
  const kept = keptJson(cursor, ITERATE_DEFAULTS.maxCursorBytes, 'the cursor');
  if (kept.unkept !== undefined) throw new IterationError(`items yielded a cursor that cannot be kept: ${kept.unkept}`);
  if (kept.json === undefined) throw new IterationError('items yielded an undefined cursor: a cursor must be a JSON value (null, a number, a string, an array or an object) that says where to resume');
  return kept.json;
}
