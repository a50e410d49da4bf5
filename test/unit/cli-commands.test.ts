import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from './cli-fakes.js';
import { progressLine } from '../../cli/commands/progress.js';
import { apiUrlOutput, resolveTarget } from '../../cli/commands/target.js';
import { displayWidth, renderTable } from '../../cli/commands/table.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

function run(args: string[], answers: { status: number; body?: unknown }[] = [], stderrIsTTY = false) {
  return runCli(args, answers, { stderrIsTTY, nowMs: NOW });
}

describe('renderTable', () => {
  it('aligns columns under their headers and clips long cells', () => {
    const text = renderTable([{ a: 'x', b: 'a long message here' }, { a: 'longer', b: 'b' }], [
      { header: 'A', value: (row) => row.a },
      { header: 'B', value: (row) => row.b, max: 6 },
    ]);
    expect(text).toBe('A       B\nx       a lon…\nlonger  b\n');
  });

  it('counts a CJK or fullwidth character as two columns and a combining mark as none, so wide jobtypes line up', () => {
    expect([displayWidth('請求書'), displayWidth('ＡＢ'), displayWidth('e\u0301'), displayWidth('Größe')]).toEqual([6, 4, 1, 5]);
    const text = renderTable([{ type: '請求書::送信', queue: 'default' }, { type: 'SendEmail', queue: 'critical' }, { type: '청구서', queue: 'x' }], [
      { header: 'JOBTYPE', value: (row) => row.type },
      { header: 'QUEUE', value: (row) => row.queue },
    ]);
    expect(text).toBe([
      'JOBTYPE       QUEUE',
      '請求書::送信  default',
      'SendEmail     critical',
      '청구서        x',
      '',
    ].join('\n'));
    // Every QUEUE cell starts at the same terminal column.
    const columns = text.trimEnd().split('\n').map((line) => displayWidth(line.slice(0, line.search(/ [A-Za-z]+$/) + 1)));
    expect(new Set(columns).size).toBe(1);
    // A clipped cell is cut by columns too, never halving a wide character.
    expect(renderTable([{ a: '請求書送信処理' }], [{ header: 'A', value: (row) => row.a, max: 6 }])).toBe('A\n請求…\n');
  });
});

describe('hopper stats --cohorts', () => {
  const body = {
    cohorts: [
      { minute: '2026-11-22T12:01:00.000Z', started: 5, done: 1, dead: 0, pending: 4, failed: 0, latency_ms: { p50: 840, p90: 1900, p99: 4200, max: 95_000 } },
      { minute: '2026-11-22T12:00:00.000Z', started: 0, done: 0, dead: 1, pending: 0, failed: 2, latency_ms: { p50: null, p90: null, p99: null, max: null } },
    ],
  };

  it('prints the cohorts as a table, newest first, latencies in ms, s or min', async () => {
    const result = await run(['stats', '--cohorts', '--minutes', '5', '--url', 'http://127.0.0.1:1'], [{ status: 200, body }]);
    expect(result.calls).toEqual([{ method: 'GET', path: '/v1/stats/cohorts?minutes=5', body: undefined }]);
    expect(result.stdout).toBe([
      'MINUTE (UTC)      STARTED  DONE  DEAD  PENDING  FAILED  P50    P90   P99   MAX',
      '2026-11-22 12:01  5        1     0     4        0       840ms  1.9s  4.2s  1.6m',
      '2026-11-22 12:00  0        0     1     0        2       -      -     -     -',
      '',
    ].join('\n'));
  });

  it('prints the answer as it is with --json, and a note when there are no cohorts', async () => {
    expect(JSON.parse((await run(['stats', '--cohorts', '--json', '--url', 'http://127.0.0.1:1'], [{ status: 200, body }])).stdout)).toEqual(body);
    expect((await run(['stats', '--cohorts', '--url', 'http://127.0.0.1:1'], [{ status: 200, body: { cohorts: [] } }])).stdout).toBe('(no jobs enqueued in the last 60 min)\n');
  });
});

