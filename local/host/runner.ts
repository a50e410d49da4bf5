/**
 * The entry point of a function instance (a child process of the function host): loads the
 * handler the way Lambda's Node.js runtime does, then runs one invocation at a time as the parent
 * asks. Bundled to plain JavaScript by the build (see runner-build.ts).
 *
 * argv: `<code dir> <handler>` (e.g. `/…/asset.abc index.handler`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLOCK_OFFSET_ENV } from '../clock.js';
import { isParentMessage, toLambdaError, type ChildMessage, type InvokeMessage, type LambdaError } from './protocol.js';

type Handler = (event: unknown, context: unknown, callback: (error?: unknown, result?: unknown) => void) => unknown;

const [codeDir = '.', handlerSpec = 'index.handler'] = process.argv.slice(2);
let current: string | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function fail(requestId: string, error: LambdaError, fatal = false): void {
  send({ type: 'result', requestId, ok: false, error, ...(fatal ? { fatal } : {}) });
}

/** Lambda's Node.js runtime looks for `<module>.js`, `.mjs`, then `.cjs` under the task root. */
function moduleFile(moduleName: string): string | undefined {
  for (const extension of ['.js', '.mjs', '.cjs']) {
    const file = join(codeDir, `${moduleName}${extension}`);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** The handler function and how many parameters it declares (3 = callback style). */
interface LoadedHandler {
  readonly run: Handler;
  readonly arity: number;
}

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : typeof value === 'function' ? Reflect.get(value, key) : undefined;
}

async function loadHandler(): Promise<LoadedHandler> {
  // `dir/app.handler` → module `dir/app`, export path `handler` (nested exports allowed: `a.b`).
  const slash = handlerSpec.lastIndexOf('/');
  const base = handlerSpec.slice(slash + 1);
  const dot = base.indexOf('.');
  const moduleName = `${handlerSpec.slice(0, slash + 1)}${base.slice(0, dot)}`;
  const exportPath = base.slice(dot + 1).split('.');
  const file = moduleFile(moduleName);
  if (file === undefined) {
    throw Object.assign(new Error(`Cannot find module '${moduleName}' in ${codeDir}`), { name: 'Runtime.ImportModuleError' });
  }
  const module: unknown = await import(pathToFileURL(file).href);
  // A CommonJS module imported as ESM may have its exports only under `default`.
  const roots = [module, property(module, 'default')];
  for (const root of roots) {
    let target: unknown = root;
    for (const key of exportPath) target = property(target, key);
    if (typeof target === 'function') {
      const fn = target;
      return { run: (event, context, callback) => Reflect.apply(fn, undefined, [event, context, callback]), arity: fn.length };
    }
  }
  throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'then') === 'function';
}

async function invoke(handler: LoadedHandler, message: InvokeMessage): Promise<unknown> {
  const { deadlineMs } = message;
  return new Promise((resolve, reject) => {
    const callback = (error?: unknown, result?: unknown) => (error === undefined || error === null ? resolve(result) : reject(error));
    const context = {
      ...message.context,
      awsRequestId: message.requestId,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
      done: callback,
      succeed: (result: unknown) => resolve(result),
      fail: (error: unknown) => reject(error),
    };
    try {
      const returned = handler.run(message.event, context, callback);
      if (isThenable(returned)) returned.then(resolve, reject);
      // A handler of fewer than three parameters that returns a plain value is done.
      else if (handler.arity < 3) resolve(returned);
    } catch (error) {
      reject(error);
    }
  });
}

/** Lambda fails the invocation with the error and restarts the runtime. */
function crash(error: unknown, type: string): void {
  if (current !== undefined) fail(current, toLambdaError(error, type), true);
  console.error(error);
  process.exitCode = 129;
  // Let the IPC message flush before exiting.
  setTimeout(() => process.exit(129), 20);
}

async function main(): Promise<void> {
  process.on('uncaughtException', (error) => crash(error, 'Runtime.UncaughtException'));
  process.on('unhandledRejection', (reason) => crash(reason, 'Runtime.UnhandledPromiseRejection'));
  // The runtime's parent went away: nothing will ever ask this instance again.
  process.on('disconnect', () => process.exit(0));
  let handler: LoadedHandler;
  try {
    handler = await loadHandler();
  } catch (error) {
    send({ type: 'init-error', error: toLambdaError(error, 'Runtime.ImportModuleError') });
    setTimeout(() => process.exit(1), 20);
    return;
  }
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) return;
    if (message.type === 'clock') {
      process.env[CLOCK_OFFSET_ENV] = String(message.offsetMs);
      return;
    }
    current = message.requestId;
    invoke(handler, message).then(
      (value) => {
        current = undefined;
        send({ type: 'result', requestId: message.requestId, ok: true, value: value === undefined ? null : value });
      },
      (error: unknown) => {
        current = undefined;
        fail(message.requestId, toLambdaError(error));
      },
    );
  });
  send({ type: 'ready' });
}

void main();
