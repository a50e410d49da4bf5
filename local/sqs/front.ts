/**
 * The local SQS endpoint: a front on 127.0.0.1 before fauxqs that makes the emulator answer as SQS
 * does where Hopper depends on it.
 *
 * - Both protocols: JSON requests pass through; query-protocol requests (form-encoded, from AWS
 *   CLI v2 before 2.13 and boto3 before 1.34) are translated to JSON and their answers back to XML
 *   (query-protocol.ts). Form-encoded requests that are not SQS actions (fauxqs's SNS and STS)
 *   pass through untouched.
 * - Queue URLs that resolve: fauxqs names queues `http://sqs.<region>.localhost:<port>/…`, a host
 *   many machines cannot resolve. Every queue URL the endpoint hands out (CreateQueue,
 *   GetQueueUrl, ListQueues) is on this front instead (`http://127.0.0.1:<port>/<account>/<name>`),
 *   and a request naming a queue by any URL with the same account and name is taken for that
 *   queue, as SQS resolves a queue by account and name.
 * - 12 hours of visibility: a ChangeMessageVisibility (or an entry of its batch form) that would
 *   keep a message hidden past 12 hours from its first receive is refused with SQS's
 *   `InvalidParameterValue` (visibility-limit.ts).
 * - Message groups: a send's `MessageGroupId` is refused as SQS refuses a malformed one, and a
 *   standard queue keeps it and serves its messages as SQS fair queues do (send-groups.ts,
 *   fauxqs-fairness.ts, fair-dispatch.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FauxqsServer } from 'fauxqs';
import { isRecord } from '../../lib/job/model.js';
import { bindLoopback, boundPort, closeServer } from '../http/loopback.js';
import { exchange as exchangeWith, headersOf, readBody, reply, type Answer, type Outgoing } from '../http/relay.js';
import { isSqsAction, jsonToQueryXml, queryErrorXml, queryToJson, QueryTranslationError } from './query-protocol.js';
import { VISIBILITY_LIMIT_ERROR, visibilityRefusal } from './visibility-limit.js';
import { FairQueues, registerFairQueues } from './fauxqs-fairness.js';
import { GROUP_ID_ERROR, groupedSend } from './send-groups.js';

type Json = Record<string, unknown>;

/** What the front needs. */
export interface SqsFrontOptions {
  /** Port to listen on; 0 takes a free one. */
  readonly port: number;
  /** The emulator behind the front. */
  readonly fauxqs: FauxqsServer;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * Serve standard queues' messages that carry a `MessageGroupId` as SQS fair queues do (AWS does
   * on every standard queue); false serves them in order, as fauxqs alone does.
   * @default true
   */
  readonly fairQueues?: boolean;
}

/** A running front. */
export interface SqsFront {
  /** The SQS endpoint, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** The fair-queue state of the endpoint's queues; undefined when fair queues are off. */
  readonly fairQueues: FairQueues | undefined;
  close(): Promise<void>;
}


const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';

/** Starts the front on `options.port`. */
export async function startSqsFront(options: SqsFrontOptions): Promise<SqsFront> {
  const server = await bindLoopback(options.port);
  const port = boundPort(server);
  const host = `127.0.0.1:${port}`;
  const now = options.now ?? Date.now;
  const fair = options.fairQueues === false ? undefined : new FairQueues(now);
  const unregister = fair === undefined ? () => undefined : await registerFairQueues([port, options.fauxqs.port], fair);
  const context: FrontContext = { fauxqs: options.fauxqs, host, now, urls: new Map(), fair };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(context, request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': JSON_CONTENT_TYPE });
      response.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: error instanceof Error ? error.message : String(error) }));
    });
  });
  return {
    url: `http://${host}`,
    port,
    fairQueues: fair,
    close: async () => {
      unregister();
      await closeServer(server);
    },
  };
}