describe('hopper queues', () => {
  it('shows each queue\'s cap in jobs, and a dash for a queue without one', async () => {
    const queue = { size: 3, in_flight: 1, delayed: 0, latency: 0.25, paused: false };
    const result = await run(['queues', '--url', 'http://127.0.0.1:1'], [{ status: 200, body: { queues: [{ name: 'default', ...queue, max_concurrency: null }, { name: 'critical', ...queue, max_concurrency: 50 }] } }]);
    expect(result.stdout).toBe([
      'QUEUE     SIZE  IN FLIGHT  DELAYED  LATENCY  PAUSED  MAX CONCURRENCY',
      'default   3     1          0        0.3s     no      -',
      'critical  3     1          0        0.3s     no      50 jobs',
      '',
    ].join('\n'));
  });

  it('lists a tiered queue\'s tiers under it: the oldest job\'s age against its target, its share now', async () => {
    const tier = (name: string, size: number, age: number | null, target: number, late: boolean, maxJobs: number) => ({ name, size, in_flight: 0, delayed: 0, age, target_age: target, late, concurrency: maxJobs / 5, max_jobs: maxJobs });
    const email = {
      name: 'email', size: 5012, in_flight: 40, delayed: 0, latency: 2.5, paused: false, max_concurrency: 60,
      tiers: [tier('critical', 12, 7.5, 5, true, 10), tier('default', 0, 0, 60, false, 10), tier('bulk', 5000, null, 3600, false, 40)],
    };
    const result = await run(['queues', '--url', 'http://127.0.0.1:1'], [{ status: 200, body: { queues: [email] } }]);
    expect(result.stdout).toBe([
      'QUEUE           SIZE  IN FLIGHT  DELAYED  LATENCY          PAUSED  MAX CONCURRENCY',
      'email           5012  40         0        2.5s             no      60 jobs',
      'email.critical  12    0          0        7.5s of 5s LATE          10 jobs now',
      'email.default   0     0          0        0.0s of 60s              10 jobs now',
      'email.bulk      5000  0          0        - of 3600s               40 jobs now',
      '',
    ].join('\n'));
  });
});

