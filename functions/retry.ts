/**
 * The retry function: consumes the retries queue. Configuration comes from the environment the
 * JobSystem construct sets (lib/config/env.ts); the logic lives in lib/retry/handler.ts.
 */
import { createRetryHandler } from '../lib/retry/handler.js';

export const handler = createRetryHandler();
