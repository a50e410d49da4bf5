/**
 * Typed jobs (issue 19): `defineJobs` and `withArgs` give a producer's compiler the jobtypes and
 * argument tuples of a worker's jobs, and a job with a schema checks its arguments before it runs.
 * The `@ts-expect-error` lines are the type-level tests: `npm run typecheck` fails if any of them
 * compiles.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ApiClient } from '../../lib/api-client/index.js';
import { Client, type TypedJobInput } from '../../lib/client/client.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { InvalidJobArgsError } from '../../lib/errors/worker.js';
import type { Job } from '../../lib/job/model.js';
import { createWorker, defineJobs, withArgs, type JobArgs, type JobContext, type StandardSchemaV1 } from '../../lib/worker/index.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

/** A Standard Schema of `[email, count]`, written by hand as a schema library would expose it. */
const emailAndCount: StandardSchemaV1<unknown, [string, number]> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) => {
      if (!Array.isArray(value)) return { issues: [{ message: 'expected an array' }] };
      const issues = [
        ...(typeof value[0] === 'string' && value[0].includes('@') ? [] : [{ message: 'expected an email address', path: [0] }]),
        ...(Number.isInteger(value[1]) ? [] : [{ message: 'expected an integer', path: [{ key: 1 }] }]),
      ];
      return issues.length > 0 ? { issues } : { value: [String(value[0]).toLowerCase(), Number(value[1])] };
    },
  },
};

const ran: unknown[] = [];
const jobs = defineJobs({
  SendEmail: async ([to, templateId]: [string, number], ctx: JobContext) => { ran.push({ to, templateId, jid: ctx.jid }); },
  Cleanup: async () => { ran.push('cleanup'); },
  Invite: withArgs(emailAndCount, async ([email, count], ctx) => { ran.push({ email, count, jid: ctx.jid }); }),
});

describe('typed jobs at compile time', () => {
  it('derives each job\'s argument tuple from its handler or its schema', () => {
    expectTypeOf<JobArgs<typeof jobs.SendEmail>>().toEqualTypeOf<[string, number]>();
    expectTypeOf<JobArgs<typeof jobs.Invite>>().toEqualTypeOf<[string, number]>();
    expectTypeOf<TypedJobInput<typeof jobs>>().toMatchTypeOf<{ jobtype: 'SendEmail' | 'Cleanup' | 'Invite' }>();
  });

  it('checks the jobtype and the arguments of every enqueue, and leaves a plain Client open', () => {
    const client = new Client<typeof jobs>({ queueUrls: QUEUE_URLS, sqs: new FakeSqs(), env: {} });
    // Each call below is only compiled, never run.
    const compileOnly = (): void => {
      void client.enqueue('SendEmail', ['a@example.com', 42], { in: '5m' });
      void client.enqueue({ jobtype: 'Invite', args: ['b@example.com', 2] });
      void client.enqueue('Cleanup', []);
      void client.enqueueMany([{ jobtype: 'Cleanup' }, { jobtype: 'SendEmail', args: ['c@example.com', 1], queue: 'critical' }]);
      // @ts-expect-error a misspelt jobtype
      void client.enqueue('SendEmial', ['a@example.com', 42]);
      // @ts-expect-error arguments in the wrong order
      void client.enqueue('SendEmail', [42, 'a@example.com']);
      // @ts-expect-error a missing argument
      void client.enqueue({ jobtype: 'SendEmail', args: ['a@example.com'] });
      // @ts-expect-error args required where the job takes some
      void client.enqueue({ jobtype: 'Invite' });
      // @ts-expect-error a job of another worker in a batch of jobs
      void client.enqueueMany([{ jobtype: 'Unknown', args: [] }]);
      const untyped = new Client({ queueUrls: QUEUE_URLS, sqs: new FakeSqs(), env: {} });
      void untyped.enqueue('Anything', [1, 'two', { three: 3 }]);
      void untyped.enqueue({ jobtype: 'Anything' });
    };
    expect(typeof compileOnly).toBe('function');
  });

  it('checks ApiClient<typeof jobs> the same way, and types the admin calls\' answers', () => {
    const api = new ApiClient<typeof jobs>({ url: 'http://127.0.0.1:9000' });
    const compileOnly = async (): Promise<void> => {
      await api.enqueue('SendEmail', ['a@example.com', 42], { in: '5m', expiresIn: '1h' });
      await api.schedule({ jobtype: 'Invite', args: ['b@example.com', 2] }, { at: new Date() });
      await api.enqueueMany([{ jobtype: 'Cleanup' }]);
      // @ts-expect-error a misspelt jobtype
      await api.enqueue('SendEmial', ['a@example.com', 42]);
      // @ts-expect-error arguments in the wrong order
      await api.schedule({ jobtype: 'SendEmail', args: [42, 'a@example.com'] }, { in: 60 });
      // @ts-expect-error not a set
      await api.entries('finished');
      const paused: boolean = (await api.pauseQueue('default')).paused;
      const latency: number | null | undefined = (await api.queues())[0]?.latency;
      const pending: number | undefined = (await api.batch('b1'))?.pending;
      void [paused, latency, pending];
    };
    expect(typeof compileOnly).toBe('function');
  });
});

