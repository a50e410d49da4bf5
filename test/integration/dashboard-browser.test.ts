/**
 * The dashboard in real headless Chromium, served as `hopper dev` serves it, against the demo
 * stack on the local runtime with jobs in every state (test/fixtures/job-states.ts): each page
 * shows them; retrying a dead job runs it; pausing a queue shows it paused; bulk delete asks first;
 * every page passes axe-core's WCAG 2 A/AA check in the light and the dark theme, and works by keyboard.
 */
import axe from 'axe-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardServer, type DashboardServer } from '../../cli/dashboard/server.js';
import type { ApiCaller } from '../../cli/commands/io.js';
import { ApiClient } from '../../lib/api-client/index.js';
import { isRecord } from '../../lib/job/model.js';
import { Client } from '../../lib/client/client.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { LAPTOP_VIEWPORT, launchChromium } from '../fixtures/browser.js';
import { populateJobStates, setEntries, type JobStates } from '../fixtures/job-states.js';
import { eventually, logicalIdOf, printRuntimeLogsOnFailure } from '../fixtures/local-helpers.js';
import { ROOT } from './polyglot-process.js';

const logs = new LogCollector();
const MAPPING_UPDATE_MS = 10_000;
let local: LocalRuntime;
let api: ApiClient;
let dashboard: DashboardServer;
let browser: Browser;
let states: JobStates;
/** Errors the pages threw or logged; every test ends with none. */
const pageErrors: string[] = [];

printRuntimeLogsOnFailure(logs);

beforeAll(async () => {
  // A mapping stays mid-change for 10 s after a pause or resume: long enough that a change right
  // after another is refused on any machine, so the page's "try again" is seen.
  local = await startLocal({ projectDir: ROOT, stack: 'HopperDemo', logs: logs.sink, mappingUpdateMs: MAPPING_UPDATE_MS });
  api = new ApiClient({ url: local.outputs.JobsApiUrl ?? '' });
  dashboard = await startDashboardServer({ api });
  browser = await launchChromium();
  states = await populateJobStates(local);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await local?.stop();
});

async function open(path: string, server: DashboardServer = dashboard, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const page = await browser.newPage({ viewport: LAPTOP_VIEWPORT, colorScheme });
  page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${path}: ${message.text()}`);
  });
  await page.goto(`${server.url}#/${path}`);
  return page;
}

/** The texts of the table's body rows as shown, cell by cell (a closed job detail shows its jid only). */
async function rows(page: Page): Promise<string[][]> {
  return page.locator('main table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())));
}

function row(page: Page, text: string) {
  return page.locator('main table tbody tr').filter({ hasText: text });
}

/** Clicks the page's Resume button of queue critical; resolves the status the API answered. */
async function clickResume(page: Page): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((candidate) => candidate.url().endsWith('/v1/queues/critical/resume')),
    page.getByRole('button', { name: 'Resume queue critical' }).click(),
  ]);
  return response.status();
}

/** POSTs `path` until the API accepts it (a queue's mapping refuses changes while it is mid-change). */
async function untilAccepted(path: string): Promise<void> {
  await eventually(async () => ((await api.request('POST', path)).status === 200 ? true : undefined), MAPPING_UPDATE_MS * 2, `POST ${path} to be accepted`);
}

/** The worker's `hello, <name>` lines. */
function greeted(name: string): boolean {
  return logs.from(logicalIdOf(local.functions, 'WorkerFunction')).some((line) => line.includes(`"message":"hello, ${name}"`));
}

