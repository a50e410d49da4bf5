/**
 * `GET /v1/busy`: the jobs running now. Long-running ones are listed from the reports their worker
 * instances write while they run (lib/stats/busy.ts); every queue's in-flight count comes from SQS,
 * so jobs too short to be reported are counted all the same.
 */
import { BUSY, readBusyReports } from '../../stats/busy.js';
import type { ApiContext } from '../context.js';
import { json } from '../http.js';
import type { Route } from '../router.js';
import type { BusyView } from '../wire.js';

/** The routes. */
export function busyRoutes(ctx: ApiContext): Route[] {
  return [{
    method: 'GET',
    path: '/v1/busy',
    handle: async () => {
      const [items, counts] = await Promise.all([
        ctx.stats.queryBusy(),
        Promise.all(Object.entries(ctx.config.queueUrls).map(async ([name, url]) => ({ name, counts: await ctx.queues.countsOf(url) }))),
      ]);
      const nowMs = ctx.now();
      const reports = readBusyReports(items, nowMs);
      return json(200, {
        at: new Date(nowMs).toISOString(),
        report_after_ms: BUSY.reportAfterMs,
        report_every_ms: BUSY.reportEveryMs,
        queues: counts.map(({ name, counts: { inFlight } }) => ({ name, in_flight: inFlight, long_running: reports.running[name] ?? 0 })),
        jobs: reports.jobs,
        stale_reports: reports.stale,
      } satisfies BusyView);
    },
  }];
}
