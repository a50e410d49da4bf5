/**
 * The retry function: consumes the retries queue. Configuration comes from the environment the
 * JobSystem construct sets (lib/config/env.ts); the logic lives in lib/retry/handler.ts.
 */
import { configuredHandler } from '../lib/config/document.js';
import { middlewareOption } from '../lib/middleware/load.js';
import { createRetryHandler } from '../lib/retry/handler.js';

export const handler = configuredHandler(async (env) => createRetryHandler({ env, ...(await middlewareOption(env, import.meta.url)) }));
