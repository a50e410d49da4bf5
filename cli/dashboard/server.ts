/**
 * The dashboard's HTTP server: serves the static pages (cli/dashboard/static: HTML, ES modules,
 * one stylesheet; no build step) and forwards `/v1/*` to the job system's API through an
 * {@link ApiCaller}: a `hopper dev` URL as is, a deployed Function URL signed with SigV4 (the
 * caller decides; see cli/commands/target.ts). It listens on 127.0.0.1 only.
 *
 * The API behind it may be signed with the user's credentials, so the server refuses what a web
 * page on another origin could send it: a Host other than its own (DNS rebinding), an Origin other
 * than its own, and API calls that change something without the `X-Hopper-Dashboard` header
 * (which a cross-site form cannot set, and a cross-site script cannot set without a CORS
 * preflight the server never grants).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiClientResponse } from '../../lib/api-client/index.js';
import type { ApiCaller } from '../commands/io.js';

/** The directory of the dashboard's static files. */
export const DASHBOARD_STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

/** The header the dashboard's own scripts send on every API call that changes something. */
export const DASHBOARD_HEADER = 'x-hopper-dashboard';

/** Limits of the server. */
export const DASHBOARD_LIMITS = {
  /** Largest request body forwarded to the API (a Function URL takes 6 MB). */
  maxBodyBytes: 6 * 1024 * 1024,
} as const;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** API answer headers the browser needs to see. */
const FORWARDED_HEADERS = ['retry-after', 'x-hopper-rate-limits', 'allow'] as const;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;

/** Options of {@link startDashboardServer}. */
export interface DashboardServerOptions {
  /** Where `/v1/*` goes. */
  readonly api: ApiCaller;
  /** Port on 127.0.0.1. @default 0 - a free port */
  readonly port?: number;
  /** @default DASHBOARD_STATIC_DIR */
  readonly staticDir?: string;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes idle connections. */
  close(): Promise<void>;
}

/** A JSON error answer in the API's own shape, so the pages show every error the same way. */
function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: { code, message } }));
}

class RequestError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > DASHBOARD_LIMITS.maxBodyBytes) throw new RequestError(413, 'payload_too_large', `the request body is over ${DASHBOARD_LIMITS.maxBodyBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJsonBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError(400, 'bad_parameter', 'the request body must be JSON');
  }
}

async function forward(api: ApiCaller, request: IncomingMessage, response: ServerResponse, pathAndQuery: string): Promise<void> {
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD' && request.headers[DASHBOARD_HEADER] !== '1') {
    throw new RequestError(403, 'forbidden', `${method} requests need the header ${DASHBOARD_HEADER}: 1 (the dashboard's pages send it)`);
  }
  const body = parseJsonBody(await readBody(request));
  let answer: ApiClientResponse;
  try {
    answer = await api.request(method, pathAndQuery, body);
  } catch (error) {
    throw new RequestError(502, 'api_unreachable', `no answer from the API (unreachable, or the request could not be signed): ${error instanceof Error ? error.message : String(error)}`);
  }
  const headers: Record<string, string> = { ...SECURITY_HEADERS };
  for (const name of FORWARDED_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  if (answer.body === undefined) {
    response.writeHead(answer.status, headers);
    response.end();
    return;
  }
  // ApiClient keeps a body that is not JSON (a gateway's error page) as text.
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  response.writeHead(answer.status, { ...headers, 'content-type': typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' });
  response.end(text);
}

/** The file under `root` that `pathname` names; undefined for a path that leaves `root`. */
export function staticFilePath(root: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  if (relative.split('/').some((segment) => segment === '..' || segment.startsWith('.'))) return undefined;
  const base = normalize(root.endsWith(sep) ? root : `${root}${sep}`);
  const file = normalize(join(base, relative));
  return file.startsWith(base) ? file : undefined;
}

async function serveStatic(root: string, request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    throw new RequestError(405, 'method_not_allowed', `${request.method ?? ''} is not allowed on ${pathname}; allowed: GET, HEAD`);
  }
  const file = staticFilePath(root, pathname);
  const type = file === undefined ? undefined : CONTENT_TYPES[extname(file)];
  if (file === undefined || type === undefined) throw new RequestError(404, 'not_found', `no file ${pathname}`);
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch {
    throw new RequestError(404, 'not_found', `no file ${pathname}`);
  }
  response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(content.length) });
  response.end(request.method === 'HEAD' ? undefined : content);
}

/** Whether `value` (a Host or Origin) names this server. */
function isOwnAuthority(value: string, port: number): boolean {
  return value === `127.0.0.1:${port}` || value === `localhost:${port}`;
}

async function handle(options: Required<DashboardServerOptions>, port: () => number, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const host = request.headers.host ?? '';
  if (!isOwnAuthority(host, port())) throw new RequestError(403, 'forbidden', `requests must be addressed to 127.0.0.1:${port()} or localhost:${port()}, not ${JSON.stringify(host)}`);
  const origin = request.headers.origin;
  if (origin !== undefined && !isOwnAuthority(origin.replace(/^http:\/\//, ''), port())) throw new RequestError(403, 'forbidden', `requests from ${origin} are not allowed`);
  const url = new URL(request.url ?? '/', `http://${host}`);
  if (url.pathname === '/v1' || url.pathname.startsWith('/v1/')) return forward(options.api, request, response, `${url.pathname}${url.search}`);
  return serveStatic(options.staticDir, request, response, url.pathname);
}

/**
 * Starts the dashboard on 127.0.0.1.
 *
 * @example
 * const dashboard = await startDashboardServer({ api: new ApiClient({ url: 'http://127.0.0.1:4569/' }) });
 * console.log(`Dashboard ${dashboard.url}`);
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const resolved: Required<DashboardServerOptions> = { port: 0, staticDir: DASHBOARD_STATIC_DIR, ...options };
  let port = resolved.port;
  const server: Server = createServer((request, response) => {
    handle(resolved, () => port, request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof RequestError) sendError(response, error.status, error.code, error.message);
      else sendError(response, 500, 'internal_error', error instanceof Error ? error.message : String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the dashboard server is not listening on a TCP port');
  port = address.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () => new Promise((resolve, reject) => {
      server.close((error) => (error === undefined ? resolve() : reject(error)));
      server.closeIdleConnections();
    }),
  };
}
