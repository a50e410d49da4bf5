/**
 * How Hopper's own functions get the team's middleware: the JobSystem construct bundles the module
 * named by its `middleware` prop next to each function's prebuilt bundle (`middleware.mjs`) and
 * sets `HOPPER_MIDDLEWARE`. The function imports it once per instance, at its first event.
 */
import { ConfigurationError } from '../errors/base.js';
import { InvalidMiddlewareError } from '../errors/middleware.js';
import { ENV, type Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { isRecord } from '../job/model.js';
import { checkMiddleware, type Middleware } from './chain.js';

/**
 * The file the construct writes next to a function's bundle, the variable's value that says so, and
 * the value a worker of a JobSystem with middleware gets (it imports the module itself, and warns
 * when it was made without it).
 */
export const MIDDLEWARE_BUNDLE = { file: 'middleware.mjs', env: 'bundled', declared: 'declared' } as const;

/**
 * The team's middleware for one of Hopper's functions, or undefined when the stack declares none.
 *
 * @param base the URL of the function's bundle (`import.meta.url` of its entry)
 * @throws ConfigurationError when the bundle is missing; InvalidMiddlewareError when its export is not middleware.
 */
export async function loadMiddleware(env: Env, base: string): Promise<Middleware | undefined> {
  const mode = HopperConfig.of(env).middleware;
  if (mode === undefined) return undefined;
  if (mode !== MIDDLEWARE_BUNDLE.env) throw new ConfigurationError(`${ENV.middleware} must be '${MIDDLEWARE_BUNDLE.env}' or unset, but is ${JSON.stringify(mode)}`);
  const url = new URL(MIDDLEWARE_BUNDLE.file, base).href;
  let module: unknown;
  try {
    module = await import(url);
  } catch (error) {
    throw new ConfigurationError(`${ENV.middleware} is set but the middleware bundle ${url} could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
  }
  return middlewareExport(module, url);
}

/** The middleware a module exports: its default export, else its export named `middleware`. */
export function middlewareExport(module: unknown, where: string): Middleware {
  const exported = isRecord(module) ? (module.default ?? module.middleware) : undefined;
  if (exported === undefined) throw new InvalidMiddlewareError(`${where} exports no middleware: export default defineMiddleware({ … }) or export const middleware = …`);
  return checkMiddleware(exported as Middleware);
}

/**
 * `{ middleware }` for a handler's options when the function has the team's middleware, else `{}`.
 *
 * @example
 * export const handler = configuredHandler(async (env) => createRetryHandler({ env, ...(await middlewareOption(env, import.meta.url)) }));
 */
export async function middlewareOption(env: Env, base: string): Promise<{ readonly middleware?: Middleware }> {
  const middleware = await loadMiddleware(env, base);
  return middleware === undefined ? {} : { middleware };
}
