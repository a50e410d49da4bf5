import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { field, records } from '../fixtures/json.js';
import { ApiClient, ApiResponseError, JobDiscardedError, parseRateLimits, parseRetryAfter, queryParameters, regionOfFunctionUrl, signRequest } from '../../lib/api-client/index.js';
import { EnqueueError } from '../../lib/errors/enqueue.js';
import { NotUniqueError } from '../../lib/errors/unique.js';

const T0 = Date.UTC(2026, 10, 22, 12);

interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** A fake API: answers from `script` in order (the last one repeats), records requests and time. */
function fakeApi(script: readonly (Answer | Error)[], options: { maxAge?: number } = {}) {
  let nowMs = T0;
  const requests: { atMs: number; method: string; url: string; headers: Record<string, string>; body: unknown }[] = [];
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => { headers[name] = value; });
    requests.push({ atMs: nowMs, method: init?.method ?? 'GET', url: String(input), headers, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined });
    const answer = script[Math.min(requests.length - 1, script.length - 1)];
    if (answer === undefined) throw new Error('no answer scripted');
    if (answer instanceof Error) throw answer;
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), { status: answer.status, headers: answer.headers });
  };
  const client = new ApiClient({
    url: 'http://127.0.0.1:9000',
    fetch: fetchImpl,
    now: () => nowMs,
    sleep: async (ms) => { nowMs += ms; },
    ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
  });
  return { client, requests, elapsed: () => nowMs - T0 };
}

const accepted = (jid: string): Answer => ({ status: 202, body: { jid, jids: [jid] } });
const quota = (seconds: number): Answer => ({
  status: 429,
  headers: { 'Retry-After': String(seconds), 'X-Hopper-Rate-Limits': `${seconds}::tenant:quota_exceeded` },
  body: { error: { code: 'quota_exceeded', message: 'spent' } },
});

describe('rate-limit headers', () => {
  it('parses groups, queues and scopes as Sentry does, skipping malformed ones', () => {
    expect(parseRateLimits('12::tenant:quota_exceeded, 30:critical;bulk:queue:max_backlog, nonsense, x:a:b:c')).toEqual([
      { retryAfterSeconds: 12, queues: [], scope: 'tenant', reason: 'quota_exceeded' },
      { retryAfterSeconds: 30, queues: ['critical', 'bulk'], scope: 'queue', reason: 'max_backlog' },
    ]);
    expect(parseRetryAfter('7', T0)).toBe(7);
    expect(parseRetryAfter(new Date(T0 + 90_000).toUTCString(), T0)).toBe(90);
    expect(parseRetryAfter(null, T0)).toBe(60);
  });

  it('finds the region in a Function URL host', () => {
    expect(regionOfFunctionUrl(new URL('https://abcdef123.lambda-url.eu-west-1.on.aws/'))).toBe('eu-west-1');
    expect(regionOfFunctionUrl(new URL('http://127.0.0.1:9000/'))).toBeUndefined();
  });
});

