/** The bench worker: a job that does nothing, and one that fails on its first run only. */
import { createWorker } from '../../lib/worker/index.js';

export const handler = createWorker({
  jobs: {
    Noop: () => undefined,
    /** Fails the first time (no failure recorded yet), succeeds on its retry. */
    FailOnce: (_args, ctx) => {
      if (ctx.job.failure === undefined) throw new Error('FailOnce fails its first run');
    },
  },
});