interface FrontContext {
  readonly fauxqs: FauxqsServer;
  /** `127.0.0.1:<port>` of the front: the host of every queue URL. */
  readonly host: string;
  readonly now: () => number;
  /** Queue name → the emulator's URL of it (inspecting the emulator copies every message). */
  readonly urls: Map<string, string>;
  /** Fair queues, when on. */
  readonly fair: FairQueues | undefined;
}

async function handle(context: FrontContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const raw = await readBody(request);
  const contentType = String(request.headers['content-type'] ?? '');
  const target = String(request.headers['x-amz-target'] ?? '');
  if (contentType.includes(JSON_CONTENT_TYPE) && target.startsWith('AmazonSQS.')) {
    await handleJson(context, target.slice('AmazonSQS.'.length), raw, request, response);
    return;
  }
  if (contentType.includes('application/x-www-form-urlencoded')) {
    const params = new URLSearchParams(raw.toString('utf8'));
    const action = params.get('Action') ?? '';
    if (isSqsAction(action)) {
      await handleQuery(context, action, params, request, response);
      return;
    }
  }
  reply(response, await forward(context, request, raw));
}

/** A JSON-protocol request: checked, its queue URL made canonical, passed on. */
async function handleJson(context: FrontContext, action: string, raw: Buffer, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const text = raw.toString('utf8');
  // A send with a group id is read: the group is checked, and kept on a standard queue.
  if (!INSPECTED_ACTIONS.has(action) && !(isSend(action) && text.includes('"MessageGroupId"'))) {
    const rewritten = withCanonicalUrlText(context, text);
    if (rewritten !== undefined) {
      reply(response, await exchange(context, { method: 'POST', path: '/', headers: headersOf(request), body: Buffer.from(rewritten) }));
      return;
    }
  }
  let input: unknown;
  try {
    input = JSON.parse(raw.toString('utf8') || '{}');
  } catch {
    reply(response, await forward(context, request, raw));
    return;
  }
  if (!isRecord(input)) {
    reply(response, await forward(context, request, raw));
    return;
  }
  const outcome = await call(context, action, input, request);
  if (outcome.kind === 'refused') {
    reply(response, jsonError(outcome.code, outcome.message));
    return;
  }
  reply(response, outcome.answer);
}

function isSend(action: string): action is 'SendMessage' | 'SendMessageBatch' {
  return action === 'SendMessage' || action === 'SendMessageBatch';
}

/** Actions whose input or output the front reads or changes beyond the queue URL. */
const INSPECTED_ACTIONS: ReadonlySet<string> = new Set(['ChangeMessageVisibility', 'ChangeMessageVisibilityBatch', 'CreateQueue', 'GetQueueUrl', 'ListQueues', 'DeleteQueue']);

/**
 * The fast path of the hot actions (send, receive, delete): the request's text with its queue URL
 * made canonical in place, without parsing and writing the whole body again (a batch of messages
 * is most of it). Undefined when the URL is not a plain JSON string the text can be edited at.
 */
function withCanonicalUrlText(context: FrontContext, text: string): string | undefined {
  const match = /"QueueUrl"\s*:\s*"([^"\\]*)"/.exec(text);
  if (match?.[1] === undefined) return undefined;
  const canonical = canonicalQueueUrl(context, match[1]).QueueUrl;
  if (typeof canonical !== 'string') return text;
  return text.slice(0, match.index) + `"QueueUrl":${JSON.stringify(canonical)}` + text.slice(match.index + match[0].length);
}

/** The URL of a queue as the front hands it out: on the front's own address, same path. */
function publicQueueUrl(context: FrontContext, url: unknown): unknown {
  if (typeof url !== 'string') return url;
  try {
    return `http://${context.host}${new URL(url).pathname}`;
  } catch {
    return url;
  }
}

/** An output whose queue URLs are the front's (the actions that return queue URLs). */
function withPublicUrls(context: FrontContext, action: string, output: Json): Json {
  if (action === 'CreateQueue' || action === 'GetQueueUrl') return { ...output, QueueUrl: publicQueueUrl(context, output.QueueUrl) };
  const urls: unknown = output.QueueUrls;
  if (action === 'ListQueues' && Array.isArray(urls)) return { ...output, QueueUrls: urls.map((url: unknown) => publicQueueUrl(context, url)) };
  return output;
}

