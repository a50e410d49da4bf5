/**
 * The cron function: invoked by one EventBridge Scheduler schedule per declared cron, with the
 * cron's input and the tick's scheduled time; enqueues the tick's job once. The logic lives in
 * lib/cron/handler.ts.
 */
import { configuredHandler } from '../lib/config/document.js';
import { middlewareOption } from '../lib/middleware/load.js';
import { createCronHandler } from '../lib/cron/handler.js';

export const handler = configuredHandler(async (env) => createCronHandler({ env, ...(await middlewareOption(env, import.meta.url)) }));
