/**
 * The batch function: consumes the state table's stream (batch items only) and enqueues batch
 * callbacks exactly once. Configuration comes from the environment the JobSystem construct sets
 * (lib/config/env.ts); the logic lives in lib/batch/handler.ts.
 */
import { configuredHandler } from '../lib/config/document.js';
import { middlewareOption } from '../lib/middleware/load.js';
import { createBatchStreamHandler } from '../lib/batch/handler.js';

export const handler = configuredHandler(async (env) => createBatchStreamHandler({ env, ...(await middlewareOption(env, import.meta.url)) }));