/** A query-protocol request: translated to JSON, run as one, its answer translated to XML. */
async function handleQuery(context: FrontContext, action: string, params: URLSearchParams, request: IncomingMessage, response: ServerResponse): Promise<void> {
  let input: Json;
  try {
    input = queryToJson(action, params);
  } catch (error) {
    if (!(error instanceof QueryTranslationError)) throw error;
    reply(response, xml(400, queryErrorXml('InvalidParameterValue', error.message)));
    return;
  }
  const outcome = await call(context, action, input, request);
  if (outcome.kind === 'refused') {
    reply(response, xml(400, queryErrorXml(outcome.code, outcome.message)));
    return;
  }
  const { answer } = outcome;
  const output = parseJson(answer.body);
  if (answer.status >= 300) {
    // The emulator names the query protocol's error code in this header, as SQS does.
    const header = answer.headers['x-amzn-query-error'];
    const [code = String(output.__type ?? 'InternalError').split('#').at(-1) ?? 'InternalError', fault = 'Sender'] = (header ?? '').split(';').filter((part) => part !== '');
    reply(response, xml(answer.status, queryErrorXml(code, String(output.message ?? ''), fault === 'Receiver' ? 'Receiver' : 'Sender')));
    return;
  }
  reply(response, xml(200, jsonToQueryXml(action, output)));
}

type Outcome = { readonly kind: 'refused'; readonly code: string; readonly message: string } | { readonly kind: 'answered'; readonly answer: Answer };

/** Runs one SQS action (JSON input) against the emulator, after the checks the emulator lacks. */
async function call(context: FrontContext, action: string, input: Json, request: IncomingMessage): Promise<Outcome> {
  const body: Json = { ...input, ...canonicalQueueUrl(context, input.QueueUrl) };
  if (action === 'ChangeMessageVisibility') {
    const refusal = refusalOf(context, body, body);
    if (refusal !== undefined) return { kind: 'refused', code: VISIBILITY_LIMIT_ERROR, message: refusal };
  }
  const entries: unknown = body.Entries;
  if (action === 'ChangeMessageVisibilityBatch' && Array.isArray(entries)) {
    const refused: Json[] = [];
    const allowed = entries.filter((entry: unknown) => {
      if (!isRecord(entry)) return true;
      const refusal = refusalOf(context, body, entry);
      if (refusal === undefined) return true;
      refused.push({ Id: entry.Id, SenderFault: true, Code: VISIBILITY_LIMIT_ERROR, Message: refusal });
      return false;
    });
    if (refused.length > 0) return sendBatchWithRefused(context, action, { ...body, Entries: allowed }, refused, request);
  }
  if (isSend(action)) {
    const grouped = groupedSend(action, body, context.fair);
    if (grouped.kind === 'refused') return { kind: 'refused', code: GROUP_ID_ERROR, message: grouped.message };
    try {
      return await sendBatchWithRefused(context, action, grouped.body, grouped.refused, request);
    } finally {
      grouped.settle();
    }
  }
  const answer = await send(context, action, body, request);
  if (action === 'DeleteQueue') {
    const name = queueNameOf(body.QueueUrl);
    if (name !== undefined) context.urls.delete(name);
  }
  if (answer.status >= 300 || (action !== 'CreateQueue' && action !== 'GetQueueUrl' && action !== 'ListQueues')) return { kind: 'answered', answer };
  return { kind: 'answered', answer: jsonAnswer(answer.status, withPublicUrls(context, action, parseJson(answer.body))) };
}

