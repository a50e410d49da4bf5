/**
 * `hopper dashboard` against a deployed stack: the target is found from the stack's outputs and
 * every forwarded call reaches the Function URL signed with SigV4, checked here by a fake
 * endpoint that recomputes the signature with the secret key.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findCommand, runCommand } from '../../cli/commands/index.js';
import { serveDashboard } from '../../cli/commands/dashboard.js';
import { resolveTarget } from '../../cli/commands/target.js';
import type { CommandContext } from '../../cli/commands/command.js';
import { spawnNode } from '../fixtures/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CREDENTIALS = { accessKeyId: 'AKIADASHBOARD', secretAccessKey: 'dashboard-secret', sessionToken: 'session-token' };
const REGION = 'eu-west-1';

/** A received request and whether its SigV4 signature verifies with {@link CREDENTIALS}. */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly authorization: string;
  readonly securityToken: string | undefined;
  readonly verified: boolean;
}

const encode = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** Recomputes the SigV4 signature of `request` (service lambda) from scratch and compares. */
function verifies(request: IncomingMessage, body: string, secret: string): boolean {
  const authorization = request.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/lambda\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
  if (match === null) return false;
  const [, , day = '', region = '', signedHeaders = '', signature = ''] = match;
  const url = new URL(request.url ?? '/', 'http://placeholder');
  // SigV4's canonical query: every pair encoded, sorted by name, then by value.
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const query = [...url.searchParams].map(([name, value]) => [encode(name), encode(value)] as const).sort(([a, x], [b, y]) => order(a, b) || order(x, y)).map(([name, value]) => `${name}=${value}`).join('&');
  // Lambda signs the path with each segment escaped once more (SigV4's double encoding).
  const path = url.pathname.split('/').map((segment) => encode(segment)).join('/');
  const headers = signedHeaders.split(';').map((name) => `${name}:${String(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [request.method, path, query, headers, signedHeaders, sha256(body)].join('\n');
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const scope = `${day}/${region}/lambda/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 'lambda'), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A fake Function URL with IAM auth: 403 unless the signature verifies with `secret`. */
async function fakeFunctionUrl(secret: string): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifies(request, body, secret);
      const token = request.headers['x-amz-security-token'];
      received.push({ method: request.method ?? '', url: request.url ?? '', body, authorization: request.headers.authorization ?? '', securityToken: typeof token === 'string' ? token : undefined, verified });
      response.writeHead(verified ? 200 : 403, { 'content-type': 'application/json' });
      response.end(JSON.stringify(verified ? { queues: [{ name: 'default', paused: false }] } : { Message: 'The request signature we calculated does not match the signature you provided.' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return { url: `http://127.0.0.1:${address.port}/`, received };
}

/** Starts `hopper dashboard <args>` in process against stack Prod whose ApiUrl is `apiUrl`. */
async function startCommand(apiUrl: string, args: string[]): Promise<{ dashboardUrl: string; stop: () => Promise<void>; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io = { stdout: (text: string) => { stdout.push(text); }, stderr: (text: string) => { stderr.push(text); }, stderrIsTTY: false, env: {} };
  const ctx: CommandContext = {
    io,
    connect: (target) => resolveTarget(target, io, { stackOutputs: async () => ({ JobsQueueUrls: '{}', JobsApiUrl: apiUrl }), credentials: () => CREDENTIALS }),
    now: Date.now,
  };
  let stop: () => void = () => undefined;
  const until = new Promise<void>((resolve) => { stop = resolve; });
  const running = serveDashboard(args, ctx, until);
  const deadline = Date.now() + 10_000;
  while (!stdout.join('').includes('\n')) {
    if (Date.now() > deadline) throw new Error(`hopper dashboard printed nothing (stderr: ${stderr.join('')})`);
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
  const dashboardUrl = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout.join(''))?.[1] ?? '';
  closers.push(async () => { stop(); await running; });
  return { dashboardUrl, stop: async () => { stop(); await running; }, stderr };
}

describe('hopper dashboard', () => {
  it('forwards the pages\' API calls to the stack\'s Function URL, signed with the user\'s credentials', async () => {
    const api = await fakeFunctionUrl(CREDENTIALS.secretAccessKey);
    const { dashboardUrl } = await startCommand(api.url, ['--stack', 'Prod', '--region', REGION, '--port', '0']);

    const list = await fetch(`${dashboardUrl}v1/queues?limit=5&jobtype=Send%20Email`);
    const pause = await fetch(`${dashboardUrl}v1/queues/default/pause`, { method: 'POST', headers: { 'x-hopper-dashboard': '1' } });
    const bulk = await fetch(`${dashboardUrl}v1/dead/retry`, { method: 'POST', headers: { 'x-hopper-dashboard': '1', 'content-type': 'application/json' }, body: JSON.stringify({ queue: 'default' }) });

    expect(dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect([list.status, pause.status, bulk.status]).toEqual([200, 200, 200]);
    expect(await list.json()).toEqual({ queues: [{ name: 'default', paused: false }] });
    expect(api.received.map(({ method, url, body, verified, securityToken }) => ({ method, url, body, verified, securityToken }))).toEqual([
      { method: 'GET', url: '/v1/queues?limit=5&jobtype=Send%20Email', body: '', verified: true, securityToken: 'session-token' },
      { method: 'POST', url: '/v1/queues/default/pause', body: '', verified: true, securityToken: 'session-token' },
      { method: 'POST', url: '/v1/dead/retry', body: '{"queue":"default"}', verified: true, securityToken: 'session-token' },
    ]);
    expect(api.received[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIADASHBOARD\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
  });

  it('forwards a repeated query key as sent, signed so that the endpoint verifies it', async () => {
    const api = await fakeFunctionUrl(CREDENTIALS.secretAccessKey);
    const { dashboardUrl } = await startCommand(api.url, ['--stack', 'Prod', '--region', REGION, '--port', '0']);

    const answer = await fetch(`${dashboardUrl}v1/dead?state=b&queue=default&state=a`);

    expect(answer.status).toBe(200);
    expect(api.received.map(({ url, verified }) => ({ url, verified }))).toEqual([{ url: '/v1/dead?state=b&queue=default&state=a', verified: true }]);
  });

  it('passes the endpoint\'s refusal of a bad signature to the page (the check can fail)', async () => {
    const api = await fakeFunctionUrl('another-secret');
    const { dashboardUrl } = await startCommand(api.url, ['--stack', 'Prod', '--port', '0']);

    const answer = await fetch(`${dashboardUrl}v1/queues`);

    expect(answer.status).toBe(403);
    expect(await answer.json()).toEqual({ Message: 'The request signature we calculated does not match the signature you provided.' });
    expect(api.received.map((request) => request.verified)).toEqual([false]);
  });

  it('stops serving when stopped, and names a port in use or a wrong port', async () => {
    const api = await fakeFunctionUrl(CREDENTIALS.secretAccessKey);
    const first = await startCommand(api.url, ['--stack', 'Prod', '--port', '0']);
    const port = new URL(first.dashboardUrl).port;
    const command = findCommand('dashboard');
    if (command === undefined) throw new Error('no dashboard command');
    const errors: string[] = [];
    const io = { stdout: () => undefined, stderr: (text: string) => { errors.push(text); }, stderrIsTTY: false, env: {} };
    const ctx: CommandContext = { io, connect: (target) => resolveTarget(target, io, { stackOutputs: async () => ({ JobsApiUrl: api.url }), credentials: () => CREDENTIALS }), now: Date.now };

    const inUse = await runCommand(command, ['--stack', 'Prod', '--port', port], ctx);
    const wrong = await runCommand(command, ['--stack', 'Prod', '--port', '70000'], ctx);
    await first.stop();
    const afterStop = await fetch(`${first.dashboardUrl}v1/queues`).then(() => 'answered', () => 'refused');

    expect(inUse).toBe(1);
    expect(wrong).toBe(2);
    expect(errors.join('')).toBe(`error: port ${port} on 127.0.0.1 is in use; pass --port <n>, or --port 0 for any free port\nerror: --port must be an integer from 0 to 65535, but "70000" was provided\nRun "hopper dashboard --help" for usage.\n`);
    expect(afterStop).toBe('refused');
  });

  it('runs from the hopper binary: prints its URL, forwards a local target unsigned, and exits 0 on Ctrl-C', async () => {
    const api = await fakeFunctionUrl(CREDENTIALS.secretAccessKey);
    // No AWS configuration: a local URL needs no credentials.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const { child, stdout, stderr, exited } = spawnNode([`${ROOT}cli/bin.mjs`, 'dashboard', '--url', api.url, '--port', '0'], { cwd: ROOT, env });
    try {
      const deadline = Date.now() + 30_000;
      while (!stdout().includes('\n') && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      const url = /^Hopper dashboard on (http:\/\/127\.0\.0\.1:\d+\/) \(Ctrl-C stops it\)$/.exec(stdout().trim())?.[1];
      if (url === undefined) throw new Error(`hopper dashboard printed ${JSON.stringify(stdout())} (stderr: ${stderr()})`);
      const page = await fetch(url);
      const forwarded = await fetch(`${url}v1/queues`);
      child.kill('SIGINT');

      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Hopper</title>');
      // The fake endpoint refuses unsigned calls: a local target is not signed.
      expect(forwarded.status).toBe(403);
      expect(api.received.map((request) => [request.url, request.authorization])).toEqual([['/v1/queues', '']]);
      expect(await exited).toBe(0);
      expect(stderr()).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
