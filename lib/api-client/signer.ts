/**
 * SigV4 signing of requests to the API's Function URL (service `lambda`), with
 * `@smithy/signature-v4` and SHA-256 from node:crypto.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/** AWS credentials. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Credentials, or a function that returns fresh ones (called before each signature). */
export type CredentialSource = AwsCredentials | (() => Promise<AwsCredentials>);

type Data = string | ArrayBuffer | ArrayBufferView;

function bytes(data: Data): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 (or HMAC-SHA-256 with a secret) in the shape the signer expects. */
class Sha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: Data) {
    this.hash = this.fresh();
  }

  update(data: Data): void {
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
}

/** The region in a Function URL host (`<id>.lambda-url.<region>.on.aws`), if it is one. */
export function regionOfFunctionUrl(url: URL): string | undefined {
  return /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1];
}

/**
 * The query of `url` as the server reads it, every value of a repeated key kept
 * (`?state=a&state=b` → `{ state: ['a', 'b'] }`), so that the signature covers what is sent.
 * Percent-decoded as RFC 3986 says (a `+` stays a `+`, not a space as in HTML forms); the signer
 * encodes each name and value again and sorts by name, then by value, as SigV4 requires.
 */
export function queryParameters(url: URL): Record<string, string | string[]> {
  // A Map, not an object literal: a parameter named __proto__ must stay a parameter.
  const query = new Map<string, string[]>();
  for (const pair of url.search.replace(/^\?/, '').split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const name = decode(at === -1 ? pair : pair.slice(0, at));
    query.set(name, [...(query.get(name) ?? []), at === -1 ? '' : decode(pair.slice(at + 1))]);
  }
  return Object.fromEntries([...query].map(([name, values]) => [name, values.length === 1 ? (values[0] ?? '') : values]));
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed escape is sent as it is; the server sees it so too.
    return text;
  }
}

/** A request to sign and send. */
export interface OutgoingRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Signs `request` for service `lambda` in `region`; returns the headers to send. */
export async function signRequest(request: OutgoingRequest, credentials: CredentialSource, region: string, now?: Date): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 'lambda',
    region,
    credentials: typeof credentials === 'function' ? credentials : async () => credentials,
    sha256: Sha256,
  });
  const query = queryParameters(request.url);
  const signed = await signer.sign({
    method: request.method,
    protocol: request.url.protocol,
    hostname: request.url.hostname,
    ...(request.url.port === '' ? {} : { port: Number(request.url.port) }),
    path: request.url.pathname,
    query,
    headers: { ...request.headers, host: request.url.host },
    ...(request.body === undefined ? {} : { body: request.body }),
  }, now === undefined ? {} : { signingDate: now });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (typeof value === 'string') headers[name] = value;
  return headers;
}
