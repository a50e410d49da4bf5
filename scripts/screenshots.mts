/**
 * `npm run screenshots`: runs the demo stack on the local runtime, serves the dashboard as
 * `hopper dev` does, gives it history and jobs in every state (test/fixtures/job-states.ts), and
 * saves what each page shows on a 1366×768 screen, in headless Chromium, to docs/screenshots/<page>.png.
 *
 * The overview's chart needs minutes of history: the jobs of each earlier "minute" run with the
 * runtime's clock shifted back, so the whole run takes about two minutes instead of an hour.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startDashboardServer } from '../cli/dashboard/server.js';
import { ApiClient } from '../lib/api-client/index.js';
import { isRecord } from '../lib/job/model.js';
import { STATS_ROLLUP } from '../lib/stats/rollup.js';
import { silentSink } from '../local/log.js';
import { startLocal, type LocalRuntime } from '../local/runtime.js';
import { LAPTOP_VIEWPORT, launchChromium } from '../test/fixtures/browser.js';
import { populateJobStates } from '../test/fixtures/job-states.js';
import { eventually } from '../test/fixtures/local-helpers.js';

// The AWS SDK warns about Node.js 20 on every client; the script has no use for it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));

/**
 * Waves of earlier work: [minutes ago, Greet jobs, SendEmail jobs (about one in five fails and is
 * retried), AlwaysFails jobs without retries (they die)]. An instance writes its counts at the end
 * of an invocation once they are ten seconds old, and a clock shift retires instances with what they
 * have not written: after each wave, the script waits that long and sends a few more jobs through
 * every instance before it shifts the clock again.
 */
const HISTORY: readonly (readonly [number, number, number, number])[] = [
  [50, 60, 30, 0], [42, 90, 40, 15], [34, 120, 30, 0], [26, 80, 50, 15], [18, 140, 40, 0], [10, 100, 60, 15],
];

async function drained(api: ApiClient): Promise<void> {
  await eventually(async () => {
    const answer = await api.request('GET', '/v1/queues');
    const queues = isRecord(answer.body) && Array.isArray(answer.body.queues) ? answer.body.queues.filter(isRecord) : [];
    return queues.every((queue) => queue.size === 0 && queue.in_flight === 0) ? true : undefined;
  }, 60_000, 'the queues to drain');
}

async function fillHistory(local: LocalRuntime, api: ApiClient): Promise<void> {
  for (const [minutesAgo, greet, email, dying] of HISTORY) {
    local.setClockOffset(-minutesAgo * 60_000);
    const jobs = [
      ...Array.from({ length: greet }, (_, index) => ({ jobtype: 'Greet', args: [`visitor ${index}`], queue: index % 4 === 0 ? 'critical' : 'default' })),
      ...Array.from({ length: email }, (_, index) => ({ jobtype: 'SendEmail', args: [`user${index}@example.com`, 'digest'] })),
      ...Array.from({ length: dying }, (_, index) => ({ jobtype: 'AlwaysFails', args: [`import ${minutesAgo}-${index}`], retry: 0 })),
    ];
    await api.request('POST', '/v1/jobs', { jobs });
    await drained(api);
    await flushInstances(api, `${minutesAgo}`);
  }
  local.setClockOffset(0);
}

/**
 * Gives the instances the invocation that writes their counts: once those are old enough, a few
 * batches of jobs on both queues (one of them dying, for the retry function's instance).
 */
async function flushInstances(api: ApiClient, label: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, STATS_ROLLUP.flushMaxAgeMs + 1_000));
  await api.request('POST', '/v1/jobs', {
    jobs: [
      ...Array.from({ length: 40 }, (_, index) => ({ jobtype: 'Greet', args: [`flush ${label}-${index}`], queue: index % 2 === 0 ? 'critical' : 'default' })),
      { jobtype: 'AlwaysFails', args: [`flush ${label}`], retry: 0 },
    ],
  });
  await drained(api);
}

