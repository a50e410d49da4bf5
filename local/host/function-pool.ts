/**
 * The instances of one function: takes a concurrency slot from the account for each invocation
 * (throttled at once when there is none, as Lambda does), reuses warm instances, starts new ones up
 * to the local instance bound, queues invocations beyond that bound, retires instances that crashed
 * or sat idle too long, and fails responses larger than Lambda returns.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { LogStore } from '../log-store.js';
import { LAMBDA_LIMITS } from '../../lib/aws/lambda-limits.js';
import type { FunctionSpec } from '../resources/function.js';
import { CLOCK_OFFSET_ENV } from '../clock.js';
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import { PYTHON_ENV } from '../options.js';
import { THROTTLE_ERROR_TYPE, type AccountConcurrency, type ThrottleReason } from './concurrency.js';
import { FunctionInstance, type HostedInstance, type InvokeOutcome, type StartResult } from './instance.js';
import { RuntimeApiInstance } from './runtime-api-instance.js';
import type { InvokeContext, LambdaError } from './protocol.js';

/** Lambda's error type for a response over {@link LAMBDA_LIMITS.responseBytes}. */
export const RESPONSE_TOO_LARGE_ERROR_TYPE = 'Function.ResponseSizeTooLarge';

/** Settings shared by every pool of a runtime. */
export interface PoolOptions {
  readonly runnerPath: string;
  /** The interpreter that runs `python3.*` functions, and the bootstrap it runs (python-bootstrap.py). */
  readonly python: { readonly command: string; readonly bootstrapPath: string };
  readonly log: LogSink;
  /** Environment every instance gets before the function's own (AWS endpoints, Lambda variables). */
  readonly baseEnv: (spec: FunctionSpec) => Readonly<Record<string, string>>;
  /**
   * Most instances of one function when it reserves no concurrency: a local bound on processes,
   * not a throttle (invocations beyond it wait for an instance).
   */
  readonly defaultConcurrency: number;
  /** The account's concurrency, shared by every pool of the runtime. */
  readonly account: AccountConcurrency;
  /** Idle instances are stopped after this long. */
  readonly idleTimeoutMs: number;
  /** Time the handler module has to load. */
  readonly initTimeoutMs: number;
  /** Modules each instance imports before its handler. */
  readonly preload: readonly string[];
  /** Keeps what the instances print, as CloudWatch Logs would (../log-store.ts). */
  readonly logStore?: LogStore;
}

/**
 * An invocation's outcome with its request id; `throttled` says why Lambda would have refused to
 * run it (its error is then a TooManyRequestsException).
 */
export type Invocation =
  | (Extract<InvokeOutcome, { readonly ok: true }> & { readonly requestId: string })
  | (Extract<InvokeOutcome, { readonly ok: false }> & { readonly requestId: string; readonly throttled?: ThrottleReason });

/** Why Lambda throttled `invocation`, or undefined when it was not throttled. */
export function throttleOf(invocation: Invocation): ThrottleReason | undefined {
  return invocation.ok ? undefined : invocation.throttled;
}

/** What {@link FunctionPool.invoke} reports to observers. */
export interface InvocationEvent {
  readonly functionLogicalId: string;
  readonly requestId: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error: LambdaError | undefined;
}

/** Runs invocations of one function on a bounded set of warm instances. */
export class FunctionPool {
  readonly spec: FunctionSpec;
  private readonly options: PoolOptions;
  private readonly idle: HostedInstance[] = [];
  private readonly all = new Set<HostedInstance>();
  private readonly waiters: (() => void)[] = [];
  private readonly idleTimers = new Map<HostedInstance, NodeJS.Timeout>();
  /** Bumped when the clock offset changes; instances of an older generation retire. */
  private generation = 0;
  private readonly generations = new WeakMap<HostedInstance, number>();
  /** Each instance's log stream: one per execution environment, as on Lambda (its name in busy reports). */
  private readonly streams = new WeakMap<HostedInstance, string>();
  private starting = 0;
  private busy = 0;
  private stopped = false;
  private clockOffsetMs = 0;
  private readonly observers = new Set<(event: InvocationEvent) => void>();

  constructor(spec: FunctionSpec, options: PoolOptions) {
    this.spec = spec;
    this.options = options;
  }

  /** Most instances of this function that run at once locally (its reservation, else the local bound). */
  get concurrency(): number {
    return this.spec.reservedConcurrency ?? this.options.defaultConcurrency;
  }

  /** Invocations running now. */
  get inFlight(): number {
    return this.busy;
  }

  /** Process ids of the running instances. */
  get pids(): number[] {
    return [...this.all].flatMap((instance) => (instance.pid === undefined ? [] : [instance.pid]));
  }

