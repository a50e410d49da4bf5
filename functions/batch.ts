/**
 * The batch function: consumes the state table's stream (batch items only) and enqueues batch
 * callbacks exactly once. Configuration comes from the environment the JobSystem construct sets
 * (lib/env.ts); the logic lives in lib/batch/stream.ts.
 */
import { createBatchStreamHandler } from '../lib/batch/stream';

export const handler = createBatchStreamHandler();