describe('typed jobs at run time', () => {
  function setup() {
    const sqs = new FakeSqs();
    const handler = createWorker({ jobs, env: TEST_ENV, clients: { sqs }, now: () => NOW, log: memoryLog().sink });
    return { sqs, handler };
  }

  it('runs a job whose arguments match its schema with the schema\'s output', async () => {
    ran.length = 0;
    const { sqs, handler } = setup();

    const result = await handler(sqsEvent([
      sqsRecord({ body: { jobtype: 'Invite', jid: 'i1', args: ['Ada@Example.com', 3] } }),
      sqsRecord({ body: { jobtype: 'SendEmail', jid: 's1', args: ['b@example.com', 7] } }),
    ]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran).toEqual(expect.arrayContaining([{ email: 'ada@example.com', count: 3, jid: 'i1' }, { to: 'b@example.com', templateId: 7, jid: 's1' }]));
    expect(sqs.batches).toEqual([]);
  });

  it('sends a job whose arguments do not match straight to the dead set, its error naming each field', async () => {
    ran.length = 0;
    const { sqs, handler } = setup();

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Invite', jid: 'bad', args: ['not-an-email', 1.5] } })]), lambdaContext());

    expect(ran).toEqual([]);
    const [failure] = sqs.sentTo(RETRIES_URL).map((sent) => sent.body as { unrecoverable?: boolean; job: Job; error: { errtype: string; message: string } });
    expect(failure?.unrecoverable).toBe(true);
    expect(failure?.job.jid).toBe('bad');
    expect(failure?.error).toMatchObject({
      errtype: 'InvalidJobArgsError',
      message: 'Invite: its arguments do not match the job\'s schema: args[0]: expected an email address; args[1]: expected an integer',
    });
  });

  it('enqueues with the typed form: jobtype, arguments, and the job\'s other fields and schedule as options', async () => {
    const sqs = new FakeSqs();
    const client = new Client<typeof jobs>({ queueUrls: QUEUE_URLS, sqs, env: {}, now: () => NOW });

    await client.enqueue('SendEmail', ['a@example.com', 42], { in: '5m', queue: 'critical', retry: 3, jid: 'typed-1', expiresIn: '1h' });

    const [sent] = sqs.sentTo(QUEUE_URLS.critical);
    expect(sent?.delaySeconds).toBe(300);
    expect(sent?.body).toMatchObject({
      jid: 'typed-1', jobtype: 'SendEmail', args: ['a@example.com', 42], queue: 'critical', retry: 3,
      at: '2026-11-22T12:05:00.000Z', custom: { expires_at: '2026-11-22T13:05:00.000Z' },
    });
  });

  it('refuses both in and at, and arguments that are not an array, naming the field', async () => {
    const untyped = new Client({ queueUrls: QUEUE_URLS, sqs: new FakeSqs(), env: {}, now: () => NOW });

    await expect(untyped.enqueue('Cleanup', [], { in: '5m', at: NOW })).rejects.toThrow('invalid job: in must be either in or at, not both, but "5m" was provided');
    await expect(untyped.enqueue('Cleanup', 'x' as unknown as unknown[])).rejects.toThrow('invalid job: args must be an array of arguments, but "x" was provided');
  });

  it('refuses a job that is neither a function nor { args, run }, and a schema that is not a Standard Schema', () => {
    expect(() => defineJobs({ Broken: 42 as never })).toThrow(new ConfigurationError('jobs.Broken must be a handler function or { args, run }, but number was provided'));
    expect(() => createWorker({ jobs: { Odd: { args: { parse: () => [] } as never, run: async () => undefined } }, env: TEST_ENV }))
      .toThrow('jobs.Odd.args must be a Standard Schema (an object with a "~standard" validator, as Zod, Valibot and ArkType schemas are), but it is not');
  });

  it('names the path of each problem inside the arguments', async () => {
    const nested: StandardSchemaV1<unknown, [unknown]> = { '~standard': { version: 1, vendor: 'test', validate: () => ({ issues: [{ message: 'm', path: [0, 'to', { key: 2 }] }, { message: 'whole' }] }) } };
    const sqs = new FakeSqs();
    const handler = createWorker({ jobs: { Deep: withArgs(nested, async () => undefined) }, env: TEST_ENV, clients: { sqs }, now: () => NOW, log: memoryLog().sink });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Deep', args: [{}] } })]), lambdaContext());

    const [failure] = sqs.sentTo(RETRIES_URL).map((sent) => sent.body as { error: { errtype: string; message: string } });
    expect(failure?.error).toMatchObject({ errtype: InvalidJobArgsError.errorName, message: 'Deep: its arguments do not match the job\'s schema: args[0].to[2]: m; args: whole' });
  });
});