describe('the dashboard on hopper dev', () => {
  it('overview: processed and failed totals, the per-minute chart and every queue', { timeout: 180_000 }, async () => {
    const page = await open('overview');
    // A worker instance writes its first counts at once, then at the end of an invocation once they
    // are ten seconds old: keep a trickle of jobs coming, and reload until the counts are in.
    const processed = await eventually(async () => {
      await page.reload();
      const text = await page.locator('.card', { hasText: 'Processed' }).locator('dd').textContent({ timeout: 10_000 });
      const count = Number((text ?? '0').replace(/,/g, ''));
      if (count > 0) return count;
      await api.request('POST', '/v1/jobs', { jobs: [0, 1, 2, 3, 4].map((index) => ({ jobtype: 'Greet', args: [`trickle ${index}`] })) });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return undefined;
    }, 150_000, 'processed jobs on the overview');
    const chart = page.getByRole('img', { name: /^Jobs per minute, last hour: \d+ processed, \d+ failed$/ });

    expect(processed).toBeGreaterThan(0);
    expect(await chart.count()).toBe(1);
    expect(await page.locator('.chart polyline').count()).toBe(2);
    expect((await rows(page)).map((cells) => cells[0])).toEqual(['default', 'critical']);
    expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe('Overview');
    // The sets' counts, as cards linking to their pages and as badges in the navigation.
    const counts = await api.setCounts();
    expect(counts.dead.count).toBe(states.deadJids.length + 1);
    const deadCard = page.locator('.card', { hasText: 'Dead' }).locator('dd a');
    expect([await deadCard.textContent(), await deadCard.getAttribute('href')]).toEqual([String(counts.dead.count), '#/dead']);
    expect(await page.locator('.card', { hasText: 'Retries' }).locator('dd a').textContent()).toBe(String(counts.retries.count));
    await page.locator('#nav .badge[data-count="dead"]', { hasText: String(counts.dead.count) }).waitFor();
    expect(await page.locator('#nav a[href="#/dead"]').textContent()).toBe(`Dead${counts.dead.count}`);
    // Every card is a link to its page.
    expect(await page.locator('.cards .card').evaluateAll((cards) => cards.slice(0, 8).map((card) => card.querySelector('dd a')?.getAttribute('href') ?? null)))
      .toEqual(['#/cohorts', '#/retries', '#/queues', '#/busy', '#/queues', '#/retries', '#/scheduled', '#/dead']);

    // A week of history, a point per hour, with this hour's jobs in its last point.
    await page.getByLabel('History').selectOption('10080');
    const week = page.getByRole('img', { name: /^Jobs per hour, last 7 days: \d+ processed, \d+ failed$/ });
    await week.waitFor();
    const weekStats = await api.stats({ minutes: 10_080 });
    expect([weekStats.step_minutes, weekStats.history.length]).toEqual([60, 168]);
    expect(weekStats.history.at(-1)?.processed).toBeGreaterThan(0);
    await page.close();
  });

  it('queues: pauses a queue, shows it paused, says "try again" while it is mid-change, resumes it, and shows a pause made elsewhere without a reload', { timeout: 120_000 }, async () => {
    const page = await open('queues');
    await row(page, 'critical').waitFor();
    expect((await rows(page)).map((cells) => [cells[0], cells[5]])).toEqual([['default', 'running'], ['critical', 'running']]);

    await page.getByRole('button', { name: 'Pause queue critical' }).click();
    await page.getByRole('button', { name: 'Resume queue critical' }).waitFor();
    const pausedRow = (await rows(page)).find((cells) => cells[0] === 'critical');
    const notice = await page.locator('#notice').textContent();
    const fromApi = await api.request('GET', '/v1/queues');

    expect(pausedRow?.[5]).toBe('paused');
    expect(notice).toBe('Queue critical paused.');
    expect(isRecord(fromApi.body) && Array.isArray(fromApi.body.queues) ? fromApi.body.queues.filter(isRecord).find((queue) => queue.name === 'critical')?.paused : undefined).toBe(true);

    // The mapping is still disabling: Lambda (here the local Lambda API) refuses the resume.
    const refused = await clickResume(page);
    await page.locator('#notice', { hasText: 'still changing' }).waitFor();
    expect(refused).toBe(409);
    expect(await page.locator('#notice').textContent()).toBe('Queue critical is still changing state; try again in a few seconds.');
    expect(await page.getByRole('button', { name: 'Resume queue critical' }).isEnabled()).toBe(true);

    await eventually(async () => {
      if ((await clickResume(page)) === 200) return true;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return undefined;
    }, MAPPING_UPDATE_MS * 2, 'the resume to be accepted');
    await page.getByRole('button', { name: 'Pause queue critical' }).waitFor();
    expect(await page.locator('#notice').textContent()).toBe('Queue critical resumed.');
    expect((await rows(page)).find((cells) => cells[0] === 'critical')?.[5]).toBe('running');

    // Auto-refresh: a pause made elsewhere (here through the API) shows up without a reload.
    await untilAccepted('/v1/queues/critical/pause');
    try {
      await page.getByRole('button', { name: 'Resume queue critical' }).waitFor({ timeout: 20_000 });
      expect((await rows(page)).find((cells) => cells[0] === 'critical')?.[5]).toBe('paused');
    } finally {
      await untilAccepted('/v1/queues/critical/resume');
    }
    // The refused resumes were expected; Chromium logs each as a failed load.
    pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((error) => !error.includes('409 (Conflict)')));
    await page.close();
  });

  it('find a job: a dead job\'s place with a link to its set, a tracked job\'s progress bar, and a job found nowhere', async () => {
    const deadJid = states.deadJids[0] ?? '';
    const page = await open(`jobs/${deadJid}`);
    const summary = page.locator('#job-summary');
    await summary.getByText('dead since').waitFor();
    expect(await summary.textContent()).toMatch(new RegExp(`^${deadJid}: dead since \\S+: Error: AlwaysFails always fails$`));
    expect(await page.locator('main section li a').first().getAttribute('href')).toBe('#/dead?jobtype=AlwaysFails');

    const tracked = await api.enqueue('Greet', ['tracked reader'], { custom: { track: true } });
    await eventually(async () => ((await api.status(tracked))?.state === 'succeeded' ? true : undefined), 60_000, 'the tracked job to succeed');
    await page.getByLabel('Job id (jid)').fill(tracked);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('#job-progress').waitFor();
    expect(await page.locator('#job-summary').textContent()).toMatch(new RegExp(`^${tracked}: succeeded at \\S+$`));
    expect([await page.locator('#job-progress').getAttribute('value'), await page.locator('label[for="job-progress"]').textContent()]).toEqual(['100', '100%']);
    expect(await page.locator('main .pill').textContent()).toBe('succeeded');

    await page.getByLabel('Job id (jid)').fill('nowhere-to-be-found');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('#job-summary').getByText('cannot be looked up by jid').waitFor();
    expect(await page.locator('#job-progress').count()).toBe(0);
    await page.close();
  });

  it('dead: lists the dead jobs, filters them, and retries one that then runs', async () => {
    const page = await open('dead');
    await row(page, states.recoverableDeadJid).waitFor();
    const all = await rows(page);
    for (const jid of [...states.deadJids, states.recoverableDeadJid]) expect(all.some((cells) => cells[6] === jid)).toBe(true);
    expect(all.find((cells) => cells[6] === states.recoverableDeadJid)?.slice(1, 6)).toEqual(['Greet', 'default', `["${states.recoverableName}"]`, '0', 'Error: mail server unreachable']);

    await page.getByLabel('Jobtype').fill('AlwaysFails');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/jobtype=AlwaysFails/);
    await row(page, states.deadJids[0] ?? '').waitFor();
    expect(new Set((await rows(page)).map((cells) => cells[1]))).toEqual(new Set(['AlwaysFails']));

    await page.getByRole('button', { name: 'Clear' }).click();
    await row(page, states.recoverableDeadJid).waitFor();
    await page.getByRole('button', { name: `Retry ${states.recoverableDeadJid}` }).click();
    await row(page, states.recoverableDeadJid).waitFor({ state: 'detached' });

    expect(await page.locator('#notice').textContent()).toBe(`Job ${states.recoverableDeadJid} retried (queue default).`);
    await eventually(async () => (greeted(states.recoverableName) ? true : undefined), 60_000, `the retried job to run (hello, ${states.recoverableName})`);
    expect((await setEntries(api, 'dead')).map((entry) => entry.jid)).not.toContain(states.recoverableDeadJid);
    await page.reload();
    await row(page, states.deadJids[0] ?? '').waitFor();
    expect(await row(page, states.recoverableDeadJid).count()).toBe(0);
    await page.close();
  });

  it('retries and scheduled: list their jobs; delete one; run a scheduled one now', async () => {
    const retries = await open('retries');
    await row(retries, states.retryJid).waitFor();
    expect((await rows(retries)).find((cells) => cells[6] === states.retryJid)?.slice(1, 6)).toEqual(['AlwaysFails', 'default', '["nightly export"]', '11', 'Error: AlwaysFails always fails']);
    await retries.getByRole('button', { name: `Delete ${states.retryJid}` }).click();
    await row(retries, states.retryJid).waitFor({ state: 'detached' });
    expect((await setEntries(api, 'retries')).map((entry) => entry.jid)).not.toContain(states.retryJid);
    await retries.close();

    const scheduled = await open('scheduled');
    await row(scheduled, states.scheduledJid).waitFor();
    expect((await rows(scheduled)).find((cells) => cells[6] === states.scheduledJid)?.slice(0, 3)).toEqual([expect.stringMatching(/^in (1 h 5\d min|2 h)$/), 'Greet', 'default']);
    await scheduled.getByRole('button', { name: `Run now ${states.scheduledJid}` }).click();
    await row(scheduled, states.scheduledJid).waitFor({ state: 'detached' });
    expect(await scheduled.locator('#notice').textContent()).toBe(`Job ${states.scheduledJid} sent to its queue (queue default).`);
    await scheduled.close();
  });

  it('retries and scheduled: say how many jobs wait in SQS with a delay, per queue, since those are not in the sets', async () => {
    await api.enqueue('Greet', ['in two minutes'], { queue: 'critical', in: '2m' });
    const page = await open('scheduled');
    const note = page.locator('#delayed-note');
    // The queue's counts are SQS's approximate attributes (and the API keeps them a few seconds).
    await eventually(async () => {
      await page.reload();
      return (await note.textContent({ timeout: 10_000 }))?.includes('critical') === true ? true : undefined;
    }, 30_000, 'the delayed job in the note');
    expect(await note.textContent()).toMatch(/^\d+ jobs? waits? in SQS with a delay \(.*critical: [1-9]\d*.*\)\. Retries and scheduled jobs due within 15 minutes wait there, not in this set: they run when due, and SQS cannot list them one by one \(a queue with listScheduled keeps its scheduled jobs here instead\)\.$/);
    await page.close();
    const dead = await open('dead');
    await dead.locator('main h1', { hasText: 'Dead' }).waitFor();
    expect(await dead.locator('#delayed-note').count()).toBe(0);
    await dead.close();
  });

  it('dead: delete all matching a filter asks first, then empties the filtered set', async () => {
    const page = await open('dead?jobtype=AlwaysFails');
    await row(page, states.deadJids[0] ?? '').waitFor();
    const asked: string[] = [];
    page.once('dialog', (dialog) => { asked.push(dialog.message()); void dialog.dismiss(); });
    await page.getByRole('button', { name: 'Delete all matching' }).click();
    await eventually(async () => (asked.length > 0 ? true : undefined), 10_000, 'the confirm dialog');
    expect((await setEntries(api, 'dead', 'AlwaysFails')).length).toBe(3);

    page.once('dialog', (dialog) => { asked.push(dialog.message()); void dialog.accept(); });
    await page.getByRole('button', { name: 'Delete all matching' }).click();
    await page.locator('td.empty').waitFor();

    expect(asked).toEqual(['Delete all matching: every entry with jobtype AlwaysFails in Dead. Continue?', 'Delete all matching: every entry with jobtype AlwaysFails in Dead. Continue?']);
    expect(await page.locator('#notice').textContent()).toMatch(/^Delete all matching: deleted 3 \(every entry with jobtype AlwaysFails; \d+ examined, 0 skipped, 0 failed\)\.$/);
    expect(await page.locator('td.empty').textContent()).toBe('No entries match this filter on this page.');
    expect(await setEntries(api, 'dead', 'AlwaysFails')).toEqual([]);
    await page.close();
  });

  it('batches: a batch\'s progress, and an error banner for one that does not exist', async () => {
    const page = await open(`batches/${states.bid}`);
    await page.getByRole('heading', { name: `Batch ${states.bid} · welcome emails` }).waitFor();
    const progress = page.locator('#batch-progress');

    expect(await page.locator('label[for="batch-progress"]').textContent()).toBe('3 of 3 jobs ran');
    expect([await progress.getAttribute('value'), await progress.getAttribute('max')]).toEqual(['3', '3']);
    expect(await page.locator('.batch .pill').textContent()).toBe('succeeded');
    expect(await page.locator('.batch .cards dd').allTextContents()).toEqual(['3', '0', '3', '0', '0']);

    await page.getByLabel('Batch id (bid)').fill('no-such-batch');
    await page.getByRole('button', { name: 'Show' }).click();
    const banner = page.getByRole('alert');
    await banner.getByText('not_found').waitFor();
    expect(await banner.locator('p').textContent()).toBe('Loading Batches failed. not_found (404): no batch no-such-batch (it never existed, or expired after its retention)');
    pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((error) => !error.includes('404 (Not Found)')));
    await page.close();
  });

  it('batches: recent ones newest first with their progress, filtered by text and state, paged', { timeout: 120_000 }, async () => {
    const client = new Client({
      env: { ...local.env, HOPPER_QUEUE_URLS: local.outputs.JobsQueueUrls ?? '', HOPPER_STATE_TABLE: local.tableName(logicalIdOf(local.tables, 'JobsStateTable')) },
    });
    const made: string[] = [];
    for (const [index, jobs] of [['import 1', 2], ['import 2', 1], ['import 3', 2]] as const) {
      const batch = await client.batch({ description: `nightly ${index}` }, (fill) => fill.add(Array.from({ length: jobs }, (_, job) => ({ jobtype: job === 1 && index === 'import 3' ? 'AlwaysFails' : 'Greet', args: [`${index} ${job}`], retry: 0 }))));
      made.push(batch.bid);
    }
    // The last one ends complete with a dead job.
    await eventually(async () => (((await api.request('GET', `/v1/batches/${made[2] ?? ''}`)).body as { complete?: boolean }).complete === true ? true : undefined), 60_000, 'the failing batch to complete');

    const page = await open('batches');
    await row(page, made[2] ?? '').waitFor();
    const listed = (await rows(page)).map((cells) => cells[0]);
    // Newest first: the three just made, then the fixture's batch.
    expect(listed.slice(0, 4)).toEqual([made[2], made[1], made[0], states.bid]);
    const failing = await rows(page).then((found) => found.find((cells) => cells[0] === made[2]));
    expect(failing?.slice(1, 6)).toEqual(['nightly import 3', expect.stringMatching(/ago$|^now$/), 'complete, with failures', '2 of 2', '1']);

    await page.getByLabel('Bid or description contains').fill('import 2');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(async () => (await rows(page)).map((cells) => cells[0]), { timeout: 10_000 }).toEqual([made[1]]);

    await page.getByLabel('Bid or description contains').fill('');
    await page.getByLabel('State').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(async () => (await rows(page)).map((cells) => cells[0]), { timeout: 10_000 }).toEqual([made[2]]);
    expect(page.url()).toContain('state=failed');

    // Pages of two along the API's cursor: every batch once, newest first.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await api.request('GET', `/v1/batches?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      const body = answer.body as { batches: { bid: string }[]; cursor: string | null };
      seen.push(...body.batches.map((batch) => batch.bid));
      cursor = body.cursor;
    } while (cursor !== null);
    expect(seen.slice(0, 4)).toEqual([made[2], made[1], made[0], states.bid]);
    expect(new Set(seen).size).toBe(seen.length);
    // The failing batch's page lists its dead job, linked to where it is.
    await page.getByRole('link', { name: made[2] ?? '' }).click();
    const failures = page.locator('main section', { hasText: 'Failing and dead jobs' });
    await failures.locator('tbody tr').first().waitFor();
    const failed = await failures.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())));
    expect(failed).toEqual([[expect.any(String), 'dead', expect.stringMatching(/ago$|^now$/)]]);
    expect(await failures.locator('tbody a').getAttribute('href')).toBe(`#/jobs/${encodeURIComponent(failed[0]?.[0] ?? '')}`);
    expect((await api.request('GET', '/v1/batches?state=done')).body).toEqual({ error: { code: 'bad_parameter', message: expect.stringContaining('state must be one of running, succeeded, failed'), parameter: 'state' } });
    expect(await page.getByRole('alert').textContent()).toBe('');
    await page.close();
  });

  it('cron: last and next run, and triggering it now', async () => {
    const page = await open('crons');
    await row(page, 'hourly-greeting').waitFor();
    const [cells] = await rows(page);
    await page.getByRole('button', { name: 'Trigger now hourly-greeting' }).click();
    await page.locator('#notice p').waitFor();

    expect(cells?.slice(0, 4)).toEqual(['hourly-greeting', '0 * * * * Europe/Vienna', 'Greet ["cron"]', 'default']);
    // populateJobStates fired the cron's schedule once: that tick is its last run.
    expect(cells?.[4]).toMatch(/ ago$/);
    expect(cells?.[5]).toMatch(/^in (\d+ min|\d+(\.\d)? s)$/);
    expect(await page.locator('#notice').textContent()).toMatch(/^Cron hourly-greeting triggered: enqueued cron:hourly-greeting:manual:[0-9a-f-]{36} on queue default\.$/);
    await page.close();
  });

  it('limits: the demo stack has no quotas; a limiter asked for by name shows its state', async () => {
    const page = await open('limits');
    await page.getByRole('heading', { name: 'Quotas', exact: true }).waitFor();
    expect(await page.locator('td.empty').first().textContent()).toBe('No quotas are configured. Enqueues are limited only by backlog limits (see Queues).');

    await page.getByRole('textbox', { name: 'Limiters' }).fill('stripe');
    await page.getByRole('button', { name: 'Show' }).click();
    await row(page, 'stripe').waitFor();
    expect(await rows(page)).toEqual([
      ['No quotas are configured. Enqueues are limited only by backlog limits (see Queues).'],
      ['critical', '20 at once', '–'],
      ['No tenant has an override.'],
      ['stripe', 'idle (no state stored)'],
    ]);
    await page.close();
  });

  it('limits: sets a tenant\'s override on a capped queue, lists it, and removes it', async () => {
    const page = await open('limits');
    await page.getByRole('heading', { name: 'Per-tenant caps', exact: true }).waitFor();

    await page.getByRole('textbox', { name: 'Tenant', exact: true }).fill('acme');
    await page.getByRole('combobox', { name: 'Queue' }).selectOption('critical');
    await page.getByRole('spinbutton', { name: 'Concurrency' }).fill('5');
    await page.getByRole('spinbutton', { name: 'Rate' }).fill('30');
    await page.getByRole('combobox', { name: 'per' }).selectOption('hour');
    await page.getByRole('button', { name: 'Set override' }).click();
    await row(page, 'acme').waitFor();
    expect((await rows(page)).find((cells) => cells[0] === 'acme')?.slice(0, 4)).toEqual(['acme', 'critical', '5 at once', '30 per hour']);
    expect(await page.locator('#notice').textContent()).toBe('Tenant acme on queue critical: in force within a minute.');
    // What the API now answers, as a worker would read it.
    expect(await page.evaluate("fetch('/v1/limits/tenants').then((response) => response.json())")).toMatchObject({ overrides: [{ tenant: 'acme', queue: 'critical', cap: { concurrency: 5, rate: { limit: 30, per_seconds: 3600 } } }] });

    await page.getByRole('button', { name: 'Remove the override of acme' }).click();
    await row(page, 'No tenant has an override.').waitFor();
    expect(await page.locator('#notice').textContent()).toBe('Override of tenant acme removed; workers apply it within a minute.');
    await page.close();
  });

  it('cohorts: this minute\'s jobs by outcome, with the time they waited to start', async () => {
    const page = await open('cohorts');
    const [newest] = await eventually(async () => {
      await page.reload();
      await page.locator('main table').waitFor();
      const found = await rows(page);
      if (found.length > 0 && Number(found[0]?.[1]) > 0) return found;
      // Instances write counts at the end of an invocation once they are ten seconds old: a
      // trickle of jobs gives them those invocations.
      await api.request('POST', '/v1/jobs', { jobs: [{ jobtype: 'Greet', args: ['cohort trickle'] }] });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return undefined;
    }, 90_000, 'a cohort with started jobs');
    const [minute, started, done, pending, dead] = (newest ?? []).map((cell, index) => (index === 0 ? cell : Number(cell.replace(/,/g, ''))));

    expect(minute).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    // As docs/api.md defines it: pending = started − done − dead, never below 0.
    expect(pending).toBe(Math.max(0, Number(started) - Number(done) - Number(dead)));
    expect(started).toBeGreaterThan(0);
    expect(newest?.[7]).toMatch(/^\d+(\.\d)? (ms|s)$/);
    expect(await page.locator('td.bar-cell svg').first().getAttribute('aria-label')).toMatch(/^\d+ done, \d+ pending, \d+ dead of \d+ started$/);
    expect(await page.getByRole('alert').textContent()).toBe('');
    await page.close();
  }, 120_000);

  it('busy: a job that runs longer than ten seconds is listed with its progress and instance while it runs, then leaves the list', { timeout: 120_000 }, async () => {
    const jid = await api.enqueue('Slow', [24_000]);
    const page = await open('busy');
    // Listed once it has run ten seconds; the page refreshes every five.
    const listed = row(page, jid);
    await listed.waitFor({ timeout: 45_000 });
    const [cells] = await listed.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())));
    const [shownJid, jobtype, queue, started, runningFor, attempt, progress, instance] = cells ?? [];

    expect({ shownJid, jobtype, queue, attempt }).toEqual({ shownJid: jid, jobtype: 'Slow', queue: 'default', attempt: '1' });
    expect(started).toMatch(/ago$/);
    expect(runningFor).toMatch(/^\d+(\.\d)? s$/);
    expect(Number(runningFor?.split(' ')[0])).toBeGreaterThanOrEqual(10);
    expect(progress).toMatch(/^\d+% · \d+ of 24 s$/);
    // The worker instance's log stream, as Lambda names it.
    expect(instance).toMatch(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(await page.locator('#busy-freshness').textContent()).toMatch(/in flight\. Jobs are listed once they have run 10 s; their workers report them every 10 s/);
    expect(await page.locator('main section', { hasText: 'Per queue' }).locator('tbody tr', { hasText: 'default' }).locator('td').nth(2).textContent()).toBe('1');
    // The Overview's Busy card links here, and the navigation counts the jobs running now.
    const overview = await open('overview');
    await expect.poll(async () => overview.locator('#nav a[href="#/busy"] .badge').textContent(), { timeout: 10_000 }).toMatch(/^[1-9]\d*$/);
    await overview.getByRole('link', { name: /^\d+$/ }).first().waitFor();
    expect(await overview.locator('.card', { hasText: 'Busy' }).locator('a').getAttribute('href')).toBe('#/busy');
    await overview.close();

    // It ends at 24 s; its instance clears the report, and the page drops it.
    await listed.waitFor({ state: 'detached', timeout: 40_000 });
    expect(await page.getByText('No job has run longer than 10 s.').count()).toBe(1);
    expect(await page.getByRole('alert').textContent()).toBe('');
    await page.close();
  });

  it('every page passes the accessibility check (no serious or critical violation), in the light and the dark theme', { timeout: 180_000 }, async () => {
    const found: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      for (const route of ['overview', 'queues', 'retries', 'scheduled', 'dead', `batches/${states.bid}`, 'batches', `jobs/${states.deadJids[1] ?? ''}`, 'jobs', 'crons', 'limits?limiter=stripe', 'cohorts', 'busy', 'flows', 'no-such-page']) {
        const page = await open(route, dashboard, colorScheme);
        await page.locator('main', { hasText: 'Loading…' }).waitFor({ state: 'hidden' });
        for (const violation of await accessibilityViolations(page)) found.push(`${colorScheme} ${route}: ${violation}`);
        await page.close();
      }
    }
    expect(found).toEqual([]);
  });

  it('follows the system\'s dark setting', async () => {
    const background = async (colorScheme: 'light' | 'dark') => {
      const page = await open('overview', dashboard, colorScheme);
      const color = await page.evaluate('getComputedStyle(document.documentElement).backgroundColor');
      await page.close();
      return color;
    };
    expect([await background('light'), await background('dark')]).toEqual(['rgb(246, 247, 249)', 'rgb(17, 21, 28)']);
  });

  it('works by keyboard: the skip link moves focus to the page without leaving it, links and forms answer Enter', async () => {
    const page = await open('queues');
    await page.locator('main h1', { hasText: 'Queues' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    expect(new URL(page.url()).hash).toBe('#/queues');
    expect(await page.locator('main h1').textContent()).toBe('Queues');

    await page.getByRole('link', { name: 'Find a job' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/jobs$/);
    await page.getByLabel('Job id (jid)').focus();
    await page.keyboard.type('typed-by-keyboard');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/jobs\/typed-by-keyboard$/);
    await page.locator('#job-summary').getByText('cannot be looked up by jid').waitFor();
    await page.close();
  });

  it('no page threw or logged an error', () => {
    expect(pageErrors).toEqual([]);
  });
});

