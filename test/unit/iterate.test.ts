/**
 * Iterating jobs (lib/worker/iterate.ts) over an in-memory store with the state table's semantics
 * (lib/storage/iterations.ts) and a simulated clock: slices stop before the deadline and resume
 * where they stopped, a crashed slice resumes from its last checkpoint, two deliveries never
 * iterate at once, a finished iteration is not run again, and a failing item keeps what was done.
 */
import { describe, expect, it } from 'vitest';
import { isUnrecoverable, IterationBusyError, IterationLostError, IterationSignal, rateLimitedDelay } from '../../lib/errors/worker.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { normalizeJob } from '../../lib/job/model.js';
import { createLogger } from '../../lib/observability/logger.js';
import type { IterationClaim, IterationProgress, IterationStore } from '../../lib/storage/iterations.js';
import { ITERATION_SCOPE, iterate, type IterateDefinition, type IterationCarrier } from '../../lib/worker/iterate.js';
import { defineJobs } from '../../lib/worker/jobs.js';
import type { JobArgs } from '../../lib/job/typed.js';

interface Held { owner?: string; untilMs?: number; cursor?: string; items: number; slices: number; done: boolean }

/** The store's semantics in memory, counting its writes. */
class MemoryIterations implements IterationStore {
  readonly held = new Map<string, Held>();
  readonly writes: string[] = [];
  constructor(private readonly clock: { nowMs: number }) {}

  async take(jid: string, claim: { owner: string; untilMs: number }): Promise<IterationClaim> {
    const held = this.held.get(jid) ?? { items: 0, slices: 0, done: false };
    if (held.done) return { taken: false, done: true, items: held.items };
    if (held.owner !== undefined && (held.untilMs ?? 0) >= this.clock.nowMs) return { taken: false, done: false, untilMs: held.untilMs ?? 0 };
    const next = { ...held, owner: claim.owner, untilMs: claim.untilMs, slices: held.slices + 1 };
    this.held.set(jid, next);
    this.writes.push('take');
    return { taken: true, cursor: next.cursor, items: next.items, slices: next.slices };
  }

  async checkpoint(jid: string, owner: string, progress: IterationProgress): Promise<void> {
    this.owned(jid, owner, progress);
    this.writes.push(`checkpoint ${progress.items}`);
  }

  async release(jid: string, owner: string, progress: IterationProgress): Promise<void> {
    const held = this.owned(jid, owner, progress);
    delete held.owner;
    delete held.untilMs;
    this.writes.push(`release ${progress.items}`);
  }

  async finish(jid: string, owner: string, items: number): Promise<void> {
    const held = this.owned(jid, owner, { cursor: undefined, items });
    this.held.set(jid, { items, slices: held.slices, done: true });
    this.writes.push(`finish ${items}`);
  }

  private owned(jid: string, owner: string, progress: IterationProgress): Held {
    const held = this.held.get(jid);
    if (held?.owner !== owner) throw new IterationLostError(jid);
    if (progress.cursor !== undefined) held.cursor = progress.cursor;
    held.items = progress.items;
    return held;
  }
}

/** A simulated invocation: `timeoutMs` of time, consumed by the items' `workMs`. */
function harness(timeoutMs = 60_000, marginMs = 3_000) {
  const clock = { nowMs: 1_000_000 };
  const store = new MemoryIterations(clock);
  const lines: string[] = [];
  const logger = createLogger({ sink: (line) => lines.push(line) });
  const invoke = async <Args extends readonly unknown[]>(run: (args: Args, ctx: IterationCarrier) => Promise<unknown>, args: Args, jid = 'j1') => {
    const deadline = clock.nowMs + timeoutMs;
    const ctx: IterationCarrier = {
      jid, job: normalizeJob({ jid, jobtype: 'Walk', args: [...args] }, { now: new Date(clock.nowMs) }), logger,
      remainingTimeMs: () => deadline - clock.nowMs, signal: new AbortController().signal,
      extend: async () => undefined, limiter: (() => { throw new Error('unused'); }) as never,
      once: (() => { throw new Error('unused'); }) as never, progress: async () => undefined,
      [ITERATION_SCOPE]: { store: async () => store, now: () => clock.nowMs, marginMs },
    };
    return run(args, ctx);
  };
  return { clock, store, lines, invoke };
}

/**
 * Items 0..count-1, the cursor being the next index. The first time item `crashAt` comes, its
 * process dies: the item never ends, nothing after it runs, nothing is given back.
 */
