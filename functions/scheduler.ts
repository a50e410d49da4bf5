/**
 * The scheduler function: invoked every minute by EventBridge Scheduler; moves due jobs of the
 * scheduled and retry sets onto their queues. The logic lives in lib/scheduler/.
 */
import { configuredHandler } from '../lib/config/document.js';
import { middlewareOption } from '../lib/middleware/load.js';
import { createSchedulerHandler } from '../lib/scheduler/handler.js';

export const handler = configuredHandler(async (env) => createSchedulerHandler({ env, ...(await middlewareOption(env, import.meta.url)) }));
