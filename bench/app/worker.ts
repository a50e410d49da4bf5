/**
 * The bench worker: a job that does nothing, one that fails on its first run only, one that reports
 * its progress twice, one with a step of `ctx.once`, one that iterates over ten items, and one that
 * says how long it waited in its queue, for its tenant (the fairness bench reads it) or its class
 * (the tiers bench reads it).
 */
import { createWorker, iterate } from '../../lib/worker/index.js';

export const handler = createWorker({
  jobs: {
    Noop: () => undefined,
    /** Fails the first time (no failure recorded yet), succeeds on its retry. */
    FailOnce: (_args, ctx) => {
      if (ctx.job.failure === undefined) throw new Error('FailOnce fails its first run');
    },
    /** Half-way and done: a tracked job writes the first, the second waits (3 s), success writes 100. */
    Report: async (_args, ctx) => {
      await ctx.progress(50, 'half');
      await ctx.progress(100, 'done');
      return { rows: 2 };
    },
    /** One step that runs once. */
    Step: async (_args, ctx) => ctx.once('step', () => ({ done: true })),
    /** Logs its tenant and its wait from enqueue to start, then works `args[0]` ms. */
    Tenanted: async (args, ctx) => {
      ctx.logger.info('fairness wait', { tenant: ctx.job.custom?.tenant ?? null, waited_ms: Date.now() - Date.parse(ctx.job.enqueued_at ?? ctx.job.created_at ?? '') });
      const ms = typeof args[0] === 'number' ? args[0] : 0;
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    /** Logs its class (`args[1]`: bulk or critical), when it started and its wait from enqueue to start, then works `args[0]` ms. */
    Classed: async (args, ctx) => {
      const now = Date.now();
      ctx.logger.info('tier wait', { class: args[1] ?? null, started_ms: now, waited_ms: now - Date.parse(ctx.job.enqueued_at ?? ctx.job.created_at ?? '') });
      const ms = typeof args[0] === 'number' ? args[0] : 0;
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    /** Ten items in one slice. */
    Walk: iterate<[], number, number>({
      items: function* (_args, cursor) {
        for (let index = cursor ?? 0; index < 10; index += 1) yield [index, index + 1];
      },
      each: () => undefined,
    }),
  },
});
