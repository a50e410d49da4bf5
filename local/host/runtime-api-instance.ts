/**
 * An instance of a function whose runtime is not Node.js: its process is a client of the Lambda
 * Runtime API (`/2018-06-01/runtime/invocation/next`, `…/response`, `…/error`, `init/error`), the
 * interface every Lambda runtime speaks, served here on a port of the instance's own. A Python
 * function runs under the local runtime's bootstrap (python-bootstrap.py, standard library only); a
 * custom runtime (`provided.*`) runs the `bootstrap` of its code, as on Lambda.
 *
 * Like the Node.js instances it runs one invocation at a time; a timeout or an exit fails only the
 * invocation it was running, and the pool replaces the instance.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LogSink } from '../log.js';
import { exitError, forwardOutput, timeoutError, type HostedInstance, type InvokeOutcome, type StartResult } from './instance.js';
import type { InvokeContext, LambdaError } from './protocol.js';

/** The path every Runtime API route starts with. */
export const RUNTIME_API_PREFIX = '/2018-06-01/runtime';

/** What starting an instance needs. */
export interface RuntimeApiInstanceOptions {
  /** Logical id, for log lines. */
  readonly source: string;
  readonly codeDir: string;
  /** The program to run and its arguments (the interpreter and the bootstrap, or the custom runtime's bootstrap). */
  readonly command: string;
  readonly args: readonly string[];
  /** The environment of the process; AWS_LAMBDA_RUNTIME_API is added. */
  readonly env: Readonly<Record<string, string>>;
  readonly log: LogSink;
  /** Lambda gives initialization 10 seconds. */
  readonly initTimeoutMs: number;
  /** What to tell the user when the command cannot be started (e.g. which variable picks the interpreter). */
  readonly missingCommandHint: string;
}

/** An invocation handed to the instance and not finished yet. */
interface Current {
  readonly requestId: string;
  readonly event: unknown;
  readonly deadlineMs: number;
  readonly context: InvokeContext;
  /** Whether the runtime has fetched it with `next`. */
  delivered: boolean;
  readonly settle: (outcome: { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: LambdaError }) => void;
}

type StartSignal = { readonly type: 'ready' } | { readonly type: 'init-error'; readonly error: LambdaError } | { readonly type: 'exit'; readonly error: LambdaError };

/** A running process of a non-Node.js function, driven through the Runtime API. */
export class RuntimeApiInstance implements HostedInstance {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private dead = false;
  /** A `next` request waiting for an invocation. */
  private waitingNext: ServerResponse | undefined;
  private current: Current | undefined;
  private onStart: ((signal: StartSignal) => void) | undefined;
  private started = false;

  private constructor(private readonly server: Server) {}

