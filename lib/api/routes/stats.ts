/**
 * `GET /v1/stats?minutes=60`: processed and failed totals and history, per minute up to a day and
 * per hour up to a week (lib/stats).
 * `GET /v1/stats/cohorts?minutes=60`: the cohorts of jobs by enqueue minute, newest first.
 */
import { COHORTS } from '../../stats/cohort.js';
import { readCohorts, readStats } from '../../stats/read.js';
import type { ApiContext } from '../context.js';
import { intParameter, json } from '../http.js';
import type { Route } from '../router.js';
import type { CohortsView, StatsSummary } from '../wire.js';

/**
 * Minutes of history: at most a week (the hourly rollups live 90 days). Spans longer than
 * `minuteSpanMax` come in points of an hour, so a week is 168 points, not 10,080.
 */
export const STATS_HISTORY = { defaultMinutes: 60, maxMinutes: 10_080, minuteSpanMax: 1_440 } as const;

/** The routes. */
export function statsRoutes(ctx: ApiContext): Route[] {
  return [{
    method: 'GET',
    path: '/v1/stats',
    handle: async (request) => {
      const minutes = intParameter(request, 'minutes', 1, STATS_HISTORY.maxMinutes, STATS_HISTORY.defaultMinutes);
      const stepMinutes = minutes > STATS_HISTORY.minuteSpanMax ? 60 : 1;
      return json(200, (await readStats(ctx.stats, { nowMs: ctx.now(), minutes, stepMinutes })) satisfies StatsSummary);
    },
  }, {
    method: 'GET',
    path: '/v1/stats/cohorts',
    handle: async (request) => {
      const minutes = intParameter(request, 'minutes', 1, COHORTS.maxMinutes, COHORTS.defaultMinutes);
      return json(200, { cohorts: await readCohorts(ctx.stats, { nowMs: ctx.now(), minutes }) } satisfies CohortsView);
    },
  }];
}