/** The serious and critical WCAG 2 A/AA violations axe-core finds on `page`, one line each. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated, not added as a script: the dashboard's Content-Security-Policy refuses inline scripts.
  await page.evaluate(axe.source);
  // Run in the page: WCAG 2.0 and 2.1, levels A and AA.
  const violations = await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then((result) => result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, targets: violation.nodes.map((node) => JSON.stringify(node.target)) })))`) as { id: string; impact: string | null; targets: string[] }[];
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}) at ${violation.targets.slice(0, 3).join(', ')}`);
}

/** An API that has the cohort route (issue 8), answering its documented shape. */
const COHORT_API: ApiCaller = {
  async request(method, path) {
    if (method === 'GET' && path === '/v1/stats/cohorts?minutes=60') {
      return {
        status: 200,
        headers: new Headers(),
        body: { cohorts: [
          { minute: '2026-11-23T12:06:00.000Z', started: 40, done: 20, dead: 0, pending: 20, failed: 3, latency_ms: { p50: 420, p90: 900, p99: 2100, max: 2500 } },
          { minute: '2026-11-23T12:05:00.000Z', started: 120, done: 110, dead: 2, pending: 8, failed: 12, latency_ms: { p50: 840, p90: 1900, p99: 4200, max: 5100 } },
        ] },
      };
    }
    return { status: 404, headers: new Headers(), body: { error: { code: 'not_found', message: `no route for ${path}` } } };
  },
};

