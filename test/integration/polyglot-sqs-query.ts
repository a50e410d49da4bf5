/**
 * A translator from SQS's query protocol (form-encoded requests, XML answers) to its JSON protocol,
 * in front of fauxqs, which speaks only JSON. Debian 12's python3-boto3 (botocore 1.29) and awscli
 * (2.9) predate SQS's JSON protocol, while real SQS still accepts both; this lets those unmodified
 * clients talk to the emulator. It translates the calls Hopper's clients make (SendMessage,
 * SendMessageBatch, GetQueueUrl) and refuses anything else loudly rather than guessing.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isRecord } from '../../lib/job/model.js';

/** A running translator. */
export interface SqsQueryAdapter {
  /** Endpoint to give query-protocol clients (`--endpoint-url`, `endpoint_url=`). */
  readonly endpoint: string;
  close(): Promise<void>;
}

type Params = URLSearchParams;
type Json = Record<string, unknown>;

/** A query-protocol request turned into a JSON-protocol one, and how to render its answer. */
interface Translation {
  readonly body: Json;
  readonly render: (output: Json) => string;
}

const NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/';
const ENTRY = /^SendMessageBatchRequestEntry\.(\d+)\.(Id|MessageBody|DelaySeconds)$/;

/** Starts the translator on a free loopback port, forwarding to the JSON endpoint `target`. */
export async function startSqsQueryAdapter(target: string): Promise<SqsQueryAdapter> {
  const server = createServer((request, response) => {
    handle(target, request, response).catch((error: unknown) => {
      sendError(response, 500, 'InternalError', error instanceof Error ? error.message : String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error === undefined ? resolve() : reject(error)))),
  };
}

async function handle(target: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const action = params.get('Action') ?? '';
  let translation: Translation;
  try {
    translation = translate(action, params);
  } catch (error) {
    sendError(response, 400, 'UnsupportedOperation', error instanceof Error ? error.message : String(error));
    return;
  }
  const forwarded = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` },
    body: JSON.stringify(translation.body),
  });
  const output: unknown = await forwarded.json();
  const answer = isRecord(output) ? output : {};
  if (!forwarded.ok) {
    // fauxqs names the query-protocol error code in this header, as SQS does.
    const code = forwarded.headers.get('x-amzn-query-error')?.split(';')[0] ?? scalar(answer.__type).split('#').at(-1) ?? 'Error';
    sendError(response, forwarded.status, code, scalar(answer.message));
    return;
  }
  response.writeHead(200, { 'content-type': 'text/xml' });
  response.end(translation.render(answer));
}

function translate(action: string, params: Params): Translation {
  switch (action) {
    case 'SendMessage': {
      only(params, ['QueueUrl', 'MessageBody', 'DelaySeconds']);
      const body: Json = { QueueUrl: params.get('QueueUrl'), MessageBody: params.get('MessageBody'), ...delay(params.get('DelaySeconds')) };
      return { body, render: (output) => wrap(action, fields(output, ['MessageId', 'MD5OfMessageBody'])) };
    }
    case 'SendMessageBatch': {
      const entries = new Map<string, Json>();
      for (const [name, value] of params) {
        if (name === 'Action' || name === 'Version' || name === 'QueueUrl') continue;
        const match = ENTRY.exec(name);
        if (match?.[1] === undefined || match[2] === undefined) throw new Error(`parameter ${name} is not translated`);
        const entry = entries.get(match[1]) ?? {};
        entry[match[2]] = match[2] === 'DelaySeconds' ? Number(value) : value;
        entries.set(match[1], entry);
      }
      const ordered = [...entries.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, entry]) => entry);
      return {
        body: { QueueUrl: params.get('QueueUrl'), Entries: ordered },
        render: (output) => wrap(action, [
          ...list(output.Successful).map((entry) => element('SendMessageBatchResultEntry', fields(entry, ['Id', 'MessageId', 'MD5OfMessageBody']))),
          ...list(output.Failed).map((entry) => element('BatchResultErrorEntry', fields(entry, ['Id', 'SenderFault', 'Code', 'Message']))),
        ].join('')),
      };
    }
    case 'GetQueueUrl': {
      only(params, ['QueueName']);
      return { body: { QueueName: params.get('QueueName') }, render: (output) => wrap(action, fields(output, ['QueueUrl'])) };
    }
    default:
      throw new Error(`action ${JSON.stringify(action)} is not translated`);
  }
}

/** Refuses parameters the translation would drop (message attributes, for one). */
function only(params: Params, allowed: readonly string[]): void {
  for (const name of params.keys()) {
    if (name !== 'Action' && name !== 'Version' && !allowed.includes(name)) throw new Error(`parameter ${name} is not translated`);
  }
}

function delay(value: string | null): Json {
  return value === null ? {} : { DelaySeconds: Number(value) };
}

function wrap(action: string, result: string): string {
  return `<?xml version="1.0"?><${action}Response xmlns="${NAMESPACE}"><${action}Result>${result}</${action}Result>`
    + `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

function fields(source: unknown, names: readonly string[]): string {
  if (!isRecord(source)) return '';
  return names.filter((name) => source[name] !== undefined).map((name) => element(name, text(source[name]))).join('');
}

function element(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A JSON scalar as text. */
function scalar(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

/** A JSON scalar as escaped XML text. */
function text(value: unknown): string {
  return scalar(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'content-type': 'text/xml' });
  response.end(`<?xml version="1.0"?><ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>${text(code)}</Code>`
    + `<Message>${text(message)}</Message><Detail/></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
}
