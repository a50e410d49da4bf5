/**
 * Asynchronous invocation (InvocationType Event), as EventBridge Scheduler uses it: the caller
 * does not wait, and a failed invocation is retried twice, after about one and then two minutes
 * (Lambda's defaults), unless the runtime stops first.
 */
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import type { FunctionPool } from './function-pool.js';

/** Lambda's retry delays for asynchronous invocations. */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000] as const;

/** Runs asynchronous invocations and their retries. */
export class AsyncInvoker {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly log: LogSink;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxRetries: (pool: FunctionPool) => number;
  private stopped = false;

  /**
   * @param maxRetries retries a function allows (its EventInvokeConfig MaximumRetryAttempts).
   * @default maxRetries - 2, Lambda's default
   */
  constructor(log: LogSink, retryDelaysMs: readonly number[] = ASYNC_RETRY_DELAYS_MS, maxRetries: (pool: FunctionPool) => number = () => 2) {
    this.log = log;
    this.retryDelaysMs = retryDelaysMs;
    this.maxRetries = maxRetries;
  }

  /** Queues an invocation of `pool` with `event`; returns at once. */
  invoke(pool: FunctionPool, event: unknown, attempt = 0): void {
    if (this.stopped) return;
    const run = pool.invoke(event).then((invocation) => {
      if (invocation.ok || this.stopped) return;
      const delay = attempt < this.maxRetries(pool) ? this.retryDelaysMs[Math.min(attempt, this.retryDelaysMs.length - 1)] : undefined;
      const what = `${pool.spec.logicalId} (async) failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`;
      if (delay === undefined) {
        this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${what}; no retries left` });
        return;
      }
      this.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${what}; retrying in ${Math.round(delay / 1000)} s` });
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.invoke(pool, event, attempt + 1);
      }, delay);
      timer.unref();
      this.timers.add(timer);
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Cancels pending retries and waits for running invocations. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