/** An API from before the cohort route: the router's 404 for a path it does not know. */
const NO_COHORT_API: ApiCaller = {
  async request(_method, path) {
    return { status: 404, headers: new Headers(), body: { error: { code: 'not_found', message: `no route for ${path.split('?')[0] ?? path}` } } };
  },
};

/** An API with one tiered queue, its critical tier late. */
const TIERED_API: ApiCaller = {
  async request(method, path) {
    if (method === 'GET' && path === '/v1/queues') {
      const tier = (name: string, size: number, age: number | null, target: number, late: boolean, maxJobs: number) => ({ name, size, in_flight: 2, delayed: 0, age, target_age: target, late, concurrency: maxJobs / 5, max_jobs: maxJobs });
      return {
        status: 200,
        headers: new Headers(),
        body: { queues: [{
          name: 'email', size: 5012, in_flight: 6, delayed: 0, latency: 2.5, latency_observed_at: null, drain_per_second: 120, paused: false, mapping_state: 'Enabled', max_concurrency: 60,
          tiers: [tier('critical', 12, 7.5, 5, true, 10), tier('default', 0, 0, 60, false, 10), tier('bulk', 5000, null, 3600, false, 40)],
        }] },
      };
    }
    return { status: 404, headers: new Headers(), body: { error: { code: 'not_found', message: `no route for ${path}` } } };
  },
};