describe('ApiClient', () => {
  it('posts one job and resolves its jid', async () => {
    const { client, requests } = fakeApi([accepted('j1')]);

    expect(await client.enqueue({ jobtype: 'A', args: [1] })).toBe('j1');
    expect(requests.map(({ method, url, body }) => ({ method, url, body }))).toEqual([{ method: 'POST', url: 'http://127.0.0.1:9000/v1/jobs', body: { jobtype: 'A', args: [1], jid: expect.stringMatching(/^[0-9a-f]{24}$/) } }]);
  });

  it('waits out a 429 within maxAge and sends again, holding every queue of a tenant quota meanwhile', async () => {
    const { client, requests, elapsed } = fakeApi([quota(20), accepted('j1'), accepted('j2')]);

    expect(await client.enqueue({ jobtype: 'A' })).toBe('j1');
    expect(await client.enqueue({ jobtype: 'B', queue: 'critical' })).toBe('j2');
    expect(requests.map((request) => request.atMs - T0)).toEqual([0, 20_000, 20_000]);
    expect({ elapsed: elapsed(), discarded: client.discarded().total }).toEqual({ elapsed: 20_000, discarded: 0 });
  });

  it('discards at once work that would be older than maxAge when the quota opens, without sending it', async () => {
    const { client, requests } = fakeApi([quota(120), accepted('never')], { maxAge: 60_000 });

    await expect(client.enqueue({ jobtype: 'A' })).rejects.toThrow(JobDiscardedError);
    await expect(client.enqueueMany([{ jobtype: 'A' }, { jobtype: 'B', queue: 'critical' }])).rejects.toMatchObject({ reason: 'rate_limited', scope: 'tenant', jobs: 2 });

    expect(requests).toHaveLength(1);
    expect(client.discarded()).toEqual({ total: 3, byReason: { rate_limited: 3 }, byScope: { tenant: 3 } });
    expect(client.rateLimits()).toEqual({ '*': '2026-11-22T12:02:00.000Z' });
  });

  it('closes only the queue a 503 names: other queues keep flowing', async () => {
    const backlog: Answer = { status: 503, headers: { 'Retry-After': '300', 'X-Hopper-Rate-Limits': '300:critical:queue:max_backlog' }, body: { error: { code: 'backlog_exceeded', message: 'full' } } };
    const { client, requests } = fakeApi([backlog, accepted('d1')], { maxAge: 10_000 });

    await expect(client.enqueue({ jobtype: 'A', queue: 'critical' })).rejects.toMatchObject({ reason: 'backlog', scope: 'queue:critical' });
    expect(await client.enqueue({ jobtype: 'A' })).toBe('d1');
    await expect(client.enqueue({ jobtype: 'A', queue: 'critical' })).rejects.toThrow(JobDiscardedError);

    expect(requests.map((request) => field(request.body, 'queue') ?? 'default')).toEqual(['critical', 'default']);
    expect(client.discarded()).toEqual({ total: 2, byReason: { backlog: 2 }, byScope: { 'queue:critical': 2 } });
  });

  it('retries network errors and 5xx with backoff until the work is older than maxAge, then discards it', async () => {
    const { client, requests } = fakeApi([new TypeError('fetch failed'), { status: 502, body: 'Bad Gateway' }], { maxAge: 5_000 });

    await expect(client.enqueue({ jobtype: 'A' })).rejects.toMatchObject({ reason: 'max_age', scope: 'request' });
    // Backoff 0.5, 1, 2 s; the next pause would end past 5 s, so nothing more is sent.
    expect(requests.map((request) => request.atMs - T0)).toEqual([0, 500, 1500, 3500]);
  });

  it('raises NotUniqueError at once for a unique job whose lock is held (409), without retrying or discarding', async () => {
    const conflict: Answer = {
      status: 409,
      body: { error: { code: 'not_unique', message: 'job b is not unique', jid: 'b', existing_jid: 'a', locked_until: '2026-11-22T12:10:00.000Z', enqueued: [], failed: [{ jid: 'b', reason: 'job b is not unique', existing_jid: 'a', locked_until: '2026-11-22T12:10:00.000Z' }] } },
    };
    const { client, requests } = fakeApi([conflict]);

    const error = await client.enqueue({ jobtype: 'Sync', jid: 'b', custom: { unique_for: 600 } }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(NotUniqueError);
    expect(error).toMatchObject({ name: 'NotUniqueError', jid: 'b', existingJid: 'a', lockedUntil: '2026-11-22T12:10:00.000Z' });
    expect({ requests: requests.length, discarded: client.discarded().total }).toEqual({ requests: 1, discarded: 0 });
  });

  it('reports the refused unique jobs of an enqueueMany in an EnqueueError, with the jobs that were enqueued', async () => {
    const { client } = fakeApi([{ status: 409, body: { error: { code: 'not_unique', message: '1 job(s)', enqueued: ['plain'], failed: [{ jid: 'u', reason: 'not unique', existing_jid: 'holder' }] } } }]);

    const error = await client.enqueueMany([{ jobtype: 'Sync', jid: 'u', custom: { unique_for: 600 } }, { jobtype: 'A', jid: 'plain' }]).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(EnqueueError);
    expect(error).toMatchObject({ enqueued: ['plain'], failed: [{ jid: 'u', reason: 'not unique', existingJid: 'holder' }] });
  });

  it('sends again only the jobs a 502 says were not enqueued, under the jids it gave them', async () => {
    const { client, requests } = fakeApi([
      { status: 502, body: { error: { code: 'upstream_error', message: '1 job(s) could not be enqueued', enqueued: ['a'], failed: [{ jid: 'b', reason: 'InternalError: try later' }] } } },
      { status: 202, body: { jids: ['b'] } },
    ]);

    const jids = await client.enqueueMany([{ jobtype: 'A', jid: 'a' }, { jobtype: 'A', jid: 'b' }]);

    expect(jids).toEqual(['a', 'b']);
    expect(requests.map((request) => records(request.body, 'jobs').map((job) => job.jid))).toEqual([['a', 'b'], ['b']]);
    expect(requests[1]?.atMs).toBe(T0 + 500);
  });

  it('gives every job a jid before the first request, so that a resend carries the same one', async () => {
    const { client, requests } = fakeApi([new TypeError('fetch failed'), accepted('x')]);

    expect(await client.enqueueMany([{ jobtype: 'A' }])).toEqual(['x']);

    const [first, second] = requests.map((request) => String(records(request.body, 'jobs')[0]?.jid));
    expect(first).toMatch(/^[0-9a-f]{24}$/);
    expect(second).toBe(first);
  });

  it('discards a request the API finds too large, and throws the API\'s error for a bad request', async () => {
    const tooLarge = fakeApi([{ status: 413, body: { error: { code: 'payload_too_large', message: 'the body is 300000 bytes' } } }]);
    await expect(tooLarge.client.enqueue({ jobtype: 'A' })).rejects.toMatchObject({ reason: 'too_large' });

    const bad = fakeApi([{ status: 400, body: { error: { code: 'bad_parameter', message: 'jobtype must be a string', parameter: 'jobtype' } } }]);
    const error = await bad.client.enqueue({ jobtype: '' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiResponseError);
    expect(error).toMatchObject({ status: 400, code: 'bad_parameter' });
    expect(bad.client.discarded().total).toBe(0);
  });

  it('signs requests with SigV4 for service lambda when given credentials', async () => {
    const { requests } = fakeApi([accepted('j1')]);
    const seen: Record<string, string>[] = [];
    const client = new ApiClient({
      url: 'https://abcdef.lambda-url.eu-west-1.on.aws/',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' },
      fetch: async (_input, init) => {
        const headers: Record<string, string> = {};
        new Headers(init?.headers).forEach((value, name) => { headers[name] = value; });
        seen.push(headers);
        return new Response(JSON.stringify({ jids: ['j1'] }), { status: 202 });
      },
    });
    await client.enqueue({ jobtype: 'A' });
    expect(requests).toEqual([]);
    expect(seen[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
    expect(seen[0]?.['x-amz-security-token']).toBe('token');
  });
});

describe('signRequest', () => {
  it('produces the signature the SigV4 algorithm gives, recomputed by hand', async () => {
    const url = new URL('https://abcdef.lambda-url.us-east-1.on.aws/v1/queues?limit=5');
    const date = new Date(Date.UTC(2026, 10, 22, 12, 0, 0));
    const headers = await signRequest({ method: 'GET', url, headers: { accept: 'application/json' } }, { accessKeyId: 'AKID', secretAccessKey: 'SECRET' }, 'us-east-1', date);

    const signedHeaders = /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1] ?? '';
    const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
    const canonical = [
      'GET', '/v1/queues', 'limit=5',
      ...signedHeaders.split(';').map((name) => `${name}:${(lower[name] ?? '').trim()}`), '',
      signedHeaders,
      createHash('sha256').update('').digest('hex'),
    ].join('\n');
    const scope = '20261122/us-east-1/lambda/aws4_request';
    const toSign = ['AWS4-HMAC-SHA256', '20261122T120000Z', scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac('AWS4SECRET', '20261122'), 'us-east-1'), 'lambda'), 'aws4_request');

    expect(signedHeaders.split(';')).toEqual(expect.arrayContaining(['host', 'x-amz-date']));
    expect(headers.authorization).toBe(`AWS4-HMAC-SHA256 Credential=AKID/${scope}, SignedHeaders=${signedHeaders}, Signature=${createHmac('sha256', key).update(toSign).digest('hex')}`);
  });
});

describe('signing the query that is sent', () => {
  const date = new Date(Date.UTC(2026, 10, 22, 12, 0, 0));
  const credentials = { accessKeyId: 'AKID', secretAccessKey: 'SECRET' };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

  /** The signature SigV4 gives `canonicalQuery` for a GET of /v1/dead on the test host at `date`. */
  function expectedSignature(canonicalQuery: string, signedHeaders: string, headers: Record<string, string>): string {
    const canonical = ['GET', '/v1/dead', canonicalQuery, ...signedHeaders.split(';').map((name) => `${name}:${headers[name] ?? ''}`), '', signedHeaders, sha256('')].join('\n');
    const scope = '20261122/us-east-1/lambda/aws4_request';
    const toSign = ['AWS4-HMAC-SHA256', '20261122T120000Z', scope, sha256(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac('AWS4SECRET', '20261122'), 'us-east-1'), 'lambda'), 'aws4_request');
    return createHmac('sha256', key).update(toSign).digest('hex');
  }

  it('keeps every value of a repeated key, decoded as RFC 3986 says (a + is a +)', () => {
    expect(queryParameters(new URL('https://h.example/v1/dead?state=b&z=x%20y&state=a&q=a+b&flag&__proto__=1'))).toEqual({
      state: ['b', 'a'], z: 'x y', q: 'a+b', flag: '', ['__proto__']: '1',
    });
  });

  it('signs ?state=b&state=a as SigV4\'s canonical query: sorted by name, then value, each encoded', async () => {
    const url = new URL('https://abcdef.lambda-url.us-east-1.on.aws/v1/dead?state=b&z=x%20y&state=a&a%2Fb=1&q=a+b');
    const headers = await signRequest({ method: 'GET', url, headers: {} }, credentials, 'us-east-1', date);

    const signedHeaders = /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1] ?? '';
    const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value.trim()]));
    expect(signedHeaders).toBe('host;x-amz-content-sha256;x-amz-date');
    expect(/Signature=([0-9a-f]{64})$/.exec(headers.authorization ?? '')?.[1]).toBe(
      expectedSignature('a%2Fb=1&q=a%2Bb&state=a&state=b&z=x%20y', signedHeaders, { ...lower, host: 'abcdef.lambda-url.us-east-1.on.aws' }),
    );
  });
});

