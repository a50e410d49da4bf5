/**
 * The tier governor function: invoked every minute by EventBridge Scheduler; shares each tiered
 * queue's concurrency between its tiers every 10 seconds while they have jobs waiting. The logic
 * lives in lib/governor/.
 */
import { configuredHandler } from '../lib/config/document.js';
import { createGovernorHandler } from '../lib/governor/handler.js';

export const handler = configuredHandler((env) => createGovernorHandler({ env }));
