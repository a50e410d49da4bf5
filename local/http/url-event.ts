/**
 * Converts between HTTP and Lambda Function URL payloads (format 2.0): the request event
 * (`rawPath`, `rawQueryString`, `cookies`, lower-case `headers`, `requestContext.http`, body as
 * text or base64) and the function's result (`statusCode`, `headers`, `cookies`, `body`,
 * `isBase64Encoded`, or any other value, which becomes a 200 JSON response).
 */
import type { IncomingMessage } from 'node:http';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { LOCAL_IDENTITY } from '../emulators.js';

/** Content types whose bodies the function gets as text; everything else arrives base64-encoded. */
const TEXT_TYPES = [/^text\//, /json/, /xml/, /javascript/, /yaml/, /^application\/x-www-form-urlencoded/, /^application\/graphql/];

/** Whether a body of this content type is passed as text. */
export function isTextContent(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  const type = contentType.toLowerCase();
  return TEXT_TYPES.some((pattern) => pattern.test(type));
}

function clfTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()] ?? ''}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/** What the event needs besides the request. */
export interface UrlEventContext {
  readonly urlId: string;
  readonly requestId: string;
  readonly authType: 'NONE' | 'AWS_IAM';
}

/** The Function URL event for an HTTP request and its body. */
export function functionUrlEvent(request: IncomingMessage, body: Buffer, context: UrlEventContext): LambdaFunctionURLEvent {
  const target = new URL(request.url ?? '/', 'http://localhost');
  const rawPath = (request.url ?? '/').split('?')[0] ?? '/';
  const rawQueryString = target.search.replace(/^\?/, '');
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
    const name = (request.rawHeaders[index] ?? '').toLowerCase();
    const value = request.rawHeaders[index + 1] ?? '';
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...value.split(/;\s*/).filter((cookie) => cookie !== '')];
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of target.searchParams) query[key] = query[key] === undefined ? value : `${query[key]},${value}`;
  const text = isTextContent(headers['content-type']);
  const now = new Date();
  const domainName = headers.host ?? 'localhost';
  const iam = {
    accessKey: LOCAL_IDENTITY.accessKeyId,
    accountId: LOCAL_IDENTITY.accountId,
    callerId: LOCAL_IDENTITY.accessKeyId,
    cognitoIdentity: null,
    principalOrgId: null,
    userArn: `arn:aws:iam::${LOCAL_IDENTITY.accountId}:user/local`,
    userId: LOCAL_IDENTITY.accessKeyId,
  };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    ...(Object.keys(query).length === 0 ? {} : { queryStringParameters: query }),
    requestContext: {
      accountId: context.authType === 'AWS_IAM' ? LOCAL_IDENTITY.accountId : 'anonymous',
      apiId: context.urlId,
      ...(context.authType === 'AWS_IAM' ? { authorizer: { iam } } : {}),
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: request.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: context.requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    ...(body.length === 0 ? {} : { body: text ? body.toString('utf8') : body.toString('base64') }),
    isBase64Encoded: body.length > 0 && !text,
  };
}

/** An HTTP response to write. */
export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly cookies: readonly string[];
  readonly body: Buffer;
}

function stringRecord(value: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return result;
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') result[key.toLowerCase()] = String(item);
  }
  return result;
}

/** The HTTP response for a function's result. */
export function httpResponse(result: unknown): HttpResponse {
  const statusCode: unknown = typeof result === 'object' && result !== null ? Reflect.get(result, 'statusCode') : undefined;
  if (typeof result !== 'object' || result === null || typeof statusCode !== 'number') {
    // A result without statusCode is the body of a 200 JSON response.
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(body) };
  }
  const rawBody: unknown = Reflect.get(result, 'body');
  const base64 = Reflect.get(result, 'isBase64Encoded') === true;
  const text = typeof rawBody === 'string' ? rawBody : rawBody === undefined || rawBody === null ? '' : JSON.stringify(rawBody);
  const cookies: unknown = Reflect.get(result, 'cookies');
  return {
    statusCode,
    headers: stringRecord(Reflect.get(result, 'headers')),
    cookies: Array.isArray(cookies) ? cookies.filter((cookie): cookie is string => typeof cookie === 'string') : [],
    body: base64 ? Buffer.from(text, 'base64') : Buffer.from(text),
  };
}