describe('the queues page of a tiered queue', () => {
  it('lists each tier under its queue: the oldest job against its target, late marked, its share of the queue now', async () => {
    const server = await startDashboardServer({ api: TIERED_API });
    try {
      const page = await open('queues', server);
      await page.getByText('Tiers of email').waitFor();
      const tiers = await page.locator('main table').nth(1).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())));
      expect(tiers).toEqual([
        ['critical', '12', '2', '7.5 s of 5.0 s late', '10 jobs'],
        ['default', '0', '2', '0 ms of 1 min', '10 jobs'],
        ['bulk', '5,000', '2', '– of 1 h', '40 jobs'],
      ]);
      await page.close();
    } finally {
      await server.close();
    }
  });
});

/** An API with one flow: fetch, then parse and a spawning step in parallel, then a join that waits on both. */
const FLOW_API: ApiCaller = {
  async request(method, path) {
    if (method === 'GET' && path === '/v1/flows/import-42') {
      const step = (name: string, status: string, after: { step: string; on_failure: string }[], durationMs: number | null) => ({
        name, jobtype: name.charAt(0).toUpperCase() + name.slice(1), status, attempt: 1, bid: null, after,
        started_at: status === 'waiting' ? null : '2026-12-07T12:00:00.000Z', ended_at: durationMs === null ? null : '2026-12-07T12:00:01.500Z', duration_ms: durationMs,
      });
      return {
        status: 200,
        headers: new Headers(),
        body: {
          id: 'import-42', description: 'nightly import', status: 'running', settled: false, failed_step: null, retries: 0, created_at: '2026-12-07T12:00:00.000Z', finished_at: null,
          steps: [
            step('fetch', 'succeeded', [], 1_500),
            step('parse', 'started', [{ step: 'fetch', on_failure: 'fail' }], null),
            step('rows', 'succeeded', [{ step: 'fetch', on_failure: 'fail' }], 1_500),
            step('join', 'waiting', [{ step: 'parse', on_failure: 'fail' }, { step: 'rows', on_failure: 'continue' }], null),
          ],
        },
      };
    }
    return { status: 404, headers: new Headers(), body: { error: { code: 'not_found', message: `no route for ${path}` } } };
  },
};

