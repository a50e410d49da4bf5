/**
 * One function instance: a Node.js child process that loads the handler once and then runs one
 * invocation at a time, like a warm Lambda execution environment. A timeout kills it; a crash
 * (exit, uncaught exception, out of memory) fails only the invocation it was running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { lineSplitter, RUNTIME_SOURCE, type LogSink } from '../log.js';
import { EMF_DROPPED, emfProblem } from './emf-check.js';
import { isChildMessage, type ChildMessage, type InvokeContext, type LambdaError } from './protocol.js';

/** How an invocation ended. */
export type InvokeOutcome =
  | { readonly ok: true; readonly value: unknown; readonly durationMs: number }
  | { readonly ok: false; readonly error: LambdaError; readonly durationMs: number };

/** What starting an instance needs. */
export interface InstanceOptions {
  /** Logical id, for log lines. */
  readonly source: string;
  readonly codeDir: string;
  readonly handler: string;
  /** The complete environment of the process. */
  readonly env: Readonly<Record<string, string>>;
  readonly memorySizeMb: number;
  readonly runnerPath: string;
  /** Modules imported (`--import`) before the runner loads the handler. */
  readonly preload: readonly string[];
  readonly log: LogSink;
  /** Lambda gives initialization 10 seconds. */
  readonly initTimeoutMs: number;
}