function counting(count: number, workMs: number, clock: { nowMs: number }, seen: number[], overrides: Partial<IterateDefinition<[number], number, number>> = {}, crashAt?: number) {
  let crashed = false;
  return iterate<[number], number, number>({
    items: function* ([total], cursor) {
      for (let index = cursor ?? 0; index < total; index += 1) yield [index, index + 1];
    },
    each: async (index) => {
      if (index === crashAt && !crashed) {
        crashed = true;
        await new Promise(() => undefined);
      }
      clock.nowMs += workMs;
      seen.push(index);
    },
    complete: ([total]) => ({ total }),
    ...overrides,
  }).run;
}

async function signalOf(promise: Promise<unknown>): Promise<IterationSignal> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(IterationSignal);
  return error as IterationSignal;
}

describe('iterate', () => {
  it('runs a 40-minute job as slices of a 60 s invocation, each item once, stopping before the deadline', async () => {
    const { clock, store, invoke } = harness(60_000, 3_000);
    const seen: number[] = [];
    // 2,400 items of 1 s: 40 minutes.
    const run = counting(2_400, 1_000, clock, seen);
    let slices = 0;
    let result: unknown;
    for (;;) {
      slices += 1;
      const started = clock.nowMs;
      try {
        result = await invoke(run, [2_400]);
        break;
      } catch (error) {
        expect(error).toBeInstanceOf(IterationSignal);
        expect((error as IterationSignal).kind).toBe('continue');
        expect((error as IterationSignal).slices).toBe(slices);
        // An item is not started with less than the margin and two items' time left: at least the
        // margin and one item's time is left when the slice stops.
        expect(clock.nowMs - started).toBeLessThanOrEqual(60_000 - 3_000 - 1_000);
      }
      clock.nowMs += 200;
    }
    expect(result).toEqual({ total: 2_400 });
    expect(seen).toEqual(Array.from({ length: 2_400 }, (_, index) => index));
    // 56 items per slice (the 57th would start with 4 s left, under 3 s + 2 × 1 s): 43 slices.
    expect(slices).toBe(43);
    expect(store.held.get('j1')).toMatchObject({ done: true, items: 2_400, slices: 43 });
    // A take, a checkpoint every 5 s (11 per 56 s slice), and a release or the finish per slice.
    expect(store.writes.filter((write) => write === 'take')).toHaveLength(43);
    expect(store.writes.filter((write) => write.startsWith('checkpoint')).length).toBeLessThanOrEqual(43 * 11);
  });

  it('resumes a crashed slice from its last checkpoint once the crashed invocation\'s time is up', async () => {
    const { clock, store, invoke } = harness(60_000, 3_000);
    const seen: number[] = [];
    const run = counting(60, 1_000, clock, seen, {}, 30);
    void invoke(run, [60]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Items 0..29 ran; the checkpoint after item 24 (5 s after the one after 19...) is the last.
    expect(seen).toEqual(Array.from({ length: 30 }, (_, index) => index));
    const checkpointed = store.held.get('j1')?.items ?? 0;
    expect(checkpointed).toBeGreaterThanOrEqual(25);
    // Before the dead invocation's deadline another delivery must wait; after it, it resumes.
    const busy = await invoke(run, [60]).then(() => undefined, (error: unknown) => error);
    expect(busy).toBeInstanceOf(IterationBusyError);
    expect(rateLimitedDelay(busy)).toBeGreaterThan(0);
    clock.nowMs += 61_000;
    await expect(invoke(run, [60])).resolves.toEqual({ total: 60 });
    // The items after the checkpoint ran again; every item ran at least once, in order after the resume.
    expect(seen.slice(30)).toEqual(Array.from({ length: 60 - checkpointed }, (_, index) => checkpointed + index));
  });

  it('with checkpointEveryMs 0 writes after every item, so a crash re-runs no finished item', async () => {
    const { clock, store, invoke } = harness();
    const seen: number[] = [];
    const run = counting(10, 1_000, clock, seen, { checkpointEveryMs: 0 }, 7);
    void invoke(run, [10]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.nowMs += 61_000;
    await invoke(run, [10]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // 0..6 before the crash, 7..9 after it: item 7 is the only one run twice, and it never ended the first time.
    expect(store.writes.filter((write) => write.startsWith('checkpoint'))).toHaveLength(10);
  });

  it('acknowledges a copy of a finished job without running anything', async () => {
    const { clock, store, invoke } = harness();
    const seen: number[] = [];
    const run = counting(3, 10, clock, seen);
    await invoke(run, [3]);
    const signal = await signalOf(invoke(run, [3]));
    expect(signal.kind).toBe('finished');
    expect(seen).toEqual([0, 1, 2]);
    expect(store.writes).toEqual(['take', 'finish 3']);
  });

  it('keeps what a failing item\'s slice did: the retry resumes at that item', async () => {
    const { clock, store, invoke } = harness();
    const seen: number[] = [];
    let failAt: number | undefined = 4;
    const run = counting(6, 10, clock, seen, {
      each: (index) => {
        if (index === failAt) {
          failAt = undefined;
          throw new Error('row 4 is locked');
        }
        seen.push(index);
      },
    });
    await expect(invoke(run, [6])).rejects.toThrow('row 4 is locked');
    expect(store.writes).toEqual(['take', 'release 4']);
    await expect(invoke(run, [6])).resolves.toEqual({ total: 6 });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gives the iteration back when items throws before the first item, so the retry need not wait', async () => {
    const { store, invoke } = harness();
    const run = iterate<[], number, number>({ items: () => { throw new Error('the file is gone'); }, each: () => undefined }).run;
    await expect(invoke(run, [])).rejects.toThrow('the file is gone');
    expect(store.writes).toEqual(['take', 'release 0']);
    await expect(invoke(run, [])).rejects.toThrow('the file is gone');
  });

  it('ends a slice after maxSliceMs even when the invocation has longer', async () => {
    const { clock, invoke } = harness(900_000);
    const seen: number[] = [];
    const run = counting(100, 1_000, clock, seen, { maxSliceMs: 10_000 });
    const signal = await signalOf(invoke(run, [100]));
    expect(signal.kind).toBe('continue');
    expect(seen).toHaveLength(10);
  });

  it('stops a slice whose iteration another delivery took over, without giving anything back', async () => {
    const { clock, store, invoke } = harness(60_000);
    const run = iterate<[], number, number>({
      items: function* () { for (let index = 0; index < 5; index += 1) yield [index, index + 1]; },
      each: () => {
        clock.nowMs += 1_000;
        // Another delivery's slice took the iteration (this one's time was thought up).
        const held = store.held.get('j1');
        if (held !== undefined) held.owner = 'someone else';
      },
      checkpointEveryMs: 0,
    }).run;
    const signal = await signalOf(invoke(run, []));
    expect(signal.kind).toBe('duplicate');
    expect(store.writes).toEqual(['take']);
  });

  it('sends a job whose items are not [item, cursor] pairs, or whose cursor cannot be kept, to the dead set', async () => {
    const { invoke } = harness();
    const notPairs = iterate<[], unknown, unknown>({ items: () => [1, 2] as never, each: () => undefined }).run;
    const error = await invoke(notPairs, []).then(() => undefined, (caught: unknown) => caught);
    expect(isUnrecoverable(error)).toBe(true);
    expect(String(error)).toContain('items must yield [item, cursor] pairs, but it yielded number');
    const noCursor = iterate<[], number, undefined>({ items: () => [[1, undefined]], each: () => undefined }).run;
    await expect(invoke(noCursor, [], 'j2')).rejects.toThrow('items yielded an undefined cursor');
    const bigCursor = iterate<[], number, string>({ items: () => [[1, 'x'.repeat(40_000)]], each: () => undefined }).run;
    await expect(invoke(bigCursor, [], 'j3')).rejects.toThrow(/the cursor is 40,002 bytes as JSON, over the 32,768 kept/);
  });

  it('names the field of a definition that is not valid', () => {
    const each = () => undefined;
    expect(() => iterate({ items: 'rows' as never, each })).toThrow(ConfigurationError);
    expect(() => iterate({ items: () => [], each: undefined as never })).toThrow('iterate: each must be a function of (item, args, ctx), but undefined was provided');
    expect(() => iterate({ items: () => [], each, checkpointEveryMs: -1 })).toThrow('iterate: checkpointEveryMs must be a number of milliseconds of at least 0, but -1 was provided');
    expect(() => iterate({ items: () => [], each, maxSliceMs: 0 })).toThrow('iterate: maxSliceMs must be a positive number of milliseconds, but 0 was provided');
  });

  it('types a job by its arguments for producers', () => {
    const jobs = defineJobs({
      Import: iterate({
        items: async function* ([file, from]: [string, number], cursor: number | undefined) { yield [`${file}:${cursor ?? from}`, (cursor ?? from) + 1] as const; },
        each: async (line: string) => { void line; },
      }),
    });
    const args: JobArgs<(typeof jobs)['Import']> = ['rows.csv', 0];
    expect(args).toEqual(['rows.csv', 0]);
    // @ts-expect-error the arguments are [string, number]
    const wrong: JobArgs<(typeof jobs)['Import']> = [1];
    expect(wrong).toEqual([1]);
  });
});