describe('a 429 or 503 that Hopper did not write', () => {
  it('backs off a bare 429 (Lambda throttling the API function) like a 5xx, closing no queue', async () => {
    // Lambda's answer to a throttled Function URL: 429, no Hopper header, its own body.
    const throttled: Answer = { status: 429, body: { Message: 'Rate Exceeded.' } };
    const { client, requests } = fakeApi([throttled, throttled, accepted('j1'), accepted('j2')]);

    expect(await client.enqueue({ jobtype: 'A' })).toBe('j1');
    expect(await client.enqueue({ jobtype: 'B', queue: 'critical' })).toBe('j2');

    // The 5xx backoff (0.5 s, then 1 s), not a 60-second closure of every queue.
    expect(requests.map((request) => request.atMs - T0)).toEqual([0, 500, 1500, 1500]);
    expect(client.rateLimits()).toEqual({});
  });

  it('discards work a bare 429 outlasts as max_age, not rate_limited', async () => {
    const { client } = fakeApi([{ status: 429, body: 'Too Many Requests' }], { maxAge: 2_000 });

    await expect(client.enqueue({ jobtype: 'A' })).rejects.toMatchObject({ reason: 'max_age', scope: 'request' });
    expect(client.discarded().byReason).toEqual({ max_age: 1 });
  });

  it('backs off a bare 503 the same way, and still honours Hopper\'s 429 recognised by its body alone', async () => {
    const bodyOnly: Answer = { status: 429, headers: { 'Retry-After': '20' }, body: { error: { code: 'quota_exceeded', message: 'spent' } } };
    const { client, requests } = fakeApi([{ status: 503, body: 'Service Unavailable' }, bodyOnly, accepted('j1')]);

    expect(await client.enqueue({ jobtype: 'A', queue: 'critical' })).toBe('j1');

    expect(requests.map((request) => request.atMs - T0)).toEqual([0, 500, 20_500]);
    expect(client.rateLimits()).toEqual({});
  });
});

