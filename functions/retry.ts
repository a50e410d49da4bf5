/**
 * The retry function: consumes the retries queue. Configuration comes from the environment the
 * JobSystem construct sets (lib/env.ts); the logic lives in lib/retry.ts.
 */
import { createRetryHandler } from '../lib/retry';

export const handler = createRetryHandler();