/** Pages to shoot: file name and route. */
function pages(bid: string, jid: string): readonly (readonly [string, string])[] {
  return [
    ['overview', 'overview'],
    ['queues', 'queues'],
    ['retries', 'retries'],
    ['scheduled', 'scheduled'],
    ['dead', 'dead'],
    ['batches', `batches/${bid}`],
    ['job', `jobs/${jid}`],
    ['cron', 'crons'],
    ['limits', 'limits?limiter=stripe'],
    ['cohorts', 'cohorts'],
  ];
}

const local = await startLocal({ projectDir: ROOT, stack: 'HopperDemo', logs: silentSink });
try {
  const api = new ApiClient({ url: local.outputs.JobsApiUrl ?? '' });
  const dashboard = await startDashboardServer({ api });
  try {
    process.stdout.write('filling the last hour of history…\n');
    await fillHistory(local, api);
    const states = await populateJobStates(local);
    // A few more jobs waiting to retry, at different points of their backoff.
    await api.request('POST', '/v1/jobs', {
      jobs: [8, 9, 12].map((count) => ({ jobtype: 'AlwaysFails', args: [`sync ${count}`], failure: { retry_count: count, failed_at: new Date().toISOString(), message: 'earlier', errtype: 'Error' } })),
    });
    // A tracked job that failed for the 13th time: its state and its retry entry, on the job page.
    const tracked = 'quarterly-report-2026q4';
    await api.request('POST', '/v1/jobs', {
      jid: tracked, jobtype: 'AlwaysFails', args: ['quarterly report'], custom: { track: true },
      failure: { retry_count: 12, failed_at: new Date().toISOString(), message: 'earlier', errtype: 'Error' },
    });
    await eventually(async () => {
      const answer = await api.request('GET', '/v1/retries');
      return isRecord(answer.body) && Array.isArray(answer.body.entries) && answer.body.entries.length >= 5 ? true : undefined;
    }, 60_000, 'five jobs in the retry set');
    await drained(api);
    // Counts are written at an instance's next invocation once they are old enough: a few more
    // jobs (two of them failing) bring them in.
    process.stdout.write('waiting for the last counts to be written…\n');
    await new Promise((resolve) => setTimeout(resolve, STATS_ROLLUP.flushMaxAgeMs + 1_000));
    await api.request('POST', '/v1/jobs', {
      jobs: [
        ...[0, 1, 2, 3].map((index) => ({ jobtype: 'Greet', args: [`late ${index}`], queue: index % 2 === 0 ? 'critical' : 'default' })),
        ...[0, 1].map((index) => ({ jobtype: 'AlwaysFails', args: [`late ${index}`], retry: 0 })),
      ],
    });
    await drained(api);
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    await mkdir(OUT_DIR, { recursive: true });
    const browser = await launchChromium();
    const shoot = async (name: string, route: string): Promise<void> => {
      // A fresh page each time: the time measured is a full load (HTML, modules, API calls, render).
      const page = await browser.newPage({ viewport: LAPTOP_VIEWPORT });
      const startedMs = performance.now();
      await page.goto(`${dashboard.url}#/${route}`);
      await page.locator('main', { hasText: 'Loading…' }).waitFor({ state: 'hidden' });
      const renderedMs = performance.now() - startedMs;
      await page.waitForLoadState('networkidle');
      const file = `${OUT_DIR}${name}.png`;
      await page.screenshot({ path: file });
      await page.close();
      process.stdout.write(`saved ${file} (shown ${renderedMs.toFixed(0)} ms after the navigation started)\n`);
    };
    try {
      for (const [name, route] of pages(states.bid, tracked)) await shoot(name, route);
      // Busy: three slow jobs started a few seconds apart, shot once all three have run ten seconds.
      process.stdout.write('running three slow jobs for the Busy page…\n');
      for (const [index, ms] of [26_000, 24_000, 22_000].entries()) {
        await api.request('POST', '/v1/jobs', { jobs: [{ jobtype: 'Slow', args: [ms], queue: index === 1 ? 'critical' : 'default' }] });
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      await eventually(async () => ((await api.busy()).jobs.length >= 3 ? true : undefined), 30_000, 'three jobs on the Busy page');
      await shoot('busy', 'busy');
    } finally {
      await browser.close();
    }
  } finally {
    await dashboard.close();
  }
} finally {
  await local.stop();
}
