/**
 * `ctx.once` (lib/worker/once.ts) over an in-memory store with the state table's semantics: a step
 * runs once per job and key, its value comes back on later runs, a failed step is given back, a
 * step held by another delivery delays the job, and a value that cannot be kept sends the job to
 * the dead set instead of letting a retry run the step again.
 */
import { describe, expect, it } from 'vitest';
import { isUnrecoverable, OnceStepBusyError, OnceStepError, rateLimitedDelay } from '../../lib/errors/worker.js';
import { createLogger } from '../../lib/observability/logger.js';
import type { OnceStepStore, StepClaim, StepOutcome, StepRecord } from '../../lib/storage/once-steps.js';
import { ONCE_LIMITS, onceFor, type OnceScope } from '../../lib/worker/once.js';

/** The store's semantics in memory (lib/storage/once-steps.ts has them in DynamoDB). */
class MemorySteps implements OnceStepStore {
  readonly steps = new Map<string, StepRecord & { owner?: string }>();
  nowMs = 1_000_000;
  failCompletes = 0;
  completes = 0;

  async begin(jid: string, key: string, claim: { owner: string; untilMs: number }): Promise<StepClaim> {
    const held = this.steps.get(`${jid}|${key}`);
    if (held !== undefined && (held.state === 'done' || held.untilMs >= this.nowMs)) return { taken: false, record: held };
    this.steps.set(`${jid}|${key}`, { state: 'running', untilMs: claim.untilMs, owner: claim.owner });
    return { taken: true };
  }

  async complete(jid: string, key: string, owner: string, outcome: StepOutcome): Promise<void> {
    this.completes += 1;
    if (this.failCompletes > 0) {
      this.failCompletes -= 1;
      throw new Error('ProvisionedThroughputExceededException');
    }
    const held = this.steps.get(`${jid}|${key}`);
    if (held?.owner !== owner) throw new Error('ConditionalCheckFailedException');
    this.steps.set(`${jid}|${key}`, { state: 'done', result: outcome.result, unkept: outcome.unkept });
  }

  async release(jid: string, key: string, owner: string): Promise<void> {
    const held = this.steps.get(`${jid}|${key}`);
    if (held?.state === 'running' && held.owner === owner) this.steps.delete(`${jid}|${key}`);
  }
}

const lines: string[] = [];
const logger = createLogger({ sink: (line) => lines.push(line) });

function once(store: MemorySteps, overrides: Partial<OnceScope> = {}) {
  return onceFor({ jid: 'j1', store: async () => store, remainingTimeMs: () => 30_000, now: () => store.nowMs, logger, sleep: async () => undefined, ...overrides });
}

describe('ctx.once', () => {
  it('runs a step once and gives its value back to every later run of the job, through JSON', async () => {
    const store = new MemorySteps();
    let charges = 0;
    const charge = async () => {
      charges += 1;
      return { receipt: 'r-1', at: new Date(0) };
    };

    const first = await once(store)('charge', charge);
    const again = await once(store)('charge', charge);

    expect(charges).toBe(1);
    expect(first).toEqual({ receipt: 'r-1', at: '1970-01-01T00:00:00.000Z' });
    expect(again).toEqual(first);
    // Another key, or another job, is another step.
    await once(store)('email', charge);
    await once(store, { jid: 'j2' })('charge', charge);
    expect(charges).toBe(3);
  });

  it('keeps a step that returned nothing as done', async () => {
    const store = new MemorySteps();
    let runs = 0;
    expect(await once(store)('notify', () => { runs += 1; })).toBeUndefined();
    expect(await once(store)('notify', () => { runs += 1; })).toBeUndefined();
    expect(runs).toBe(1);
  });

  it('gives a failed step back, so the next run of the job tries it again', async () => {
    const store = new MemorySteps();
    await expect(once(store)('charge', () => { throw new Error('card network down'); })).rejects.toThrow('card network down');
    expect(store.steps.size).toBe(0);
    expect(await once(store)('charge', () => 'ok')).toBe('ok');
  });

  it('delays a delivery whose step another delivery runs, until that run\'s deadline, without a retry', async () => {
    const store = new MemorySteps();
    let inside: Promise<unknown> | undefined;
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => { release = resolve; });
    const running = once(store, { remainingTimeMs: () => 12_500 })('charge', async () => {
      inside = once(store)('charge', () => 'second');
      await slow;
      return 'first';
    });
    await Promise.resolve();
    await Promise.resolve();
    const error = await inside?.catch((caught: unknown) => caught);
    release();

    expect(await running).toBe('first');
    expect(error).toBeInstanceOf(OnceStepBusyError);
    expect(rateLimitedDelay(error)).toBe(13);
    expect(isUnrecoverable(error)).toBe(false);
  });

  it('takes over a step whose run ended without a word (its deadline passed)', async () => {
    const store = new MemorySteps();
    store.steps.set('j1|charge', { state: 'running', untilMs: store.nowMs - 1, owner: 'crashed' });
    expect(await once(store)('charge', () => 'ran again')).toBe('ran again');
  });

  it('holds a step until the invocation\'s deadline, or 15 minutes without one', async () => {
    const store = new MemorySteps();
    const seen: number[] = [];
    const spy: OnceStepStore = { ...store, begin: async (jid, key, claim) => { seen.push(claim.untilMs - store.nowMs); return store.begin(jid, key, claim); }, complete: store.complete.bind(store), release: store.release.bind(store) };
    await onceFor({ jid: 'j', store: async () => spy, remainingTimeMs: () => 4_000, now: () => store.nowMs, logger })('a', () => 1);
    await onceFor({ jid: 'j', store: async () => spy, remainingTimeMs: () => Number.POSITIVE_INFINITY, now: () => store.nowMs, logger })('b', () => 1);
    expect(seen).toEqual([4_000, ONCE_LIMITS.withoutDeadlineMs]);
  });

  it('sends the job to the dead set when a value cannot be kept, and every later run too, without running the step again', async () => {
    const store = new MemorySteps();
    let runs = 0;
    const big = () => { runs += 1; return 'x'.repeat(ONCE_LIMITS.maxResultBytes); };
    const error = await once(store)('export', big).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OnceStepError);
    expect(isUnrecoverable(error)).toBe(true);
    expect((error as Error).message).toBe('step "export" of ctx.once: it ran, but its value is 32,770 bytes as JSON, over the 32,768 kept');
    await expect(once(store)('export', big)).rejects.toThrow(/it ran, but its value is 32,770 bytes/);
    expect(runs).toBe(1);

    await expect(once(store)('bigint', () => 10n)).rejects.toThrow(/step "bigint" of ctx.once: it ran, but its value is not JSON/);
  });

  it('tries the completion write three times, then sends the job to the dead set rather than run the step again', async () => {
    const store = new MemorySteps();
    store.failCompletes = 2;
    expect(await once(store)('charge', () => 'ok')).toBe('ok');
    expect(store.completes).toBe(3);

    store.failCompletes = 3;
    const error = await once(store)('refund', () => 'ok').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OnceStepError);
    expect((error as Error).message).toContain('its completion could not be recorded');
    expect(isUnrecoverable(error)).toBe(true);
  });

  it('refuses an empty or overlong key, naming the limit', async () => {
    const store = new MemorySteps();
    await expect(once(store)('', () => 1)).rejects.toThrow('step "" of ctx.once: the key must be a string of 1 to 200 characters, but 0 characters were provided');
    await expect(once(store)('k'.repeat(201), () => 1)).rejects.toThrow(/but 201 characters were provided/);
    expect(store.steps.size).toBe(0);
  });
});
