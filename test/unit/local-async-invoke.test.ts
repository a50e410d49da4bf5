/**
 * The local runtime's asynchronous invocations follow a function's EventInvokeConfig: its retries
 * of a failed event, and its maximum event age for an event kept while throttled.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AsyncInvoker } from '../../local/host/async-invoke.js';
import { THROTTLE_REASONS } from '../../local/host/concurrency.js';
import type { FunctionPool, Invocation } from '../../local/host/function-pool.js';
import type { LogEntry } from '../../local/log.js';

const throttled: Invocation = {
  ok: false, requestId: 'r', durationMs: 0, throttled: THROTTLE_REASONS.reserved,
  error: { errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.', trace: [] },
};
const failed: Invocation = { ok: false, requestId: 'r', durationMs: 1, error: { errorType: 'Error', errorMessage: 'boom', trace: [] } };

/** A pool that answers each invocation with the next outcome given, then succeeds. */
function poolAnswering(outcomes: Invocation[]): { pool: FunctionPool; calls: () => number } {
  let calls = 0;
  const pool = {
    spec: { logicalId: 'Sweep', arn: 'arn:sweep' },
    invoke: async (): Promise<Invocation> => {
      calls += 1;
      return outcomes.shift() ?? { ok: true, requestId: 'r', value: null, durationMs: 1 };
    },
  } as unknown as FunctionPool;
  return { pool, calls: () => calls };
}

describe('AsyncInvoker', () => {
  let lines: LogEntry[];
  beforeEach(() => {
    vi.useFakeTimers();
    lines = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps a throttled event for at most its maximum event age, then drops it', async () => {
    const { pool, calls } = poolAnswering(Array.from({ length: 20 }, () => throttled));
    const invoker = new AsyncInvoker((line) => lines.push(line), [60_000, 120_000], () => ({ maxEventAgeMs: 60_000 }));

    invoker.invoke(pool, {});
    await vi.advanceTimersByTimeAsync(10 * 60_000);

    // Tries at 0, 1, 3, 7, 15 and 31 s; the next, at 63 s, would be past the 60 s age.
    expect(calls()).toBe(6);
    expect(lines.map((line) => line.message)).toContain('Sweep (async) throttled until the event was 60 s old, its maximum event age; dropped');
  });

  it('keeps a throttled event for 6 hours when no age is configured', async () => {
    const { pool, calls } = poolAnswering(Array.from({ length: 9 }, () => throttled));
    const invoker = new AsyncInvoker((line) => lines.push(line));

    invoker.invoke(pool, {});
    await vi.advanceTimersByTimeAsync(60 * 60_000);

    // Nine throttles, then the event runs.
    expect(calls()).toBe(10);
    expect(lines.some((line) => line.message.includes('dropped'))).toBe(false);
  });

  it('retries a failed event as often as configured, and not past its maximum age', async () => {
    const once = poolAnswering([failed, failed, failed]);
    new AsyncInvoker((line) => lines.push(line), [60_000, 120_000], () => ({ retries: 1 })).invoke(once.pool, {});
    const aged = poolAnswering([failed, failed, failed]);
    new AsyncInvoker((line) => lines.push(line), [60_000, 120_000], () => ({ maxEventAgeMs: 90_000 })).invoke(aged.pool, {});

    await vi.advanceTimersByTimeAsync(10 * 60_000);

    expect(once.calls()).toBe(2);
    // Retried after 60 s; the second retry, 120 s later, would come after the 90 s age.
    expect(aged.calls()).toBe(2);
    expect(lines.map((line) => line.message)).toContain("Sweep (async) failed: Error: boom; its retry would come after the event's maximum age of 90 s, dropped");
  });
});
