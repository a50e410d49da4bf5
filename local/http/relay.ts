/**
 * Relaying HTTP between a client and an emulator, whole bodies at a time: what the local fronts
 * (local/sqs/front.ts before fauxqs, local/dynamodb/front.ts before DynamoDB Local) share.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';

/** One HTTP answer, read whole. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** A request to relay. */
export interface Outgoing {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** The whole body of `request`. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** The request's headers as strings. */
export function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
  return headers;
}

/**
 * One exchange with the emulator at 127.0.0.1:`port`, with `host` as the Host header (the SQS front
 * gives its own: fauxqs builds queue URLs from it).
 */
export function exchange(port: number, host: string, outgoing: Outgoing): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...withoutFraming(outgoing.headers), host, 'content-length': String(outgoing.body.length) };
    const forwarded = httpRequest({ host: '127.0.0.1', port, method: outgoing.method, path: outgoing.path, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', reject);
      answer.on('end', () => {
        const answerHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (typeof value === 'string') answerHeaders[name] = value;
        resolve({ status: answer.statusCode ?? 500, headers: answerHeaders, body: Buffer.concat(chunks) });
      });
    });
    forwarded.on('error', reject);
    forwarded.end(outgoing.body);
  });
}

/** Sends `answer` to the client, its length set for the body as it is now. */
export function reply(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, { ...withoutFraming(answer.headers), 'content-length': String(answer.body.length) });
  response.end(answer.body);
}

/** Headers without those of one connection's framing (the body is passed on whole, with its length). */
function withoutFraming(headers: Readonly<Record<string, string>>): Record<string, string> {
  const framing = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !framing.has(name.toLowerCase())));
}
