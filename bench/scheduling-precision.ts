/**
 * Scheduling precision on its own (`npm run bench -- scheduling` runs the same measurement; see
 * bench/parts/scheduling.ts).
 *
 * Usage: npm run bench:scheduling [-- --jobs 300 --spread 20 --lead 5 --pollers 4]
 * Prints one JSON object: machine, Node, commit, date, parameters and lateness percentiles (ms).
 */
import { parseArgs } from 'node:util';
import { runMeta } from './lib/meta.js';
import { positiveInt } from './lib/args.js';
import { measureSchedulingPrecision, SCHEDULING_DEFAULTS } from './parts/scheduling.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: String(SCHEDULING_DEFAULTS.jobs) },
    spread: { type: 'string', default: String(SCHEDULING_DEFAULTS.spreadSeconds) },
    lead: { type: 'string', default: String(SCHEDULING_DEFAULTS.leadSeconds) },
    pollers: { type: 'string', default: String(SCHEDULING_DEFAULTS.pollers) },
  },
});
const meta = runMeta();
const result = await measureSchedulingPrecision({
  jobs: positiveInt(values.jobs, 'jobs'),
  spreadSeconds: positiveInt(values.spread, 'spread'),
  leadSeconds: positiveInt(values.lead, 'lead'),
  pollers: positiveInt(values.pollers, 'pollers'),
});
console.log(JSON.stringify({ benchmark: 'scheduling-precision', ...meta, ...result }, null, 2));
