/**
 * Serves a function URL on localhost: one HTTP server per URL, on its own port, so the function
 * sees the same paths as behind its real `https://<id>.lambda-url.<region>.on.aws/` address.
 * Requests are not SigV4-checked locally (AWS_IAM URLs get a fixed local caller identity).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { LAMBDA_LIMITS } from '../../lib/aws/lambda-limits.js';
import type { FunctionPool } from '../host/function-pool.js';
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import type { PlannedFunctionUrl } from '../resources/plan.js';
import { closeServer } from './loopback.js';
import { functionUrlEvent, httpResponse } from './url-event.js';


/** A started function URL server. */
export interface FunctionUrlServer {
  readonly url: string;
  close(): Promise<void>;
}

function corsHeaders(spec: PlannedFunctionUrl, origin: string | undefined): Record<string, string> {
  const cors = spec.cors;
  if (cors === undefined || origin === undefined) return {};
  const allowed = cors.allowOrigins.includes('*') || cors.allowOrigins.includes(origin);
  if (!allowed) return {};
  return {
    'access-control-allow-origin': cors.allowOrigins.includes('*') && !cors.allowCredentials ? '*' : origin,
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    ...(cors.exposeHeaders.length > 0 ? { 'access-control-expose-headers': cors.exposeHeaders.join(',') } : {}),
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > LAMBDA_LIMITS.syncRequestBytes) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Serves `spec` on `server` (bound by bindLoopback to the URL's port), invoking `pool` for each request. */
export function serveFunctionUrl(spec: PlannedFunctionUrl, pool: FunctionPool, log: LogSink, server: Server): FunctionUrlServer {
  const urlId = spec.logicalId.toLowerCase();
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const origin = request.headers.origin;
    const cors = corsHeaders(spec, origin);
    if (request.method === 'OPTIONS' && spec.cors !== undefined && request.headers['access-control-request-method'] !== undefined) {
      const { allowMethods, allowHeaders, maxAgeSeconds } = spec.cors;
      response.writeHead(200, {
        ...cors,
        ...(allowMethods.length > 0 ? { 'access-control-allow-methods': allowMethods.join(',') } : {}),
        ...(allowHeaders.length > 0 ? { 'access-control-allow-headers': allowHeaders.join(',') } : {}),
        ...(maxAgeSeconds === undefined ? {} : { 'access-control-max-age': String(maxAgeSeconds) }),
      });
      response.end();
      return;
    }
    const body = await readBody(request);
    if (body === undefined) {
      response.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ Message: `Request must be smaller than ${LAMBDA_LIMITS.syncRequestBytes} bytes for the InvokeFunction operation` }));
      return;
    }
    const requestId = randomUUID();
    const invocation = await pool.invoke(functionUrlEvent(request, body, { urlId, requestId, authType: spec.authType }));
    if (!invocation.ok && invocation.throttled !== undefined) {
      // A throttled function URL answers a bare 429: none of the function's own headers.
      log({ source: RUNTIME_SOURCE, level: 'warn', message: `${spec.logicalId} ${request.method ?? 'GET'} ${request.url ?? '/'}: throttled (${invocation.throttled})` });
      response.writeHead(429, { 'content-type': 'application/json', 'x-amzn-requestid': requestId, 'x-amzn-errortype': invocation.error.errorType, ...cors }).end(JSON.stringify({ Message: invocation.error.errorMessage }));
      return;
    }
    if (!invocation.ok) {
      log({ source: RUNTIME_SOURCE, level: 'warn', message: `${spec.logicalId} ${request.method ?? 'GET'} ${request.url ?? '/'}: ${invocation.error.errorType}: ${invocation.error.errorMessage}` });
      response.writeHead(502, { 'content-type': 'application/json', 'x-amzn-requestid': requestId, ...cors }).end(JSON.stringify({ Message: 'Internal Server Error' }));
      return;
    }
    const result = httpResponse(invocation.value);
    const headers: Record<string, string | string[]> = { ...result.headers, 'x-amzn-requestid': requestId, ...cors };
    if (result.cookies.length > 0) headers['set-cookie'] = [...result.cookies];
    response.writeHead(result.statusCode, headers);
    response.end(result.body);
  };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => {
      log({ source: RUNTIME_SOURCE, level: 'error', message: `${spec.logicalId}: ${error instanceof Error ? error.message : String(error)}` });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  return { url: spec.url, close: () => closeServer(server) };
}