describe('admin commands', () => {
  it('shows the API\'s error message as "error: <message>" with exit code 1', async () => {
    const result = await run(['queue', 'pause', 'nope', '--url', 'http://127.0.0.1:1'], [{ status: 404, body: { error: { code: 'not_found', message: 'queue "nope" is not declared' } } }]);
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'error: queue "nope" is not declared\n' });
    expect(result.calls).toEqual([{ method: 'POST', path: '/v1/queues/nope/pause', body: undefined }]);
    expect(result.targets).toEqual([{ url: 'http://127.0.0.1:1' }]);
  });

  it.each([
    { args: ['queue', 'stop', 'default'], message: 'error: queue needs an action, pause or resume, but "stop" was provided' },
    { args: ['enqueue', 'SendEmail', '{"to":1}'], message: `error: args must be a JSON array such as '["a@example.com", 42]', but "{\\"to\\":1}" was provided` },
    { args: ['enqueue', 'SendEmail', '--in', 'soon'], message: 'error: --in must be seconds or a duration such as 90s, 15m, 3h, 2d, but "soon" was provided' },
    { args: ['dead', 'list', '--limit', '0'], message: 'error: --limit must be an integer from 1 to 1000, but "0" was provided' },
    { args: ['dead', 'retry'], message: 'error: dead retry needs an entry id (hopper dead list shows them)' },
    { args: ['stats', '--colour'], message: "error: Unknown option '--colour'" },
  ])('refuses $args with exit code 2 before calling the API', async ({ args, message }) => {
    const result = await run(args);
    // parseArgs' own messages go on with advice; the start names the problem.
    expect({ code: result.code, first: result.stderr.slice(0, message.length), calls: result.calls }).toEqual({ code: 2, first: message, calls: [] });
  });

  it('enqueues with args, queue and a due time from --in', async () => {
    const result = await run(['enqueue', 'SendEmail', '["a@example.com", 42]', '--queue', 'critical', '--in', '5m'], [{ status: 202, body: { jid: 'j1', jids: ['j1'] } }]);
    expect(result.calls).toEqual([{ method: 'POST', path: '/v1/jobs', body: { jobtype: 'SendEmail', args: ['a@example.com', 42], queue: 'critical', at: '2026-11-22T12:05:00.000Z' } }]);
    expect(result.stdout).toBe('enqueued j1 (due 2026-11-22T12:05:00.000Z)\n');
  });

  it('lists a set as a table with the filter in the query, and says how to get the next page', async () => {
    const entry = { id: '1763812800000#d1', jid: 'd1', jobtype: 'SendEmail', queue: 'default', failed_at: '2026-11-22T12:00:00.000Z', error: { errtype: 'Error', message: 'boom' }, retry_count: 25 };
    const result = await run(['dead', 'list', '--jobtype', 'SendEmail', '--limit', '1'], [{ status: 200, body: { entries: [entry], scanned: 1, cursor: entry.id } }]);
    expect(result.calls[0]?.path).toBe('/v1/dead?jobtype=SendEmail&limit=1');
    expect(result.stdout).toBe([
      'ID                JOBTYPE    QUEUE    FAILED AT                 RETRIES  ERROR',
      '1763812800000#d1  SendEmail  default  2026-11-22T12:00:00.000Z  25       Error: boom',
      "more: hopper dead list --jobtype 'SendEmail' --limit '1' --cursor '1763812800000#d1'",
      '',
    ].join('\n'));
  });

  it('retries all matching entries page by page along the cursor, with a progress bar on stderr printed once when it is not a terminal', async () => {
    const answers = [
      { status: 200, body: { entries: [{}, {}, {}], cursor: null } },
      { status: 200, body: { scanned: 100, matched: 2, retried: 2, skipped: 0, failed: [], cursor: '1#a', done: false } },
      { status: 200, body: { scanned: 40, matched: 1, retried: 0, skipped: 1, failed: [], cursor: null, done: true } },
    ];
    const result = await run(['retries', 'retry-all', '--queue', 'critical'], [...answers]);
    expect(result.calls.map((entry) => [entry.method, entry.path, entry.body])).toEqual([
      ['GET', '/v1/retries?queue=critical&limit=1000', undefined],
      ['POST', '/v1/retries/retry', { queue: 'critical', limit: 100 }],
      ['POST', '/v1/retries/retry', { queue: 'critical', limit: 100, cursor: '1#a' }],
    ]);
    expect(result.stderr.split('\n')).toEqual([progressLine('retrying retries', 3, 3, 'retried 2, skipped 1, failed 0'), '']);
    expect(result.stdout).toBe('retried 2 of 3 matching entries (1 skipped, 0 failed)\n');
    expect(result.code).toBe(0);
    // On a terminal the bar redraws its one line at each page, then ends it.
    const onTerminal = await run(['retries', 'retry-all', '--queue', 'critical'], [...answers], true);
    expect(onTerminal.stderr).toBe([
      `\r${progressLine('retrying retries', 0, 3, '')}\u001b[K`,
      `\r${progressLine('retrying retries', 2, 3, 'retried 2, skipped 0, failed 0')}\u001b[K`,
      `\r${progressLine('retrying retries', 3, 3, 'retried 2, skipped 1, failed 0')}\u001b[K`,
      '\n',
    ].join(''));
  });

  it('exits 1 when a bulk run could not move some entries, listing them', async () => {
    const result = await run(['dead', 'delete-all', '--json'], [
      { status: 200, body: { entries: [{}], cursor: null } },
      { status: 200, body: { scanned: 1, matched: 1, deleted: 0, skipped: 0, failed: [{ id: '1#a', reason: 'throttled' }], cursor: null, done: true } },
    ]);
    expect(result.stdout).toBe(`${JSON.stringify({ matched: 1, deleted: 0, skipped: 0, failed: [{ id: '1#a', reason: 'throttled' }] }, null, 2)}\n`);
    expect({ code: result.code, stderr: result.stderr.trim().split('\n').slice(-2) }).toEqual({
      code: 1,
      stderr: [progressLine('deleting dead', 1, 1, 'deleted 0, skipped 0, failed 1'), 'error: 1 matching entries were not deleted; run the command again to retry them'],
    });
  });

  it('shows a flow\'s steps, and retries it with a POST', async () => {
    const body = {
      id: 'f-1', description: 'import 42', status: 'failed', settled: true, failed_step: 'parse', retries: 0,
      created_at: '2026-11-22T12:00:00.000Z', finished_at: '2026-11-22T12:00:05.000Z',
      steps: [
        { name: 'fetch', jobtype: 'Fetch', status: 'succeeded', attempt: 1, bid: 'f-1.fetch.1', after: [], started_at: '2026-11-22T12:00:00.000Z', ended_at: '2026-11-22T12:00:02.000Z', duration_ms: 2000 },
        { name: 'parse', jobtype: 'Parse', status: 'failed', attempt: 1, bid: 'f-1.parse.1', after: [{ step: 'fetch', on_failure: 'fail' }], started_at: '2026-11-22T12:00:02.000Z', ended_at: '2026-11-22T12:00:05.000Z', duration_ms: 3000 },
        { name: 'notify', jobtype: 'Notify', status: 'cancelled', attempt: 0, bid: null, after: [{ step: 'parse', on_failure: 'continue' }], started_at: null, ended_at: null, duration_ms: null },
      ],
    };
    const status = await run(['flow', 'status', 'f-1'], [{ status: 200, body }]);
    const retried = await run(['flow', 'retry', 'f-1'], [{ status: 200, body: { ...body, status: 'running', settled: false, failed_step: null, retries: 1 } }]);
    const usage = await run(['flow', 'restart', 'f-1']);

    expect(status.stdout).toBe([
      'flow     f-1  import 42',
      'state    failed, failed at parse',
      'retries  0',
      '',
      'STEP    JOBTYPE  STATE      ATTEMPT  AFTER             STARTED                   TOOK',
      'fetch   Fetch    succeeded  1        -                 2026-11-22T12:00:00.000Z  2.0 s',
      'parse   Parse    failed     1        fetch             2026-11-22T12:00:02.000Z  3.0 s',
      'notify  Notify   cancelled  0        parse (continue)  -                         -',
      '',
    ].join('\n'));
    expect(status.calls).toEqual([{ method: 'GET', path: '/v1/flows/f-1' }]);
    expect(retried.calls).toEqual([{ method: 'POST', path: '/v1/flows/f-1/retry' }]);
    expect(retried.stdout.split('\n').slice(0, 3)).toEqual(['flow     f-1  import 42', 'state    running (steps running)', 'retries  1']);
    expect({ code: usage.code, stderr: usage.stderr.trim() }).toMatchObject({ code: 2 });
    expect(usage.stderr).toContain('flow needs an action, status or retry, but "restart" was provided');
  });

  it('shows a batch and the crons', async () => {
    const batch = await run(['batch', 'status', 'b-1'], [{ status: 200, body: {
      bid: 'b-1', description: 'import', created_at: '2026-11-22T11:00:00.000Z', total: 10, pending: 4, succeeded: 5, failures: 1, dead: 0, complete: false, success: false,
      callbacks: { complete: { configured: true, fired_at: null, sent_at: null }, success: { configured: false, fired_at: null, sent_at: null }, death: { configured: false, fired_at: null, sent_at: null } },
      children: { total: 0, complete: 0, succeeded: 0, dead: 0 },
    } }]);
    const crons = await run(['cron', 'list'], [{ status: 200, body: { crons: [{ name: 'nightly', schedule: '0 3 * * *', timezone: 'UTC', jobtype: 'Report', queue: 'default', last_run_at: null, next_run_at: '2026-11-23T03:00:00.000Z' }] } }]);

    expect(batch.stdout.split('\n').slice(0, 5)).toEqual(['batch        b-1  import', 'state        running', 'created      2026-11-22T11:00:00.000Z', 'jobs         10 total, 6 ran, 4 pending', '             5 succeeded, 1 failing, 0 dead']);
    expect(batch.stdout).toContain('on complete  waiting\non success   -\n');
    expect(crons.stdout).toBe('NAME     SCHEDULE   TIMEZONE  JOBTYPE  QUEUE    LAST RUN  NEXT RUN\nnightly  0 3 * * *  UTC       Report   default  never     2026-11-23T03:00:00.000Z\n');
  });
});

