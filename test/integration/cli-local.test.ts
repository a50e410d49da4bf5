/**
 * The `hopper` binary (cli/bin.mjs), run in a child process as a user would, against the demo
 * stack on the local runtime (`--url`, as `hopper dev` prints it), with real jobs in the
 * scheduled, retry and dead sets put there by the real worker and retry function.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api-client/index.js';
import { Client } from '../../lib/client/client.js';
import { isRecord } from '../../lib/job/model.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { eventually, logicalIdOf, printRuntimeLogsOnFailure } from '../fixtures/local-helpers.js';
import { ROOT } from './polyglot-process.js';

const logs = new LogCollector();
let local: LocalRuntime;
let url: string;
let api: ApiClient;

printRuntimeLogsOnFailure(logs);

beforeAll(async () => {
  // A mapping stays mid-change for 15 s after a pause or resume: long enough that a resume right
  // after a pause is refused however slowly the binary starts.
  local = await startLocal({ projectDir: ROOT, stack: 'HopperDemo', logs: logs.sink, mappingUpdateMs: 15_000 });
  url = local.outputs.JobsApiUrl ?? '';
  api = new ApiClient({ url });
});

afterAll(async () => {
  await local?.stop();
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `hopper <args> --url <local API>` and waits for it to exit. */
function hopper(...args: string[]): Promise<Run> {
  return hopperWith({}, ...args);
}

