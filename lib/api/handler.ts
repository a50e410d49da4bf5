/**
 * The API function's handler: reads the Function URL event, routes it, and turns every error into
 * a JSON answer with its status. The context (AWS clients, configuration) is built on the first
 * request and kept for the instance.
 */
import { MiddlewareError } from '../errors/middleware.js';
import type { AnyMiddleware } from '../middleware/chain.js';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { createLogger, type LogSink, type Logger } from '../observability/logger.js';
import { awsApiContext } from './aws.js';
import { apiConfigOf } from './config.js';
import type { ApiContext } from './context.js';
import { readEvent } from './event.js';
import { API_ERRORS, ApiError, errorResponse, refusedByMiddleware, upstreamFailure, type ApiResponse } from './http.js';
import { matchRoute, type Route } from './router.js';
import { batchRoutes } from './routes/batches.js';
import { flowRoutes } from './routes/flows.js';
import { cronRoutes } from './routes/crons.js';
import { jobRoutes } from './routes/jobs.js';
import { findRoutes } from './routes/find.js';
import { limitRoutes } from './routes/limits.js';
import { tenantCapRoutes } from './routes/tenant-caps.js';
import { queueRoutes } from './routes/queues.js';
import { redriveRoutes } from './routes/redrive.js';
import { setRoutes } from './routes/sets.js';
import { statsRoutes } from './routes/stats.js';
import { busyRoutes } from './routes/busy.js';

/** Every route of the API, in matching order. */
export function apiRoutes(ctx: ApiContext): Route[] {
  return [...jobRoutes(ctx), ...findRoutes(ctx), ...queueRoutes(ctx), ...setRoutes(ctx), ...batchRoutes(ctx), ...flowRoutes(ctx), ...cronRoutes(ctx), ...statsRoutes(ctx), ...busyRoutes(ctx), ...limitRoutes(ctx), ...tenantCapRoutes(ctx), ...redriveRoutes(ctx)];
}

/** Options of {@link createApiHandler}. */
export interface ApiHandlerOptions {
  /** @default process.env */
  readonly env?: Env;
  /** Builds the context (tests pass fakes). @default - AWS clients for `env` */
  readonly context?: (logger: Logger) => Promise<ApiContext> | ApiContext;
  /** Where log lines go. @default console.log */
  readonly log?: LogSink;
  /**
   * The team's middleware: its client chain runs on each job the API enqueues (via `api`) or runs
   * from a set (`run-now`, `dead-retry`), `onDead` after a burial by run-now.
   */
  readonly middleware?: AnyMiddleware;
}

/**
 * Creates the API's Function URL handler.
 *
 * @example
 * export const handler = createApiHandler();
 */
export function createApiHandler(options: ApiHandlerOptions = {}): (event: LambdaFunctionURLEvent) => Promise<ApiResponse> {
  const config = HopperConfig.of(options.env);
  const logger = createLogger(options.log === undefined ? {} : { sink: options.log });
  let routes: Promise<Route[]> | undefined;
  const load = (): Promise<Route[]> => {
    routes ??= (async () => {
      const ctx = options.context === undefined ? await awsApiContext(config, apiConfigOf(config), logger, () => config.clock().getTime(), options.middleware) : await options.context(logger);
      return apiRoutes(ctx);
    })();
    // A failed start (bad configuration) is retried on the next request rather than cached.
    routes.catch(() => { routes = undefined; });
    return routes;
  };

  return async (event) => {
    const request = readEvent(event);
    try {
      // The Function URL's AWS_IAM auth refuses unsigned requests before they get here; this is the
      // second line, for a URL reconfigured to NONE by hand: no verified identity, no access.
      if (request.caller === undefined) {
        throw new ApiError(401, API_ERRORS.unauthenticated, 'this API takes only SigV4-signed requests (service lambda); the request carried no verified IAM identity');
      }
      const match = matchRoute(await load(), request);
      return await match.route.handle(request, match.params);
    } catch (error) {
      if (error instanceof ApiError) return errorResponse(error);
      if (error instanceof MiddlewareError) return errorResponse(refusedByMiddleware(error));
      const requestId = event.requestContext.requestId;
      const upstream = upstreamFailure(error);
      if (upstream !== undefined) {
        logger.warn('an AWS call failed', { method: request.method, path: request.path, request_id: requestId, error });
        return errorResponse(upstream);
      }
      logger.error('request failed', { method: request.method, path: request.path, request_id: requestId, error });
      return errorResponse(new ApiError(500, API_ERRORS.internal, `internal error (request ${requestId}); the function's logs have the details`));
    }
  };
}
