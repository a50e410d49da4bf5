/**
 * `defineMiddleware`: a team's middleware, typed for the worker's `JobContext` and checked at once.
 * See lib/middleware/chain.ts for what runs where.
 */
import { checkMiddleware, type Middleware } from '../middleware/chain.js';
import type { JobContext } from './types.js';

/**
 * Declares the team's middleware: one module, given to the JobSystem (`middleware: 'src/jobs/middleware.ts'`),
 * to `createWorker({ middleware })` and to `new Client({ middleware })`, so that every path runs the same chain.
 *
 * @throws InvalidMiddlewareError naming the entry that is not a function or a step name.
 * @example
 * export default defineMiddleware({
 *   client: [(job) => ({ ...job, custom: { ...job.custom, tenant: job.custom?.tenant ?? 'acme' } })],
 *   server: ['expiry', async (job, ctx, next) => { const started = Date.now(); try { return await next(); } finally { ctx.logger.info('timed', { ms: Date.now() - started }); } }],
 *   hooks: { onDead: (dead, { logger }) => logger.error('job died', { jid: dead.job?.jid, error: dead.message }) },
 * });
 */
export function defineMiddleware(middleware: Middleware<JobContext>): Middleware<JobContext> {
  return checkMiddleware(middleware);
}
