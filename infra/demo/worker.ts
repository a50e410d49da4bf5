/**
 * The demo worker: four jobs that show what Hopper does with success, flaky failures, slow jobs
 * and jobs that never succeed (they end in the dead set after their retries). Typed with
 * `defineJobs`; `Greet` checks its arguments with a schema, so `Greet(42)` goes to the dead set at
 * once, naming the field.
 */
import { createWorker, defineJobs, withArgs, type StandardSchemaV1 } from '../../lib/worker/index.js';

/** Share of SendEmail jobs that fail, to show retries with backoff. */
const SEND_EMAIL_FAILURE_RATE = 0.2;

/** `[name]`, a non-empty string: a Standard Schema written by hand, as Zod or Valibot would give one. */
const greetArgs: StandardSchemaV1<unknown, [string]> = {
  '~standard': {
    version: 1,
    vendor: 'hopper-demo',
    validate: (value) => (Array.isArray(value) && typeof value[0] === 'string' && value[0] !== ''
      ? { value: [value[0]] }
      : { issues: [{ message: 'expected a name (a non-empty string)', path: [0] }] }),
  },
};

export const jobs = defineJobs({
  /** Logs a greeting: `Greet(name)`. */
  Greet: withArgs(greetArgs, async ([name], ctx) => {
    ctx.logger.info(`hello, ${name}`);
  }),
  /** Pretends to send an email and fails about one time in five: `SendEmail(to, templateId)`. */
  SendEmail: async ([to, templateId]: [string, number], ctx) => {
    if (Math.random() < SEND_EMAIL_FAILURE_RATE) {
      throw new Error(`mail server refused the message to ${String(to)}`);
    }
    ctx.logger.info('email sent', { to, templateId });
  },
  /**
   * Sleeps `ms` milliseconds, reporting its progress every second: `Slow(ms)`. One of more than ten
   * seconds shows on the dashboard's Busy page while it runs.
   */
  Slow: async ([ms]: [number], ctx) => {
    const total = typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : 0;
    for (let slept = 0; slept < total;) {
      const step = Math.min(1_000, total - slept);
      await new Promise((resolve) => setTimeout(resolve, step));
      slept += step;
      await ctx.progress(Math.floor((100 * slept) / total), `${Math.round(slept / 1000)} of ${Math.round(total / 1000)} s`);
    }
  },
  /** Always throws, so the job goes through every retry and ends in the dead set. */
  AlwaysFails: async () => {
    throw new Error('AlwaysFails always fails');
  },
});

export const handler = createWorker({ jobs });