describe('targets', () => {
  const io = { stdout: () => undefined, stderr: () => undefined, stderrIsTTY: false, env: {} };
  const credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' };

  it('finds the API in the stack outputs (<id>ApiUrl) and signs its requests with the default credentials', async () => {
    const asked: string[] = [];
    const sent: { url: string; authorization: string | null }[] = [];
    vi.stubGlobal('fetch', async (url: URL, init?: RequestInit) => {
      sent.push({ url: String(url), authorization: new Headers(init?.headers).get('authorization') });
      return new Response('{}');
    });
    try {
      const client = await resolveTarget({ stack: 'Prod', region: 'eu-west-1' }, io, {
        stackOutputs: async (stack, region) => { asked.push(`${stack}@${region}`); return { JobsQueueUrls: '{}', JobsApiUrl: 'https://abc.lambda-url.eu-west-1.on.aws/' }; },
        credentials: () => credentials,
      });
      await client.request('GET', '/v1/stats');
    } finally {
      vi.unstubAllGlobals();
    }

    expect(asked).toEqual(['Prod@eu-west-1']);
    expect(sent.map((request) => request.url)).toEqual(['https://abc.lambda-url.eu-west-1.on.aws/v1/stats']);
    expect(sent[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
  });

  it('sends plain requests to a local URL', async () => {
    const sent: (string | null)[] = [];
    vi.stubGlobal('fetch', async (_url: URL, init?: RequestInit) => { sent.push(new Headers(init?.headers).get('authorization')); return new Response('{}'); });
    try {
      await (await resolveTarget({ url: 'http://127.0.0.1:9' }, io, { stackOutputs: async () => ({}), credentials: () => credentials })).request('GET', '/v1/stats');
    } finally {
      vi.unstubAllGlobals();
    }
    expect(sent).toEqual([null]);
  });

  it.each<{ outputs: Record<string, string>; message: string }>([
    { outputs: { JobsQueueUrls: '{}' }, message: 'stack Prod has no output ending in ApiUrl (outputs: JobsQueueUrls); is it a stack with a JobSystem?' },
    { outputs: { AApiUrl: 'https://a', BApiUrl: 'https://b' }, message: 'stack Prod has several API outputs (AApiUrl, BApiUrl); pass the one you mean with --url' },
  ])('explains a stack without one API output: $message', ({ outputs, message }) => {
    expect(() => apiUrlOutput('Prod', outputs)).toThrow(message);
  });

  it('asks for a target when none is given, and refuses two', async () => {
    const deps = { stackOutputs: async () => ({}), credentials: () => credentials };
    await expect(resolveTarget({}, io, deps)).rejects.toThrow('no target: pass --url <url> (hopper dev prints it) or --stack <name>');
    await expect(resolveTarget({ url: 'http://127.0.0.1:1', stack: 'Prod' }, io, deps)).rejects.toThrow('--url and --stack name two targets; pass one');
  });
});

describe('hopper queue pause|resume while the queue is mid-change', () => {
  it('says to try again and exits 1', async () => {
    const busy = { status: 409, body: { error: { code: 'busy', message: 'queue critical is still being paused or resumed (its worker\'s event source mapping is mid-change); try again in 5 s', retry_after: 5 } } };
    const result = await run(['queue', 'resume', 'critical'], [busy]);

    expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'error: queue critical is still being paused or resumed (its worker\'s event source mapping is mid-change); try again in 5 s\n' });
  });
});

