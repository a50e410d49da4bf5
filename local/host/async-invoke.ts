/**
 * Asynchronous invocation (InvocationType Event), as EventBridge Scheduler uses it: the caller
 * does not wait, and a failed invocation is retried twice, after about one and then two minutes
 * (Lambda's defaults), unless the runtime stops first. A throttled invocation is not a failure:
 * Lambda keeps the event and tries again after 1 s, doubling up to 5 minutes, for up to 6 hours.
 * A function's EventInvokeConfig can lower both: fewer retries, a shorter maximum event age.
 */
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import { throttleOf, type FunctionPool } from './function-pool.js';
import type { AsyncInvokeConfig } from '../resources/plan.js';

/** Lambda's retry delays for asynchronous invocations. */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000] as const;

/** How Lambda retries a throttled asynchronous event. */
export const ASYNC_THROTTLE_RETRY = {
  firstDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  /** The event is dropped once it is this old. */
  maxEventAgeMs: 6 * 60 * 60_000,
} as const;

/** Runs asynchronous invocations and their retries. */
export class AsyncInvoker {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly log: LogSink;
  private readonly retryDelaysMs: readonly number[];
  private readonly configOf: (pool: FunctionPool) => AsyncInvokeConfig;
  private stopped = false;

  /**
   * @param configOf a function's EventInvokeConfig (retries, maximum event age).
   * @default configOf - none: 2 retries and 6 hours, Lambda's defaults
   */
  constructor(log: LogSink, retryDelaysMs: readonly number[] = ASYNC_RETRY_DELAYS_MS, configOf: (pool: FunctionPool) => AsyncInvokeConfig = () => ({})) {
    this.log = log;
    this.retryDelaysMs = retryDelaysMs;
    this.configOf = configOf;
  }

  /** Queues an invocation of `pool` with `event`; returns at once. */
  invoke(pool: FunctionPool, event: unknown): void {
    this.attempt(pool, event, { attempt: 0, queuedAtMs: Date.now(), throttles: 0 });
  }

  /** One attempt; `attempt` counts failures so far, `throttles` the throttles in a row. */
  private attempt(pool: FunctionPool, event: unknown, state: { readonly attempt: number; readonly queuedAtMs: number; readonly throttles: number }): void {
    const { attempt, queuedAtMs, throttles } = state;
    if (this.stopped) return;
    const run = pool.invoke(event).then((invocation) => {
      if (invocation.ok || this.stopped) return;
      const throttled = throttleOf(invocation);
      if (throttled !== undefined) {
        const delay = Math.min(ASYNC_THROTTLE_RETRY.firstDelayMs * 2 ** throttles, ASYNC_THROTTLE_RETRY.maxDelayMs);
        const maxAgeMs = this.configOf(pool).maxEventAgeMs ?? ASYNC_THROTTLE_RETRY.maxEventAgeMs;
        if (Date.now() + delay - queuedAtMs > maxAgeMs) {
          this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${pool.spec.logicalId} (async) throttled until the event was ${Math.round(maxAgeMs / 1000)} s old, its maximum event age; dropped` });
          return;
        }
        if (throttles === 0) this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${pool.spec.logicalId} (async) throttled (${throttled}); the event is kept and tried again` });
        this.later(delay, () => this.attempt(pool, event, { attempt, queuedAtMs, throttles: throttles + 1 }));
        return;
      }
      const delay = attempt < (this.configOf(pool).retries ?? 2) ? this.retryDelaysMs[Math.min(attempt, this.retryDelaysMs.length - 1)] : undefined;
      const what = `${pool.spec.logicalId} (async) failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`;
      if (delay === undefined) {
        this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${what}; no retries left` });
        return;
      }
      const maxAgeMs = this.configOf(pool).maxEventAgeMs;
      if (maxAgeMs !== undefined && Date.now() + delay - queuedAtMs > maxAgeMs) {
        this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${what}; its retry would come after the event's maximum age of ${Math.round(maxAgeMs / 1000)} s, dropped` });
        return;
      }
      this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${what}; retrying in ${Math.round(delay / 1000)} s` });
      this.later(delay, () => this.attempt(pool, event, { attempt: attempt + 1, queuedAtMs, throttles: 0 }));
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private later(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Cancels pending retries and waits for running invocations. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