  /** Starts an instance and waits until its runtime asks for the first invocation. */
  static async start(options: RuntimeApiInstanceOptions): Promise<StartResult> {
    const server = createServer();
    const instance = new RuntimeApiInstance(server);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => instance.route(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const signal = new Promise<StartSignal>((resolve) => {
      instance.onStart = resolve;
    });
    instance.spawn(options, `127.0.0.1:${port}`);
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([signal, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.initTimeoutMs)))]);
    clearTimeout(timer);
    instance.onStart = undefined;
    if (first === 'timeout') {
      await instance.kill();
      return { error: { errorType: 'Runtime.InitTimeout', errorMessage: `initialization did not finish within ${options.initTimeoutMs} ms`, trace: [] } };
    }
    if (first.type === 'ready') return { instance };
    await instance.kill();
    return { error: first.error };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !this.dead;
  }

  async invoke(requestId: string, event: unknown, timeoutMs: number, context: InvokeContext): Promise<InvokeOutcome> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    if (this.dead) return { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: 'the instance is not running', trace: [] }, durationMs: 0 };
    return new Promise<InvokeOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.current = undefined;
        void this.kill().then(() => resolve({ ok: false, error: timeoutError(timeoutMs), durationMs: elapsed() }));
      }, timeoutMs);
      this.current = {
        requestId,
        event,
        deadlineMs: started + timeoutMs,
        context,
        delivered: false,
        settle: (outcome) => {
          clearTimeout(timer);
          this.current = undefined;
          resolve({ ...outcome, durationMs: elapsed() });
        },
      };
      // The runtime asks for the next invocation right after posting a result; it may not have yet.
      const waiting = this.waitingNext;
      this.waitingNext = undefined;
      if (waiting !== undefined) this.deliver(waiting);
    });
  }

  /**
   * Nothing to do: a runtime reads HOPPER_CLOCK_OFFSET_MS once at start, and the pool retires every
   * instance started under an older offset after its invocation.
   */
  sendClock(): void {}

  async kill(graceMs = 0): Promise<void> {
    const child = this.child;
    if (!this.dead && child !== undefined) {
      child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      if (graceMs > 0) {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await this.exited;
        clearTimeout(timer);
      }
    }
    await this.exited;
    this.waitingNext?.destroy();
    this.waitingNext = undefined;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private spawn(options: RuntimeApiInstanceOptions, api: string): void {
    let child: ChildProcess;
    try {
      child = spawn(options.command, [...options.args], {
        cwd: options.codeDir,
        env: { ...options.env, AWS_LAMBDA_RUNTIME_API: api },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, as the Node.js instances: a terminal's Ctrl-C reaches only Hopper.
        detached: true,
      });
    } catch (error) {
      this.dead = true;
      this.onStart?.({ type: 'exit', error: this.spawnError(options, error) });
      return;
    }
    this.child = child;
    const output = forwardOutput(child, options.source, options.log);
    this.exited = new Promise((resolve) => {
      let done = false;
      const end = (error: LambdaError) => {
        if (done) return;
        done = true;
        this.dead = true;
        output.flush();
        this.onStart?.({ type: 'exit', error });
        this.current?.settle({ ok: false, error });
        resolve();
      };
      child.once('exit', (code, signal) => end(exitError(code, signal, output.stderrTail())));
      // A program that cannot be started (missing, not executable) emits only 'error'.
      child.once('error', (error) => end(this.spawnError(options, error)));
    });
  }

  private spawnError(options: RuntimeApiInstanceOptions, error: unknown): LambdaError {
    const why = error instanceof Error ? error.message : String(error);
    return { errorType: 'Runtime.InvalidEntrypoint', errorMessage: `could not start ${options.command}: ${why}; ${options.missingCommandHint}`, trace: [] };
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(RUNTIME_API_PREFIX)) return reply(response, 404, { errorType: 'NotFound', errorMessage: `no Runtime API route ${path}` });
    const route = path.slice(RUNTIME_API_PREFIX.length);
    if (request.method === 'GET' && route === '/invocation/next') return this.next(response);
    if (request.method !== 'POST') return reply(response, 405, { errorType: 'MethodNotAllowed', errorMessage: `${request.method ?? '?'} ${path}` });
    void readBody(request).then((body) => {
      if (route === '/init/error') return this.initError(request, body, response);
      const match = /^\/invocation\/([^/]+)\/(response|error)$/.exec(route);
      if (match === null) return reply(response, 404, { errorType: 'NotFound', errorMessage: `no Runtime API route ${path}` });
      const [, requestId = '', kind] = match;
      const current = this.current;
      if (current === undefined || current.requestId !== decodeURIComponent(requestId) || !current.delivered) {
        return reply(response, 400, { errorType: 'InvalidRequestID', errorMessage: `${requestId} is not the invocation this runtime is running` });
      }
      reply(response, 202, { status: 'OK' });
      if (kind === 'response') current.settle({ ok: true, value: parseResponse(body) });
      else current.settle({ ok: false, error: parseError(body, request.headers['lambda-runtime-function-error-type']) });
    });
  }

  private next(response: ServerResponse): void {
    if (!this.started) {
      this.started = true;
      this.onStart?.({ type: 'ready' });
    }
    if (this.current !== undefined && !this.current.delivered) return this.deliver(response);
    this.waitingNext?.destroy();
    this.waitingNext = response;
  }

  private deliver(response: ServerResponse): void {
    const current = this.current;
    if (current === undefined) return;
    current.delivered = true;
    const body = JSON.stringify(current.event) ?? 'null';
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': current.requestId,
      'Lambda-Runtime-Deadline-Ms': String(current.deadlineMs),
      'Lambda-Runtime-Invoked-Function-Arn': current.context.invokedFunctionArn,
      'Lambda-Runtime-Trace-Id': traceId(),
    });
    response.end(body);
  }

  private initError(request: IncomingMessage, body: Buffer, response: ServerResponse): void {
    reply(response, 202, { status: 'OK' });
    this.onStart?.({ type: 'init-error', error: parseError(body, request.headers['lambda-runtime-function-error-type'], 'Runtime.Unknown') });
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A response body is JSON as a rule; anything else is passed on as the text it is. */
function parseResponse(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** An error body as runtimes post it: `{ errorMessage, errorType, stackTrace }`. */
function parseError(body: Buffer, headerType: string | string[] | undefined, fallbackType = 'Runtime.Unknown'): LambdaError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const field = (key: string): unknown => (typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, key) : undefined);
  const type = field('errorType');
  const message = field('errorMessage');
  const stack = field('stackTrace');
  const header = Array.isArray(headerType) ? headerType[0] : headerType;
  return {
    errorType: typeof type === 'string' && type !== '' ? type : header ?? fallbackType,
    errorMessage: typeof message === 'string' ? message : body.toString('utf8'),
    trace: Array.isArray(stack) ? stack.filter((line): line is string => typeof line === 'string') : [],
  };
}

/** An X-Ray trace header as Lambda passes one to each invocation (not sampled). */
function traceId(): string {
  const seconds = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${seconds}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}