describe('the flow page', () => {
  it('draws the DAG in columns by depth, each step with its state, timing and the edges it waits on', async () => {
    const server = await startDashboardServer({ api: FLOW_API });
    try {
      const page = await open('flows/import-42', server);
      await page.locator('.flow-dag').waitFor();
      const columns = await page.locator('.flow-column').evaluateAll((lists) => lists.map((list) => [...list.querySelectorAll('li')].map((item) => [...item.querySelectorAll('p')].map((line) => (line.textContent ?? '').trim()).filter((line) => !line.startsWith('started ')).join(' | '))));
      expect(columns).toEqual([
        ['fetch succeeded | Fetch · ran 1.5 s'],
        ['parse started | Parse · running | after fetch', 'rows succeeded | Rows · ran 1.5 s | after fetch'],
        ['join waiting | Join | after parse, rows (continue)'],
      ]);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Flow import-42');
      expect(await accessibilityViolations(page)).toEqual([]);
      await page.close();
    } finally {
      await server.close();
    }
  });
});

describe('the cohorts page', () => {
  it('says the API has no cohort stats when it answers 404', async () => {
    const server = await startDashboardServer({ api: NO_COHORT_API });
    try {
      const page = await open('cohorts', server);
      const note = page.getByRole('note');
      await note.waitFor();
      expect(await note.textContent()).toBe('Cohort stats are not available from this API version. The API answered 404 to GET /v1/stats/cohorts; deploy a newer Hopper to see them.');
      expect(await page.getByRole('alert').textContent()).toBe('');
      await page.close();
    } finally {
      await server.close();
    }
  });

  it('shows one row per minute with counts, a stacked bar and the wait percentiles', async () => {
    const server = await startDashboardServer({ api: COHORT_API });
    try {
      const page = await open('cohorts', server);
      await page.locator('td.bar-cell svg').first().waitFor();
      const cells = await rows(page);
      const bars = await page.locator('td.bar-cell svg').evaluateAll((svgs) => svgs.map((svg) => ({
        label: svg.getAttribute('aria-label'),
        parts: [...svg.querySelectorAll('rect:not(.track)')].map((rect) => `${rect.getAttribute('class')}:${Number(rect.getAttribute('width')).toFixed(1)}`),
      })));

      expect(cells.map((row) => [row[1], row[2], row[3], row[4], ...row.slice(6)])).toEqual([
        ['40', '20', '20', '0', '3', '420 ms', '900 ms', '2.1 s', '2.5 s'],
        ['120', '110', '8', '2', '12', '840 ms', '1.9 s', '4.2 s', '5.1 s'],
      ]);
      expect(bars).toEqual([
        { label: '20 done, 20 pending, 0 dead of 40 started', parts: ['done:16.7', 'pending:16.7'] },
        { label: '110 done, 8 pending, 2 dead of 120 started', parts: ['done:91.7', 'pending:6.7', 'dead:1.7'] },
      ]);
      expect(await page.locator('main table caption').textContent()).toBe('2 minutes with enqueued jobs, newest first');
      await page.close();
    } finally {
      await server.close();
    }
  });
});