/** Sends a batch action's allowed entries; the entries the front refused are added to its `Failed`. */
async function sendBatchWithRefused(context: FrontContext, action: string, body: Json, refused: readonly Json[], request: IncomingMessage): Promise<Outcome> {
  const entries: unknown = body.Entries;
  if (refused.length > 0 && Array.isArray(entries) && entries.length === 0) return { kind: 'answered', answer: jsonAnswer(200, { Successful: [], Failed: refused }) };
  const answer = await send(context, action, body, request);
  if (refused.length === 0 || answer.status >= 300) return { kind: 'answered', answer };
  const output = parseJson(answer.body);
  const failed = Array.isArray(output.Failed) ? output.Failed : [];
  return { kind: 'answered', answer: jsonAnswer(200, { ...output, Failed: [...failed, ...refused] }) };
}

/** SQS's refusal of the visibility `entry` asks for, if its message would stay hidden past 12 hours. */
function refusalOf(context: FrontContext, body: Json, entry: Json): string | undefined {
  const { ReceiptHandle: handle, VisibilityTimeout: seconds } = entry;
  if (typeof handle !== 'string' || typeof seconds !== 'number') return undefined;
  const name = queueNameOf(body.QueueUrl);
  const inflight = name === undefined ? undefined : context.fauxqs.inspectQueue(name)?.messages.inflight.find((candidate) => candidate.receiptHandle === handle);
  const first = inflight?.message.approximateFirstReceiveTimestamp;
  return first === undefined ? undefined : visibilityRefusal(first, context.now(), seconds);
}

/**
 * `{ QueueUrl }` of the queue a URL names, as the emulator knows it: SQS resolves a queue URL by its
 * account and name, whatever host it was given with. Empty when it names no queue of the emulator.
 */
function canonicalQueueUrl(context: FrontContext, url: unknown): Json {
  const name = queueNameOf(url);
  if (name === undefined) return {};
  let known = context.urls.get(name);
  if (known === undefined) {
    known = context.fauxqs.inspectQueue(name)?.url;
    if (known !== undefined) context.urls.set(name, known);
  }
  return known === undefined ? {} : { QueueUrl: known };
}

/** The queue name at the end of a queue URL's path (`/<account>/<name>`). */
function queueNameOf(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const segments = new URL(url).pathname.split('/').filter((segment) => segment !== '');
    return segments.length === 2 ? segments[1] : undefined;
  } catch {
    return undefined;
  }
}

/** Sends a JSON-protocol request to the emulator. */
function send(context: FrontContext, action: string, body: Json, request: IncomingMessage): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE, 'x-amz-target': `AmazonSQS.${action}` };
  const authorization = request.headers.authorization;
  // fauxqs reads the region of a new queue from the signature's scope.
  if (typeof authorization === 'string') headers.authorization = authorization;
  return exchange(context, { method: 'POST', path: '/', headers, body: Buffer.from(JSON.stringify(body)) });
}

/** Passes a request on to the emulator as it came (the host aside). */
function forward(context: FrontContext, request: IncomingMessage, body: Buffer): Promise<Answer> {
  return exchange(context, { method: request.method ?? 'GET', path: request.url ?? '/', headers: headersOf(request), body });
}

/**
 * One HTTP exchange with the emulator. The Host header is the front's: fauxqs builds the URL of a
 * queue it creates from it, so every queue URL points at the front.
 */
function exchange(context: FrontContext, outgoing: Outgoing): Promise<Answer> {
  return exchangeWith(context.fauxqs.port, context.host, outgoing);
}

function parseJson(body: Buffer): Json {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8') || '{}');
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function jsonAnswer(status: number, output: Json): Answer {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body: Buffer.from(JSON.stringify(output)) };
}

/** SQS's JSON-protocol error, with the query-protocol code in `x-amzn-query-error` as SQS sends it. */
function jsonError(code: string, message: string): Answer {
  return {
    status: 400,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-query-error': `${code};Sender` },
    body: Buffer.from(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message })),
  };
}

function xml(status: number, text: string): Answer {
  return { status, headers: { 'content-type': 'text/xml' }, body: Buffer.from(text) };
}