/** {@link hopper} with `extra` in its environment. */
function hopperWith(extra: Readonly<Record<string, string>>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // No AWS configuration: a local URL needs no credentials, and a developer's ~/.aws must not matter.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...extra };
    execFile(process.execPath, [`${ROOT}cli/bin.mjs`, ...args, '--url', url], { cwd: ROOT, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON a `--json` run printed. @throws with its stderr when it failed. */
async function hopperJson(...args: string[]): Promise<Record<string, unknown>> {
  const run = await hopper(...args, '--json');
  if (run.code !== 0) throw new Error(`hopper ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  const parsed: unknown = JSON.parse(run.stdout);
  if (!isRecord(parsed)) throw new Error(`not a JSON object: ${run.stdout}`);
  return parsed;
}

function entries(body: Record<string, unknown>): Record<string, unknown>[] {
  const value = body.entries;
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** Entries of `set` (dead, retries, scheduled) with `jobtype`, once there are `count`. */
async function waitForEntries(set: string, jobtype: string, count: number): Promise<Record<string, unknown>[]> {
  return eventually(async () => {
    const found = entries(await hopperJson(set, 'list', '--jobtype', jobtype));
    return found.length >= count ? found : undefined;
  }, 45_000, `${count} ${jobtype} entries in ${set}`);
}

describe('hopper against hopper dev', () => {
  it('lists queues, pauses and resumes one (saying "try again" while it is mid-change), and names a wrong queue in an error with exit code 1', { timeout: 90_000 }, async () => {
    const queues = await hopper('queues');
    const paused = await hopper('queue', 'pause', 'critical');
    const tooSoon = await hopper('queue', 'resume', 'critical');
    const pausedList = await hopperJson('queues');
    const resumed = await eventually(async () => {
      const run = await hopper('queue', 'resume', 'critical');
      return run.code === 0 ? run : undefined;
    }, 45_000, 'the resume to be accepted');
    const wrong = await hopper('queue', 'pause', 'nope');

    expect(queues.stdout.split('\n')[0]).toMatch(/^QUEUE\s+SIZE\s+IN FLIGHT\s+DELAYED\s+LATENCY\s+PAUSED\s+MAX CONCURRENCY$/);
    expect(queues.stdout).toMatch(/^critical\s+\d+\s+\d+\s+\d+\s+\S+\s+no\s+50 jobs$/m);
    expect(queues.stdout).toMatch(/^default\s+\d+\s+\d+\s+\d+\s+\S+\s+no\s+-$/m);
    expect(paused).toMatchObject({ code: 0, stdout: expect.stringMatching(/^queue critical paused/) });
    expect(tooSoon).toEqual({ code: 1, stdout: '', stderr: 'error: queue critical is still being paused or resumed (its worker\'s event source mapping is mid-change); try again in 5 s\n' });
    expect(Array.isArray(pausedList.queues) ? pausedList.queues.filter(isRecord).find((queue) => queue.name === 'critical')?.paused : undefined).toBe(true);
    expect(resumed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^queue critical resumed/) });
    expect(wrong).toEqual({ code: 1, stdout: '', stderr: 'error: queue "nope" is not declared; declared queues: default, critical\n' });
  });

  it('enqueues a job for later, lists it in the scheduled set and runs it now', async () => {
    const enqueued = await hopper('enqueue', 'Greet', '["later"]', '--in', '2h', '--queue', 'critical');
    const jid = /^enqueued (\S+) \(due /.exec(enqueued.stdout)?.[1] ?? '';
    const [entry] = (await waitForEntries('scheduled', 'Greet', 1)).filter((candidate) => candidate.jid === jid);
    const table = await hopper('scheduled', 'list');
    const ran = await hopper('scheduled', 'retry', String(entry?.id));

    expect(enqueued.code).toBe(0);
    expect(entry).toMatchObject({ jid, queue: 'critical', jobtype: 'Greet' });
    expect(table.stdout).toContain(`${String(entry?.id)}  Greet`);
    expect(ran).toEqual({ code: 0, stdout: `retried ${jid} on queue critical\n`, stderr: '' });
    expect(entries(await hopperJson('scheduled', 'list', '--jobtype', 'Greet')).map((candidate) => candidate.jid)).not.toContain(jid);
  });

  it('shows dead jobs, retries one, and deletes all of a jobtype with a progress bar', async () => {
    // retry: 0 sends a failing job straight to the dead set, through the real worker and retry function.
    for (let i = 0; i < 3; i += 1) await api.request('POST', '/v1/jobs', { jobtype: 'AlwaysFails', args: [i], retry: 0 });
    const dead = await waitForEntries('dead', 'AlwaysFails', 3);
    const table = await hopper('dead', 'list', '--jobtype', 'AlwaysFails');
    const retried = await hopper('dead', 'retry', String(dead[0]?.id));
    const wrongId = await hopper('dead', 'delete', 'not-an-id');
    // The retried job dies again: wait for the set to hold three again before deleting them all.
    await waitForEntries('dead', 'AlwaysFails', 3);
    const deleted = await hopper('dead', 'delete-all', '--jobtype', 'AlwaysFails');

    expect(table.stdout).toMatch(/^ID\s+JOBTYPE\s+QUEUE\s+FAILED AT\s+RETRIES\s+ERROR$/m);
    expect(table.stdout).toContain('Error: AlwaysFails always fails');
    expect(retried).toMatchObject({ code: 0, stdout: `retried ${String(dead[0]?.jid)} on queue default\n` });
    expect(wrongId).toEqual({ code: 1, stdout: '', stderr: 'error: id must be an entry id, <13-digit epoch ms>#<jid>, as a list returns it, but "not-an-id" was provided\n' });
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted 3 of 3 matching entries (0 skipped, 0 failed)\n' });
    expect(deleted.stderr.trim().split('\n').at(-1)).toBe(`deleting dead [${'#'.repeat(30)}] 3/3 deleted 3, skipped 0, failed 0`);
    expect(entries(await hopperJson('dead', 'list', '--jobtype', 'AlwaysFails'))).toEqual([]);
  });

  it('tails the functions\' job events from hopper dev\'s CloudWatch Logs: the dead jobs above, as the console shows them, or as printed with --json', async () => {
    const logs = { AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: local.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ?? '' };
    const readable = await hopperWith(logs, 'tail', '--once', '--since', '10m');
    const raw = await hopperWith(logs, 'tail', '--once', '--since', '10m', '--json');
    const missing = await hopper('tail', '--once');

    expect(readable.code).toBe(0);
    expect(readable.stdout).toMatch(/^\[HopperDemo-JobsRetryFunction[^\]]*\] AlwaysFails [0-9a-f]{6}… dead after 1 attempt: Error: AlwaysFails always fails$/m);
    // No EMF metric line in the readable form; the JSON form has the lines as printed, metrics included.
    expect(readable.stdout).not.toContain('_aws');
    expect(raw.stdout).toMatch(/^\[HopperDemo-JobsRetryFunction[^\]]*\] \{.*"jobtype":"AlwaysFails"/m);
    expect(raw.stdout).toContain('"_aws"');
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('hopper tail reads CloudWatch Logs: pass --stack <name>') });
  });

  it('sends a job whose arguments its schema refuses straight to the dead set, naming the field, with no retry', async () => {
    const { jid } = (await api.request('POST', '/v1/jobs', { jobtype: 'Greet', args: [42], retry: 25 })).body as { jid: string };
    const [dead] = (await waitForEntries('dead', 'Greet', 1)).filter((entry) => entry.jid === jid);

    expect(dead).toMatchObject({
      jid, jobtype: 'Greet', retry_count: 0,
      error: { errtype: 'InvalidJobArgsError', message: 'Greet: its arguments do not match the job\'s schema: args[0]: expected a name (a non-empty string)' },
    });
  });

  it('lists the demo cron, triggers it, shows stats, and reports a missing batch', async () => {
    const crons = await hopper('cron', 'list');
    const triggered = await hopper('cron', 'trigger', 'hourly-greeting');
    const stats = await hopper('stats', '--minutes', '5');
    const batch = await hopper('batch', 'status', 'no-such-batch');

    expect(crons.stdout).toMatch(/^hourly-greeting\s+0 \* \* \* \*\s+Europe\/Vienna\s+Greet\s+default\s+\S+\s+\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/m);
    expect(triggered.stdout).toMatch(/^triggered hourly-greeting: enqueued cron:hourly-greeting:manual:[0-9a-f-]{36} on queue default\n$/);
    expect(stats.stdout).toMatch(/^processed  \d+\nfailed     \d+\nlast 5 min, oldest first:\n/);
    expect(batch).toEqual({ code: 1, stdout: '', stderr: 'error: no batch no-such-batch (it never existed, or expired after its retention)\n' });
  });

  it('lists a job waiting in the retry set and deletes it', async () => {
    // A job that failed ten times already backs off for hours on its next failure: the retry set.
    const failure = { retry_count: 10, failed_at: new Date().toISOString(), message: 'earlier', errtype: 'Error' };
    await api.request('POST', '/v1/jobs', { jobtype: 'AlwaysFails', args: ['retry-set'], retry: 25, failure });
    const [entry] = await waitForEntries('retries', 'AlwaysFails', 1);
    const table = await hopper('retries', 'list', '--jobtype', 'AlwaysFails');
    const deleted = await hopper('retries', 'delete', String(entry?.id));

    expect(table.stdout).toMatch(/^ID\s+JOBTYPE\s+QUEUE\s+DUE\s+RETRIES\s+ERROR$/m);
    expect(table.stdout).toMatch(new RegExp(`^${String(entry?.id)}\\s+AlwaysFails\\s+default\\s+\\S+\\s+11\\s+Error: AlwaysFails always fails$`, 'm'));
    expect(deleted).toEqual({ code: 0, stdout: `deleted ${String(entry?.id)}\n`, stderr: '' });
    expect(entries(await hopperJson('retries', 'list', '--jobtype', 'AlwaysFails'))).toEqual([]);
  });

  it('shows a real batch complete once its jobs ran', async () => {
    const client = new Client({
      env: {
        ...local.env,
        HOPPER_QUEUE_URLS: local.outputs.JobsQueueUrls ?? '',
        HOPPER_STATE_TABLE: local.tableName(logicalIdOf(local.tables, 'JobsStateTable')),
      },
    });
    const batch = await client.batch({ description: 'greetings' }, (fill) => fill.add([{ jobtype: 'Greet', args: ['one'] }, { jobtype: 'Greet', args: ['two'] }]));

    await eventually(async () => ((await hopperJson('batch', 'status', batch.bid)).success === true ? true : undefined), 45_000, 'the batch to succeed');
    const status = await hopper('batch', 'status', batch.bid);

    expect(status.stdout.split('\n').slice(0, 2)).toEqual([`batch        ${batch.bid}  greetings`, 'state        succeeded']);
    expect(status.stdout).toContain('jobs         2 total, 2 ran, 0 pending\n             2 succeeded, 0 failing, 0 dead\n');

    // The recent batches: this one first, found by its description, one per page along the cursor.
    const second = await client.batch({ description: 'farewells' }, (fill) => fill.add([{ jobtype: 'Greet', args: ['three'] }]));
    const list = await hopper('batch', 'list', '--q', 'greetings');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^BID\s+CREATED\s+STATE\s+RAN\s+DEAD\s+DESCRIPTION$/);
    expect(list.stdout.split('\n')[1]).toMatch(new RegExp(`^${batch.bid}\\s+\\S+\\s+succeeded\\s+2/2\\s+0\\s+greetings$`));
    const page = await hopper('batch', 'list', '--limit', '1');
    expect(page.stdout.split('\n')[1]?.startsWith(second.bid)).toBe(true);
    const next = /--cursor '([^']+)'/.exec(page.stderr)?.[1] ?? '';
    expect((await hopper('batch', 'list', '--limit', '1', '--cursor', next)).stdout.split('\n')[1]?.startsWith(batch.bid)).toBe(true);
    expect(await hopper('batch', 'list', '--state', 'done')).toEqual({ code: 2, stdout: '', stderr: 'error: --state must be one of running, succeeded, failed, but "done" was provided\nRun "hopper batch --help" for usage.\n' });
  });
});
