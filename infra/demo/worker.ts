/**
 * The demo worker: four jobs that show what Hopper does with success, flaky failures, slow jobs
 * and jobs that never succeed (they end in the dead set after their retries).
 */
import { createWorker } from '../../lib/worker/index.js';

/** Share of SendEmail jobs that fail, to show retries with backoff. */
const SEND_EMAIL_FAILURE_RATE = 0.2;

export const handler = createWorker({
  jobs: {
    /** Logs a greeting: `Greet(name)`. */
    Greet: async ([name], ctx) => {
      ctx.logger.info(`hello, ${String(name)}`);
    },
    /** Pretends to send an email and fails about one time in five: `SendEmail(to, templateId)`. */
    SendEmail: async ([to, templateId], ctx) => {
      if (Math.random() < SEND_EMAIL_FAILURE_RATE) {
        throw new Error(`mail server refused the message to ${String(to)}`);
      }
      ctx.logger.info('email sent', { to, templateId });
    },
    /** Sleeps `ms` milliseconds: `Slow(ms)`. */
    Slow: async ([ms]) => {
      const delay = typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : 0;
      await new Promise((resolve) => setTimeout(resolve, delay));
    },
    /** Always throws, so the job goes through every retry and ends in the dead set. */
    AlwaysFails: async () => {
      throw new Error('AlwaysFails always fails');
    },
  },
});