  /** Calls `observer` after every invocation. */
  onInvocation(observer: (event: InvocationEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Runs the function once with `event`, waiting for a free instance if all are busy. */
  async invoke(event: unknown): Promise<Invocation> {
    const requestId = randomUUID();
    const lease = this.options.account.acquire(this.spec);
    if ('throttled' in lease) {
      const error = { errorType: THROTTLE_ERROR_TYPE, errorMessage: 'Rate Exceeded.', trace: [] };
      this.notify({ functionLogicalId: this.spec.logicalId, requestId, ok: false, durationMs: 0, error });
      return { ok: false, error, durationMs: 0, requestId, throttled: lease.throttled };
    }
    let outcome: InvokeOutcome;
    try {
      outcome = limitResponse(await this.run(requestId, event));
    } finally {
      lease.release();
    }
    const result = { ...outcome, requestId };
    this.notify({ functionLogicalId: this.spec.logicalId, requestId, ok: outcome.ok, durationMs: outcome.durationMs, error: outcome.ok ? undefined : outcome.error });
    return result;
  }

  private notify(event: InvocationEvent): void {
    for (const observer of this.observers) observer(event);
  }

  /**
   * Passes a new clock offset to every instance (and to those started later). Instances also
   * retire — idle ones now, busy ones after their invocation — because code may have read the
   * offset once at startup; their replacements start with the new value.
   */
  setClockOffset(offsetMs: number): void {
    if (offsetMs === this.clockOffsetMs) return;
    this.clockOffsetMs = offsetMs;
    this.generation += 1;
    for (const instance of this.all) instance.sendClock(offsetMs);
    for (const instance of this.idle.splice(0)) this.retireIdleNow(instance);
  }

  /** Stops every instance and fails waiting invocations. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiters.splice(0)) waiter();
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all([...this.all].map((instance) => instance.kill(500)));
    this.all.clear();
    this.idle.length = 0;
  }

  private async run(requestId: string, event: unknown): Promise<InvokeOutcome> {
    const fail = (errorType: string, errorMessage: string): InvokeOutcome => ({ ok: false, error: { errorType, errorMessage, trace: [] }, durationMs: 0 });
    if (this.spec.unsupported !== undefined) return fail('Runtime.Unsupported', `${this.spec.logicalId}: ${this.spec.unsupported}`);
    if (this.stopped) return fail('Runtime.Stopped', 'the local runtime is stopping');
    const acquired = await this.acquire();
    if ('error' in acquired) return { ok: false, error: acquired.error, durationMs: 0 };
    const instance = acquired.instance;
    this.busy += 1;
    try {
      const timeoutMs = this.spec.timeoutSeconds * 1000;
      const outcome = await instance.invoke(requestId, event, timeoutMs, this.context(instance));
      // Lambda replaces an execution environment after a timeout or a runtime-level failure.
      if (!instance.alive || (!outcome.ok && (outcome.error.errorType.startsWith('Runtime.') || outcome.error.errorType === 'Sandbox.Timedout'))) {
        await instance.kill();
      }
      return outcome;
    } finally {
      this.busy -= 1;
      this.release(instance);
    }
  }

  private context(instance: HostedInstance): InvokeContext {
    const { spec } = this;
    return {
      functionName: spec.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: spec.arn,
      memoryLimitInMB: String(spec.memorySizeMb),
      logGroupName: `/aws/lambda/${spec.name}`,
      logStreamName: this.streams.get(instance) ?? logStreamName(),
    };
  }

  private async acquire(): Promise<{ readonly instance: HostedInstance } | { readonly error: LambdaError }> {
    for (;;) {
      if (this.stopped) return { error: { errorType: 'Runtime.Stopped', errorMessage: 'the local runtime is stopping', trace: [] } };
      const warm = this.idle.pop();
      if (warm !== undefined) {
        const timer = this.idleTimers.get(warm);
        if (timer !== undefined) clearTimeout(timer);
        this.idleTimers.delete(warm);
        if (warm.alive) return { instance: warm };
        this.all.delete(warm);
        continue;
      }
      if (this.all.size + this.starting < this.concurrency) return this.startInstance();
      // Wait until an invocation ends, then look again.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /**
   * Starts an instance with the current clock offset. An instance whose start overlapped a change
   * of the offset read the old one (code may keep what it read at startup, as the worker's clock
   * does), so it is stopped and another one started.
   */
  private async startInstance(): Promise<{ readonly instance: HostedInstance } | { readonly error: LambdaError }> {
    // The slot stays counted as starting while a stale instance is replaced.
    this.starting += 1;
    try {
      for (;;) {
        const generation = this.generation;
        const started = await this.startOnce();
        if (!('instance' in started) || generation === this.generation) {
          if ('instance' in started) this.all.add(started.instance);
          return started;
        }
        await started.instance.kill(500);
      }
    } finally {
      this.starting -= 1;
    }
  }

  /** One start with the offset as it is now. */
  private async startOnce(): Promise<{ readonly instance: HostedInstance } | { readonly error: LambdaError }> {
    const { spec, options } = this;
    const stream = logStreamName();
    const result = await this.startProcess({ ...options.baseEnv(spec), AWS_LAMBDA_LOG_STREAM_NAME: stream, ...spec.environment, [CLOCK_OFFSET_ENV]: String(this.clockOffsetMs) }, stream);
    if ('error' in result) {
      options.log({ source: RUNTIME_SOURCE, level: 'error', message: `${spec.logicalId} failed to initialize: ${result.error.errorType}: ${result.error.errorMessage}` });
      return result;
    }
    if (this.stopped) {
      await result.instance.kill();
      return { error: { errorType: 'Runtime.Stopped', errorMessage: 'the local runtime is stopping', trace: [] } };
    }
    this.generations.set(result.instance, this.generation);
    this.streams.set(result.instance, stream);
    return result;
  }

  /** Starts a process of the function's runtime with `env`. */
  private async startProcess(env: Readonly<Record<string, string>>, stream: string): Promise<StartResult> {
    const { spec, options } = this;
    const log: LogSink = options.logStore === undefined ? options.log : (entry) => {
      options.log(entry);
      if (entry.source === spec.logicalId) options.logStore?.add(`/aws/lambda/${spec.name}`, stream, entry.message);
    };
    const common = { source: spec.logicalId, codeDir: spec.codeDir, log, initTimeoutMs: options.initTimeoutMs };
    if (spec.family === 'node') {
      return FunctionInstance.start({ ...common, handler: spec.handler, env, memorySizeMb: spec.memorySizeMb, runnerPath: options.runnerPath, preload: options.preload });
    }
    if (spec.family === 'python') {
      // Unbuffered, so that lines reach the log as they are printed; no bytecode written into the asset (Lambda's task root is read-only).
      const pythonEnv = { ...env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
      const hint = `${spec.logicalId} (${spec.runtime}) needs Python 3 with boto3; set ${PYTHON_ENV} to the interpreter to use`;
      return RuntimeApiInstance.start({ ...common, env: pythonEnv, command: options.python.command, args: [options.python.bootstrapPath], missingCommandHint: hint });
    }
    // A custom runtime is the `bootstrap` program of its code, as on Lambda.
    const hint = `${spec.logicalId} (${spec.runtime}) runs the executable file bootstrap of its code directory ${spec.codeDir}`;
    return RuntimeApiInstance.start({ ...common, env, command: join(spec.codeDir, 'bootstrap'), args: [], missingCommandHint: hint });
  }

  private release(instance: HostedInstance): void {
    if (!instance.alive || this.stopped) {
      this.all.delete(instance);
    } else if ((this.generations.get(instance) ?? this.generation) < this.generation) {
      this.all.delete(instance);
      void instance.kill(500);
    } else {
      this.idle.push(instance);
      const timer = setTimeout(() => this.retireIdle(instance), this.options.idleTimeoutMs);
      timer.unref();
      this.idleTimers.set(instance, timer);
    }
    this.waiters.shift()?.();
  }

  private retireIdleNow(instance: HostedInstance): void {
    const timer = this.idleTimers.get(instance);
    if (timer !== undefined) clearTimeout(timer);
    this.idleTimers.delete(instance);
    this.all.delete(instance);
    void instance.kill(500);
  }

  private retireIdle(instance: HostedInstance): void {
    const index = this.idle.indexOf(instance);
    if (index < 0) return;
    this.idle.splice(index, 1);
    this.idleTimers.delete(instance);
    this.all.delete(instance);
    void instance.kill(500);
  }
}

/** Lambda fails an invocation whose response (as JSON) is larger than it returns. */
function limitResponse(outcome: InvokeOutcome): InvokeOutcome {
  if (!outcome.ok) return outcome;
  const bytes = Buffer.byteLength(JSON.stringify(outcome.value) ?? 'null', 'utf8');
  if (bytes <= LAMBDA_LIMITS.responseBytes) return outcome;
  return {
    ok: false,
    error: { errorType: RESPONSE_TOO_LARGE_ERROR_TYPE, errorMessage: `Response payload size (${bytes} bytes) exceeded maximum allowed payload size (${LAMBDA_LIMITS.responseBytes} bytes).`, trace: [] },
    durationMs: outcome.durationMs,
  };
}

/** A log stream's name as Lambda makes them: the date, the version and a random id. */
function logStreamName(): string {
  return `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomUUID().replaceAll('-', '')}`;
}