describe('hopper redrive retries', () => {
  it('calls the redrive route until the DLQ is empty and says how many moved', async () => {
    const result = await run(['redrive', 'retries'], [
      { status: 200, body: { moved: 100, lingering: 0, failed: [], done: false } },
      { status: 200, body: { moved: 37, lingering: 1, failed: [], done: true } },
    ]);

    expect(result.calls).toEqual([
      { method: 'POST', path: '/v1/redrive/retries', body: { limit: 100 } },
      { method: 'POST', path: '/v1/redrive/retries', body: { limit: 100 } },
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'moved 137 messages back to the retries queue (1 sent but not deleted: they may be moved twice)\n' });
  });

  it('says how many batch-stream failure records it left in the DLQ', async () => {
    const kept = [{ message_id: 'm-9', reason: 'a batch-stream failure record (shard s-1, sequence numbers 1 to 2), not a job: left in the DLQ' }];
    const result = await run(['redrive', 'retries'], [{ status: 200, body: { moved: 4, lingering: 0, failed: [], kept, done: true } }]);

    expect(result).toMatchObject({ code: 0, stdout: 'moved 4 messages back to the retries queue\nleft 1 batch-stream failure records in the DLQ: they are not jobs (see docs/operations.md)\n' });
  });

  it('exits 1 naming the first reason when messages could not be sent back, and stops when nothing moves', async () => {
    const stuck = { status: 200, body: { moved: 0, lingering: 0, failed: [{ message_id: 'm-1', reason: 'AccessDenied: not allowed' }], done: false } };
    const result = await run(['redrive', 'retries'], [stuck, stuck, stuck]);

    expect(result.calls).toHaveLength(3);
    expect(result).toMatchObject({ code: 1, stderr: expect.stringContaining('error: 3 messages could not be sent back and stay in the DLQ; first: AccessDenied: not allowed') });
  });

  it('refuses anything but retries', async () => {
    const result = await run(['redrive', 'dead']);
    expect(result).toMatchObject({ code: 2, stderr: expect.stringContaining('error: redrive needs what to redrive, retries, but "dead" was provided') });
  });
});

describe('the hopper binary\'s command line', () => {
  const hopper = (args: readonly string[]) => spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../cli/hopper.ts', import.meta.url)), ...args], { encoding: 'utf8', timeout: 30_000 });

  it('exits 2 with the usage on stderr when no command is given, and 0 with it on stdout for --help', () => {
    const bare = hopper([]);
    expect({ status: bare.status, stdout: bare.stdout }).toEqual({ status: 2, stdout: '' });
    expect(bare.stderr).toMatch(/^hopper: no command given\n\nUsage: hopper <command> \[options\]/);
    const help = hopper(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: hopper <command> \[options\]/);
  });
});
