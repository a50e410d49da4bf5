/**
 * The API function: Hopper's HTTP API behind a Function URL with IAM auth. Configuration comes
 * from the environment the JobSystem construct sets (lib/config/env.ts); the routes live in lib/api.
 */
import { configuredHandler } from '../lib/config/document.js';
import { middlewareOption } from '../lib/middleware/load.js';
import { createApiHandler } from '../lib/api/handler.js';

export const handler = configuredHandler(async (env) => createApiHandler({ env, ...(await middlewareOption(env, import.meta.url)) }));
