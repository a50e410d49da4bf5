import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiClientResponse } from '../../lib/api-client/index.js';
import type { ApiCaller } from '../../cli/commands/io.js';
import { startDashboardServer, staticFilePath, type DashboardServer } from '../../cli/dashboard/server.js';

/** An API that answers from a list and records what it was asked. */
class RecordingApi implements ApiCaller {
  readonly calls: { method: string; path: string; body: unknown }[] = [];

  constructor(private readonly answer: (method: string, path: string) => ApiClientResponse | Error) {}

  async request(method: string, path: string, body?: unknown): Promise<ApiClientResponse> {
    this.calls.push({ method, path, body });
    const answer = this.answer(method, path);
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

const servers: DashboardServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(api: ApiCaller = new RecordingApi(() => ({ status: 200, headers: new Headers(), body: {} }))): Promise<DashboardServer> {
  const server = await startDashboardServer({ api });
  servers.push(server);
  return server;
}

/** A raw HTTP request (fetch would normalize `..` and set its own Host). */
function raw(server: DashboardServer, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('staticFilePath', () => {
  it.each(['/../package.json', '/js/../../server.ts', '/%2e%2e/server.ts', '/js/%2e%2e%2f%2e%2e%2fserver.ts', '/.hidden', '/a\\..\\b', '/%00', '/%E0%A4%A'])('refuses %s', (path) => {
    expect(staticFilePath('/srv/static', path)).toBeUndefined();
  });

  it('maps / to index.html and a path to the file under the root', () => {
    expect(staticFilePath('/srv/static', '/')).toBe(join('/srv/static', 'index.html'));
    expect(staticFilePath('/srv/static/', '/js/pages/dead.js')).toBe(join('/srv/static', 'js/pages/dead.js'));
  });
});

describe('dashboard server', () => {
  it('listens on 127.0.0.1 on a free port and serves the pages with a content security policy', async () => {
    const server = await serve();
    const page = await fetch(server.url);
    const html = await page.text();
    const script = await fetch(`${server.url}js/app.js`);
    const style = await fetch(`${server.url}style.css`);

    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.port).toBeGreaterThan(0);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html).toContain('<script type="module" src="/js/app.js"></script>');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain("import { currentRoute } from './route.js';");
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('refuses paths that leave the static directory, and answers 404 for missing files', async () => {
    const server = await serve();
    const answers = await Promise.all(['/../server.ts', '/js/../../server.ts', '/%2e%2e/server.ts', '/..%2fserver.ts', '/nope.js', '/server.ts'].map((path) => raw(server, path, { headers: { host: `127.0.0.1:${server.port}` } })));

    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404, 404, 404, 404]);
    expect(JSON.parse(answers[4]?.body ?? '')).toEqual({ error: { code: 'not_found', message: 'no file /nope.js' } });
    expect(answers.some((answer) => answer.body.includes('startDashboardServer'))).toBe(false);
  });

  it('forwards /v1 calls with their query and JSON body, and passes the status and rate-limit headers back', async () => {
    const api = new RecordingApi((method) => (method === 'GET'
      ? { status: 200, headers: new Headers(), body: { queues: [{ name: 'default' }] } }
      : { status: 429, headers: new Headers({ 'retry-after': '7', 'x-hopper-rate-limits': '7::tenant:quota_exceeded' }), body: { error: { code: 'quota_exceeded', message: 'slow down' } } }));
    const server = await serve(api);

    const list = await fetch(`${server.url}v1/queues?limit=5&cursor=a%23b`);
    const bulk = await fetch(`${server.url}v1/dead/retry`, { method: 'POST', headers: { 'x-hopper-dashboard': '1', 'content-type': 'application/json' }, body: JSON.stringify({ jobtype: 'SendEmail' }) });

    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ queues: [{ name: 'default' }] });
    expect(bulk.status).toBe(429);
    expect(bulk.headers.get('retry-after')).toBe('7');
    expect(bulk.headers.get('x-hopper-rate-limits')).toBe('7::tenant:quota_exceeded');
    expect(await bulk.json()).toEqual({ error: { code: 'quota_exceeded', message: 'slow down' } });
    expect(api.calls).toEqual([
      { method: 'GET', path: '/v1/queues?limit=5&cursor=a%23b', body: undefined },
      { method: 'POST', path: '/v1/dead/retry', body: { jobtype: 'SendEmail' } },
    ]);
  });

  it('answers 204 without a body, and text bodies as text', async () => {
    const api = new RecordingApi((method) => (method === 'DELETE' ? { status: 204, headers: new Headers(), body: undefined } : { status: 403, headers: new Headers(), body: 'Forbidden' }));
    const server = await serve(api);

    const deleted = await fetch(`${server.url}v1/dead/1%23a`, { method: 'DELETE', headers: { 'x-hopper-dashboard': '1' } });
    const denied = await fetch(`${server.url}v1/queues`);

    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect(denied.status).toBe(403);
    expect(denied.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await denied.text()).toBe('Forbidden');
  });

  it('explains an API it cannot reach with 502 in the API\'s error shape', async () => {
    const server = await serve(new RecordingApi(() => new Error('connect ECONNREFUSED 127.0.0.1:9')));
    const answer = await fetch(`${server.url}v1/stats`);

    expect(answer.status).toBe(502);
    expect(await answer.json()).toEqual({ error: { code: 'api_unreachable', message: 'no answer from the API (unreachable, or the request could not be signed): connect ECONNREFUSED 127.0.0.1:9' } });
  });

  it('refuses what another web page could send: changes without its header, foreign hosts and origins, bad JSON', async () => {
    const api = new RecordingApi(() => ({ status: 200, headers: new Headers(), body: {} }));
    const server = await serve(api);
    const own = `127.0.0.1:${server.port}`;

    const noHeader = await raw(server, '/v1/queues/default/pause', { method: 'POST', headers: { host: own, 'content-type': 'text/plain' } });
    const rebinding = await raw(server, '/v1/queues', { headers: { host: `attacker.example:${server.port}` } });
    const foreignOrigin = await raw(server, '/v1/queues/default/pause', { method: 'POST', headers: { host: own, origin: 'http://attacker.example', 'x-hopper-dashboard': '1' } });
    const badJson = await raw(server, '/v1/dead/retry', { method: 'POST', headers: { host: own, 'x-hopper-dashboard': '1' }, body: '{nope' });
    const postStatic = await raw(server, '/index.html', { method: 'POST', headers: { host: own } });
    const localhost = await raw(server, '/v1/queues', { headers: { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` } });

    expect([noHeader.status, rebinding.status, foreignOrigin.status, badJson.status, postStatic.status, localhost.status]).toEqual([403, 403, 403, 400, 405, 200]);
    expect(JSON.parse(noHeader.body)).toEqual({ error: { code: 'forbidden', message: "POST requests need the header x-hopper-dashboard: 1 (the dashboard's pages send it)" } });
    expect(JSON.parse(rebinding.body).error.message).toBe(`requests must be addressed to 127.0.0.1:${server.port} or localhost:${server.port}, not "attacker.example:${server.port}"`);
    expect(JSON.parse(badJson.body)).toEqual({ error: { code: 'bad_parameter', message: 'the request body must be JSON' } });
    expect(postStatic.headers.allow).toBe('GET, HEAD');
    expect(api.calls).toEqual([{ method: 'GET', path: '/v1/queues', body: undefined }]);
  });
});
