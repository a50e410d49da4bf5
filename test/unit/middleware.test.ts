/**
 * Middleware (lib/middleware/chain.ts, lib/worker/server-chain.ts): what a declaration may hold, the
 * client chain's rules, the order of the server chain and Hopper's steps in it, hooks that throw,
 * and the worker's own paths (its retries, its requeues, `onRetry` and `onExpired`) with fakes.
 * test/integration/middleware-local.test.ts runs every path on the local runtime.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { lockKeyOf } from '../../lib/unique/lock.js';
import { ScriptedDynamo } from './state-fake.js';
import { RateLimitedError } from '../../lib/errors/base.js';
import { InvalidMiddlewareError, MiddlewareError } from '../../lib/errors/middleware.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { callHook, checkMiddleware, runClientChain, serverOrder, type ClientMiddleware, type Middleware } from '../../lib/middleware/chain.js';
import { createLogger } from '../../lib/observability/logger.js';
import { Client } from '../../lib/client/client.js';
import { runServerChain, type ChainSteps } from '../../lib/worker/server-chain.js';
import { createWorker, defineMiddleware, type JobContext, type JobHandler } from '../../lib/worker/index.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const job = (fields: Partial<Job> = {}): Job => normalizeJob({ jobtype: 'Greet', args: ['a'], jid: 'jid-1', ...fields }, { now: NOW });

describe('checkMiddleware', () => {
  it.each([
    [{ client: [42] }, 'middleware.client[0] must be a function (job, ctx) => job, but number was given'],
    [{ client: 'x' }, 'middleware.client must be an array of functions'],
    [{ server: ['expiry', 'later'] }, `middleware.server[1] must be a function (job, ctx, next) or one of 'expiry', 'unique', 'limiter', but "later" was given`],
    [{ server: ['unique', 'unique'] }, "middleware.server[1]: step 'unique' is named twice"],
    [{ hooks: { onFinish: () => undefined } }, 'middleware.hooks.onFinish is not a hook: expected one of onRetry, onDead, onExpired, onBatchSettled'],
    [{ hooks: { onDead: 'log' } }, 'middleware.hooks.onDead must be a function, but string was given'],
    [{ clients: [] }, 'middleware.clients is not an option: expected client, server or hooks'],
  ])('refuses %j: %s', (declaration, message) => {
    expect(() => checkMiddleware(declaration as unknown as Middleware)).toThrow(new InvalidMiddlewareError(message));
  });

  it('places the steps a declaration does not name first, in their order', () => {
    const timing = async (_job: Job, _ctx: unknown, next: () => Promise<unknown>) => next();
    expect(serverOrder(undefined)).toEqual(['expiry', 'unique', 'limiter']);
    expect(serverOrder({ server: [timing] })).toEqual(['expiry', 'unique', 'limiter', timing]);
    expect(serverOrder({ server: [timing, 'limiter'] })).toEqual(['expiry', 'unique', timing, 'limiter']);
  });
});

describe('runClientChain', () => {
  const logger = createLogger({ sink: () => undefined });

  it('runs the entries in order, each on what the one before gave back, and tells them the path', async () => {
    const seen: string[] = [];
    const first: ClientMiddleware = (given, ctx) => { seen.push(`first:${ctx.via}`); return { ...given, custom: { ...given.custom, order: ['first'] } }; };
    const second: ClientMiddleware = async (given, ctx) => {
      seen.push(`second:${ctx.via}`);
      return { ...given, custom: { ...given.custom, order: [...(given.custom?.order as string[]), 'second'] } };
    };
    const result = await runClientChain({ client: [first, second] }, job(), 'scheduler', logger);
    expect(seen).toEqual(['first:scheduler', 'second:scheduler']);
    expect(result.custom?.order).toEqual(['first', 'second']);
  });

  it('refuses a changed jid or queue, something that is not a job, and a throw, naming the entry and the path', async () => {
    await expect(runClientChain({ client: [function renames(given) { return { ...given, jid: 'other' }; }] }, job(), 'api', logger))
      .rejects.toThrow(new MiddlewareError('renames (client[0])', 'api', "changed the job's jid from jid-1 to other; a middleware may not"));
    await expect(runClientChain({ client: [(given) => ({ ...given, queue: 'critical' })] }, job(), 'retry', logger))
      .rejects.toThrow("client middleware client[0] (enqueue via retry): changed the job's queue from default to critical; a middleware may not");
    await expect(runClientChain({ client: [() => undefined as unknown as Job] }, job(), 'cron', logger))
      .rejects.toThrow('client middleware client[0] (enqueue via cron): gave back something that is not a job (invalid job: job must be a JSON object, but nothing was provided)');
    await expect(runClientChain({ client: [(given) => ({ ...given, args: 'x' as unknown as unknown[] })] }, job(), 'cron', logger))
      .rejects.toThrow('gave back something that is not a job (invalid job: args must be an array');
    const refusal = await runClientChain({ client: [function quota() { throw new Error('tenant over quota'); }] }, job(), 'client', logger).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(MiddlewareError);
    expect(refusal).toMatchObject({ middleware: 'quota (client[0])', via: 'client', message: 'client middleware quota (client[0]) (enqueue via client): threw Error: tenant over quota' });
  });
});

describe('what a client middleware may not change', () => {
  const logger = createLogger({ sink: () => undefined });
  it.each([
    ['jobtype', (given: Job) => ({ ...given, jobtype: 'Other' }), "jobtype from Greet to Other"],
    ['the batch', (given: Job) => ({ ...given, custom: {} }), 'custom.bid'],
    ['the unique options', (given: Job) => ({ ...given, custom: { ...given.custom, unique_for: 5 } }), 'custom.unique_for'],
    ['a unique job\'s args', (given: Job) => ({ ...given, args: ['other'] }), "args (a unique job's lock is keyed by them)"],
  ])('refuses a change of %s', async (_what, change, named) => {
    const unique = job({ custom: { bid: 'b1', unique_for: 60 } });
    await expect(runClientChain({ client: [change] }, unique, 'retry', logger)).rejects.toThrow(`changed the job's ${named}; a middleware may not`);
  });

  it('lets other fields change, and refuses a job the chain made too large', async () => {
    const plain = job();
    expect((await runClientChain({ client: [(given) => ({ ...given, args: ['b'], custom: { note: 1 } })] }, plain, 'retry', logger)).args).toEqual(['b']);
    await expect(runClientChain({ client: [(given) => ({ ...given, args: ['x'.repeat(300 * 1024)] })] }, plain, 'scheduler', logger))
      .rejects.toThrow(/^client middleware the chain \(enqueue via scheduler\): made job jid-1 \d+ bytes, over the limit of 262144 bytes$/);
  });
});

describe('callHook', () => {
  it('logs a hook that throws and goes on', async () => {
    const log = memoryLog();
    await callHook({ hooks: { onExpired: () => { throw new TypeError('pager down'); } } }, 'onExpired', job(), createLogger({ sink: log.sink }));
    expect(log.lines).toEqual([expect.objectContaining({ level: 'ERROR', message: 'hook onExpired threw; ignored', errtype: 'TypeError', error: 'pager down' })]);
    await expect(callHook(undefined, 'onDead', { errtype: 'X', message: 'y' }, createLogger({ sink: log.sink }))).resolves.toBeUndefined();
  });
});

describe('runServerChain', () => {
  function steps(overrides: Partial<ChainSteps> = {}, trail: string[] = []): ChainSteps {
    return {
      expired: () => { trail.push('expiry'); return false; },
      unique: async () => { trail.push('unique'); },
      limiter: async (next) => { trail.push('limiter'); await next(); return undefined; },
      handler: async (ran) => { trail.push(`handler:${JSON.stringify(ran.args)}`); return 'value'; },
      ...overrides,
    };
  }

  it('runs the entries in order around the handler and returns its value, or what a middleware makes of it', async () => {
    const trail: string[] = [];
    const around = async (_job: Job, _ctx: unknown, next: () => Promise<unknown>) => { trail.push('before'); const value = await next(); trail.push('after'); return `${String(value)}!`; };
    const result = await runServerChain(serverOrder({ server: [around, 'unique'] }), job(), {}, steps({}, trail));
    expect(trail).toEqual(['expiry', 'limiter', 'before', 'unique', 'handler:["a"]', 'after']);
    expect(result).toEqual({ kind: 'ran', value: 'value!' });
  });

  it('lets a middleware placed before expiry see an expired job, and stops there', async () => {
    const trail: string[] = [];
    const audit = async (_job: Job, _ctx: unknown, next: () => Promise<unknown>) => { trail.push('audit'); return next(); };
    const result = await runServerChain(serverOrder({ server: [audit, 'expiry'] }), job(), {}, steps({ expired: () => true }, trail));
    expect(result).toEqual({ kind: 'expired' });
    // The steps it does not name run first; nothing runs after expiry.
    expect(trail).toEqual(['unique', 'limiter', 'audit']);
  });

  it('hands on a changed job, ends the run where next is not called, and refuses a second next', async () => {
    const unpack = async (given: Job, _ctx: unknown, next: (job?: Job) => Promise<unknown>) => next({ ...given, args: ['unpacked'] });
    const trail: string[] = [];
    expect(await runServerChain([unpack], job(), {}, steps({}, trail))).toEqual({ kind: 'ran', value: 'value' });
    expect(trail).toEqual(['handler:["unpacked"]']);

    const skip = async () => 'skipped';
    const skipped: string[] = [];
    expect(await runServerChain([skip], job(), {}, steps({}, skipped))).toEqual({ kind: 'ran', value: 'skipped' });
    expect(skipped).toEqual([]);

    const twice = async function twice(_job: Job, _ctx: unknown, next: () => Promise<unknown>) { await next(); return next(); };
    await expect(runServerChain([twice], job(), {}, steps())).rejects.toThrow('server middleware twice (server[0]) called next() twice');
    const swap = async (given: Job, _ctx: unknown, next: (job?: Job) => Promise<unknown>) => next({ ...given, jid: 'other' });
    await expect(runServerChain([swap], job(), {}, steps())).rejects.toThrow('passed next() a job with another jid (other, not jid-1)');
  });

  it('stops at the limiter when the queue has no slot', async () => {
    const trail: string[] = [];
    const result = await runServerChain(serverOrder(undefined), job(), {}, steps({ limiter: async () => ({ waitSeconds: 7, limiter: 'hopper.queue:default' }) }, trail));
    expect(result).toEqual({ kind: 'capped', held: { waitSeconds: 7, limiter: 'hopper.queue:default' } });
    expect(trail).toEqual(['expiry', 'unique']);
  });
});

describe('Client with middleware', () => {
  it('runs the chain on every job before anything is sent, and sends nothing when it refuses one', async () => {
    const sqs = new FakeSqs();
    const stamp: ClientMiddleware = (given, ctx) => ({ ...given, custom: { ...given.custom, via: ctx.via } });
    const client = new Client({ queueUrls: QUEUE_URLS, sqs, now: () => NOW, middleware: { client: [stamp] } });
    await client.enqueueMany([{ jobtype: 'Greet', args: [1] }, { jobtype: 'Greet', args: [2] }]);
    expect(sqs.sentTo(QUEUE_URLS.default).map((sent) => sent.body)).toEqual([
      expect.objectContaining({ args: [1], custom: { via: 'client' } }),
      expect.objectContaining({ args: [2], custom: { via: 'client' } }),
    ]);

    const picky: ClientMiddleware = (given) => { if (given.args[0] === 2) throw new Error('two is refused'); return given; };
    const refusing = new Client({ queueUrls: QUEUE_URLS, sqs: new FakeSqs(), now: () => NOW, middleware: { client: [picky] } });
    await expect(refusing.enqueueMany([{ jobtype: 'Greet', args: [1] }, { jobtype: 'Greet', args: [2] }])).rejects.toThrow(MiddlewareError);
  });

  it('checks the size of what the chain gave back', async () => {
    const inflate: ClientMiddleware = (given) => ({ ...given, args: ['x'.repeat(300 * 1024)] });
    const client = new Client({ queueUrls: QUEUE_URLS, sqs: new FakeSqs(), now: () => NOW, middleware: { client: [inflate] } });
    await expect(client.enqueue('Greet', [])).rejects.toThrow(/^client middleware the chain \(enqueue via client\): made job \w+ \d+ bytes, over the limit of 262144 bytes$/);
  });
});

describe('the worker with middleware', () => {
  const stamp: ClientMiddleware = (given, ctx) => ({ ...given, custom: { ...given.custom, vias: [...((given.custom?.vias as string[] | undefined) ?? []), ctx.via] } });

  function setup(jobs: Readonly<Record<string, JobHandler>>, middleware: Middleware<JobContext>) {
    const sqs = new FakeSqs();
    const log = memoryLog();
    const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs }, now: () => NOW, log: log.sink, middleware: defineMiddleware(middleware) });
    return { sqs, log, handler };
  }

  it('runs the client chain on the retry it sends itself, then onRetry', async () => {
    const retried: Job[] = [];
    const { sqs, handler } = setup({ Boom: async () => { throw new Error('boom'); } }, { client: [stamp], hooks: { onRetry: (sent) => { retried.push(sent); } } });
    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Boom', jid: 'jid-boom', retry: 3 } })]), lambdaContext());
    const [sent] = sqs.sentTo(QUEUE_URLS.default);
    expect(sent?.body).toMatchObject({ jid: 'jid-boom', custom: { vias: ['retry'] }, failure: { retry_count: 0, message: 'boom' } });
    expect(retried).toEqual([sent?.body]);
  });

  it('sends the failure to the retry function when the chain refuses the retry (no retry lost)', async () => {
    const refuse: ClientMiddleware = () => { throw new Error('not now'); };
    const { sqs, log, handler } = setup({ Boom: async () => { throw new Error('boom'); } }, { client: [refuse] });
    const result = await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Boom', jid: 'jid-boom', retry: 3 } })]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([]);
    expect(sqs.sentTo(RETRIES_URL)).toEqual([{ delaySeconds: undefined, body: expect.objectContaining({ hopper: 'failure', job: expect.objectContaining({ jid: 'jid-boom' }) }) }]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'client middleware refused the retry; the failure goes to the retry function' }));
  });

  it('runs the client chain on a limiter\'s requeue, and hands the record back when it refuses', async () => {
    const limited = { Call: async () => { throw new RateLimitedError('stripe', 10); } };
    const { sqs, handler } = setup(limited, { client: [stamp] });
    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Call', jid: 'jid-call' } })]), lambdaContext());
    expect(sqs.sentTo(QUEUE_URLS.default)[0]?.body).toMatchObject({ jid: 'jid-call', custom: { vias: ['requeue'], limited_count: 1 } });

    const refusing = setup(limited, { client: [() => { throw new Error('not now'); }] });
    const record = sqsRecord({ body: { jobtype: 'Call', jid: 'jid-call' } });
    expect(await refusing.handler(sqsEvent([record]), lambdaContext())).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(refusing.sqs.batches).toEqual([]);
  });

  it('drops an expired job before any server middleware unless one is placed before expiry, and calls onExpired', async () => {
    const seen: string[] = [];
    const expiredBody = { jobtype: 'Greet', jid: 'jid-old', custom: { expires_at: '2026-11-22T11:00:00.000Z' } };
    const audit = async (given: Job, _ctx: JobContext, next: () => Promise<unknown>) => { seen.push(given.jid); return next(); };
    const expired: Job[] = [];
    const ran: string[] = [];
    const jobs = { Greet: async (_args: readonly unknown[], ctx: JobContext) => { ran.push(ctx.jid); } };
    await setup(jobs, { server: [audit], hooks: { onExpired: (dropped) => { expired.push(dropped); } } }).handler(sqsEvent([sqsRecord({ body: expiredBody })]), lambdaContext());
    expect(seen).toEqual([]);
    expect(expired.map((dropped) => dropped.jid)).toEqual(['jid-old']);

    await setup(jobs, { server: [audit, 'expiry'] }).handler(sqsEvent([sqsRecord({ body: expiredBody })]), lambdaContext());
    expect(seen).toEqual(['jid-old']);
    expect(ran).toEqual([]);
  });

  it('warns once when the JobSystem declares middleware and the worker was made without it', async () => {
    const log = memoryLog();
    const handler = createWorker({ jobs: { Greet: async () => undefined }, env: { ...TEST_ENV, HOPPER_MIDDLEWARE: 'declared' }, clients: { sqs: new FakeSqs() }, now: () => NOW, log: log.sink });
    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Greet' } })]), lambdaContext());
    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Greet' } })]), lambdaContext());
    expect(log.lines.filter((line) => line.level === 'WARN').map((line) => line.message)).toEqual([
      'the JobSystem declares middleware, but this worker was made without it: its jobs skip the server chain, and what it sends the client chain; pass createWorker({ jobs, middleware })',
    ]);
    const quiet = memoryLog();
    await createWorker({ jobs: { Greet: async () => undefined }, env: { ...TEST_ENV, HOPPER_MIDDLEWARE: 'declared' }, clients: { sqs: new FakeSqs() }, now: () => NOW, log: quiet.sink, middleware: defineMiddleware({}) })(
      sqsEvent([sqsRecord({ body: { jobtype: 'Greet' } })]), lambdaContext());
    expect(quiet.lines.filter((line) => line.level === 'WARN')).toEqual([]);
  });

  it('releases a lock held until start when a middleware ends the job before the unique step', async () => {
    const dynamo = new ScriptedDynamo();
    const handler = createWorker({
      jobs: { Greet: async () => undefined }, env: TEST_ENV, clients: { sqs: new FakeSqs(), dynamo }, now: () => NOW, log: () => undefined,
      middleware: defineMiddleware({ server: [async () => 'skipped', 'unique'] }),
    });
    const body = { jobtype: 'Greet', jid: 'jid-u', args: ['a'], custom: { unique_for: 60, unique_until: 'start' } };
    await handler(sqsEvent([sqsRecord({ body })]), lambdaContext());
    expect(dynamo.sentOf(DeleteItemCommand).map((command) => command.input.Key?.pk?.S)).toEqual([lockKeyOf(normalizeJob(body, { now: NOW })).pk]);
  });

  it('gives the handler what a server middleware handed on, and stores what it returned as the result', async () => {
    const args: unknown[] = [];
    const unpack = async (given: Job, _ctx: JobContext, next: (job?: Job) => Promise<unknown>) => next({ ...given, args: ['unpacked'] });
    const { handler } = setup({ Greet: async (given) => { args.push(...given); } }, { server: [unpack] });
    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Greet', args: ['packed'] } })]), lambdaContext());
    expect(args).toEqual(['unpacked']);
  });
});