describe('the producer calls Client has, and the admin calls', () => {
  it('sends enqueue(jobtype, args, { in, expiresIn }) and schedule() as jobs with at and expires_at, counted from when they are due', async () => {
    const { client, requests } = fakeApi([accepted('j1'), accepted('j2'), { status: 202, body: { jids: ['j3', 'j4'] } }]);
    await client.enqueue('SendEmail', ['a@example.com', 42], { in: '5m', expiresIn: '30s', queue: 'critical' });
    await client.schedule({ jobtype: 'Remind', args: [1] }, { at: new Date(T0 + 3_600_000) });
    await client.enqueueMany([{ jobtype: 'A' }, { jobtype: 'B', at: new Date(T0 + 60_000).toISOString() }], { expiresIn: 10 });

    expect(requests.map((request) => request.body)).toEqual([
      expect.objectContaining({ jobtype: 'SendEmail', args: ['a@example.com', 42], queue: 'critical', at: new Date(T0 + 300_000).toISOString(), custom: { expires_at: new Date(T0 + 330_000).toISOString() } }),
      expect.objectContaining({ jobtype: 'Remind', args: [1], at: new Date(T0 + 3_600_000).toISOString() }),
      { jobs: [
        expect.objectContaining({ jobtype: 'A', custom: { expires_at: new Date(T0 + 10_000).toISOString() } }),
        expect.objectContaining({ jobtype: 'B', custom: { expires_at: new Date(T0 + 70_000).toISOString() } }),
      ] },
    ]);
  });

  it('refuses expiresIn on a job that has its own expires_at, and in with at, naming the field, before sending', async () => {
    const { client, requests } = fakeApi([accepted('j1')]);
    await expect(client.enqueueMany([{ jobtype: 'A' }, { jobtype: 'B', custom: { expires_at: new Date(T0).toISOString() } }], { expiresIn: 5 }))
      .rejects.toThrow('invalid job: jobs[1].custom.expires_at must be absent when the expiresIn option is given');
    await expect(client.enqueue('A', [], { in: 5, at: new Date(T0) })).rejects.toThrow('invalid job: in must be either in or at, not both');
    expect(requests).toEqual([]);
  });

  it('calls each admin route and hands back its body; a 404 of a lookup is undefined', async () => {
    const entry = { id: '1796000000000#j1', jid: 'j1', jobtype: 'A', queue: 'default', failed_at: new Date(T0).toISOString(), error: null, retry_count: null };
    const { client, requests } = fakeApi([
      { status: 200, body: { queues: [{ name: 'default', paused: false }] } },
      { status: 200, body: { entries: [entry], scanned: 1, cursor: null } },
      { status: 404, body: { error: { code: 'not_found', message: 'no such entry' } } },
      { status: 404, body: { error: { code: 'not_found', message: 'no such batch' } } },
      { status: 200, body: { crons: [] } },
    ]);
    expect(await client.queues()).toEqual([{ name: 'default', paused: false }]);
    expect((await client.entries('dead', { jobtype: 'A', limit: 10 })).entries).toEqual([entry]);
    expect(await client.entry('dead', '1796000000000#gone')).toBeUndefined();
    expect(await client.batch('b/1')).toBeUndefined();
    expect(await client.crons()).toEqual([]);
    expect(requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'GET http://127.0.0.1:9000/v1/queues',
      'GET http://127.0.0.1:9000/v1/dead?jobtype=A&limit=10',
      'GET http://127.0.0.1:9000/v1/dead/1796000000000%23gone',
      'GET http://127.0.0.1:9000/v1/batches/b%2F1',
      'GET http://127.0.0.1:9000/v1/crons',
    ]);
  });

  it('retries the dead set page by page until done, summing the counts', async () => {
    const { client, requests } = fakeApi([
      { status: 200, body: { scanned: 100, matched: 40, retried: 39, skipped: 1, failed: [], cursor: 'c1', done: false } },
      { status: 200, body: { scanned: 20, matched: 5, retried: 4, skipped: 0, failed: [{ id: 'x', reason: 'SQS refused' }], cursor: null, done: true } },
    ]);
    expect(await client.retryDead({ queue: 'default' })).toEqual({ scanned: 120, matched: 45, retried: 43, skipped: 1, failed: [{ id: 'x', reason: 'SQS refused' }] });
    expect(requests.map((request) => request.body)).toEqual([{ queue: 'default' }, { queue: 'default', cursor: 'c1' }]);
  });

  it('raises ApiResponseError with the code and the Retry-After of a busy queue', async () => {
    const { client } = fakeApi([{ status: 409, headers: { 'Retry-After': '5' }, body: { error: { code: 'busy', message: 'mid-change' } } }]);
    const error = await client.pauseQueue('default').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiResponseError);
    expect(error).toMatchObject({ status: 409, code: 'busy', retryAfterSeconds: 5 });
  });
});
