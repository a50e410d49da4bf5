/**
 * The API function: Hopper's HTTP API behind a Function URL with IAM auth. Configuration comes
 * from the environment the JobSystem construct sets (lib/env.ts); the routes live in lib/api.
 */
import { createApiHandler } from '../lib/api/handler';

export const handler = createApiHandler();