/** Lambda's error for an invocation that ran past its timeout. */
export function timeoutError(timeoutMs: number): LambdaError {
  return { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`, trace: [] };
}

/** A running execution environment of one function, whatever its runtime. */
export interface HostedInstance {
  /** Process id (for inspection). */
  readonly pid: number | undefined;
  /** Whether the process is running and may take another invocation. */
  readonly alive: boolean;
  /** Runs one invocation; past `timeoutMs` the instance is killed and it fails with Lambda's timeout error. */
  invoke(requestId: string, event: unknown, timeoutMs: number, context: InvokeContext): Promise<InvokeOutcome>;
  /** Tells the instance the clock offset changed. */
  sendClock(offsetMs: number): void;
  /** Stops the process (SIGKILL after `graceMs`) and waits until it has exited. */
  kill(graceMs?: number): Promise<void>;
}

/** A started instance, or why it could not start. */
export type StartResult = { readonly instance: HostedInstance } | { readonly error: LambdaError };

/** A Node.js function's instance: a child process running the function runner over IPC. */
export class FunctionInstance implements HostedInstance {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private pending: ((message: ChildMessage | { readonly type: 'exit'; readonly error: LambdaError }) => void) | undefined;
  private dead = false;
  /** The instance said it is exiting (after an uncaught exception). */
  private exiting = false;

  private constructor(child: ChildProcess, options: InstanceOptions) {
    this.child = child;
    const output = forwardOutput(child, options.source, options.log);
    child.on('message', (message: unknown) => {
      if (isChildMessage(message)) this.pending?.(message);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.dead = true;
        output.flush();
        this.pending?.({ type: 'exit', error: exitError(code, signal, output.stderrTail()) });
        resolve();
      });
    });
    // Every error (spawn failure, a send to a process that just died) must be handled here, or it would crash the runtime.
    child.on('error', () => {
      this.dead = true;
    });
  }

  /** Starts an instance and waits until its handler has loaded. */
  static async start(options: InstanceOptions): Promise<StartResult> {
    // Lambda sizes the V8 heap from the configured memory; leave room for the rest of the process.
    const heapMb = Math.max(64, Math.floor(options.memorySizeMb * 0.9));
    const preload = options.preload.flatMap((path) => ['--import', pathToFileURL(path).href]);
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, ...preload, options.runnerPath, options.codeDir, options.handler], {
      cwd: options.codeDir,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
      // Its own process group: a terminal's Ctrl-C reaches only Hopper, which stops instances in
      // order (an instance exits by itself when Hopper's end of the IPC channel closes).
      detached: true,
    });
    const instance = new FunctionInstance(child, options);
    const first = await instance.next(options.initTimeoutMs);
    if (first === 'timeout') {
      await instance.kill();
      return { error: { errorType: 'Runtime.InitTimeout', errorMessage: `initialization did not finish within ${options.initTimeoutMs} ms`, trace: [] } };
    }
    if (first.type === 'ready') return { instance };
    await instance.kill();
    if (first.type === 'init-error' || first.type === 'exit') return { error: first.error };
    return { error: { errorType: 'Runtime.InitError', errorMessage: 'the instance answered before it was ready', trace: [] } };
  }

  /** Process id (for inspection). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is running and may take another invocation. */
  get alive(): boolean {
    return !this.dead && !this.exiting;
  }

  /**
   * Runs one invocation. Past `timeoutMs` the instance is killed and the invocation fails with
   * Lambda's timeout error.
   */
  async invoke(requestId: string, event: unknown, timeoutMs: number, context: InvokeContext): Promise<InvokeOutcome> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    if (this.dead) return { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: 'the instance is not running', trace: [] }, durationMs: 0 };
    try {
      this.child.send({ type: 'invoke', requestId, event, deadlineMs: started + timeoutMs, context });
    } catch (error) {
      // The process died between invocations and its exit has not been seen yet.
      return { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: `the instance is not running: ${error instanceof Error ? error.message : String(error)}`, trace: [] }, durationMs: 0 };
    }
    for (;;) {
      const message = await this.next(timeoutMs - elapsed());
      if (message === 'timeout') {
        await this.kill();
        return { ok: false, error: timeoutError(timeoutMs), durationMs: elapsed() };
      }
      if (message.type === 'exit') return { ok: false, error: message.error, durationMs: elapsed() };
      if (message.type === 'result' && message.requestId === requestId) {
        if (!message.ok && message.fatal === true) this.exiting = true;
        return message.ok ? { ok: true, value: message.value, durationMs: elapsed() } : { ok: false, error: message.error, durationMs: elapsed() };
      }
    }
  }

  /** Tells the instance the clock offset changed. */
  sendClock(offsetMs: number): void {
    if (!this.dead && this.child.connected) this.child.send({ type: 'clock', offsetMs });
  }

  /** Stops the process (SIGKILL after a short grace) and waits until it has exited. */
  async kill(graceMs = 0): Promise<void> {
    if (!this.dead) {
      this.child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      if (graceMs > 0) {
        const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
        await this.exited;
        clearTimeout(timer);
      }
    }
    await this.exited;
  }

  private async next(timeoutMs: number): Promise<ChildMessage | { readonly type: 'exit'; readonly error: LambdaError } | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        resolve('timeout');
      }, Math.max(0, timeoutMs));
      this.pending = (message) => {
        clearTimeout(timer);
        this.pending = undefined;
        resolve(message);
      };
    });
  }

}

/** The output of an instance's process, forwarded line by line. */
export interface ForwardedOutput {
  /** Passes on what is left of an unfinished last line. */
  flush(): void;
  /** The last 4,000 characters the process wrote to stderr (to tell why it exited). */
  stderrTail(): string;
}

/**
 * Forwards a process's stdout and stderr to `log` line by line, as CloudWatch keeps both streams of
 * a function, and reports an EMF line CloudWatch would drop.
 */
export function forwardOutput(child: ChildProcess, source: string, log: LogSink): ForwardedOutput {
  let tail = '';
  const emit = (level: 'info' | 'error') => (line: string) => {
    log({ source, level, message: line });
    const problem = emfProblem(line);
    if (problem !== undefined) log({ source: RUNTIME_SOURCE, level: 'warn', message: `${source}: ${EMF_DROPPED} ${problem}` });
  };
  const out = lineSplitter(emit('info'));
  const err = lineSplitter(emit('error'));
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4_000);
    err.push(chunk);
  });
  return {
    flush: () => {
      out.flush();
      err.flush();
    },
    stderrTail: () => tail,
  };
}

/** Lambda's error for a runtime process that exited (out of memory, a crash, an exit call). */
export function exitError(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): LambdaError {
  if (/heap out of memory|Reached heap limit|MemoryError/i.test(stderrTail)) {
    return { errorType: 'Runtime.OutOfMemory', errorMessage: 'Runtime exited with error: out of memory', trace: [] };
  }
  const how = signal === null ? `exit status ${String(code)}` : `signal: ${signal}`;
  return { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${how}`, trace: [] };
}
