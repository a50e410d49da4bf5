/**
 * The API function: Hopper's HTTP API behind a Function URL with IAM auth. Configuration comes
 * from the environment the JobSystem construct sets (lib/config/env.ts); the routes live in lib/api.
 */
import { createApiHandler } from '../lib/api/handler.js';

export const handler = createApiHandler();
