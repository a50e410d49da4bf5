/**
 * What the Python client and worker put on the wire, checked against the normative schemas and
 * against the TypeScript model: a Python job must mean to TypeScript exactly what it says, and a
 * Python failure envelope must be read by the retry function as a TypeScript one is.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRetriesMessage } from '../../lib/job/envelope.js';
import { normalizeJob, parseJob } from '../../lib/job/model.js';
import { UnknownJobTypeError } from '../../lib/worker/index.js';
import { objects, parseObject, processEnv, PYTHON, pythonFixture, run } from './polyglot-process.js';

const schema = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateJob = ajv.compile(schema('job.schema.json'));
const validateEnvelope = ajv.compile(schema('failure.schema.json'));

let jobs: Record<string, unknown>[] = [];
let envelopes: Record<string, unknown>[] = [];

beforeAll(async () => {
  const { stdout } = await run(PYTHON, [pythonFixture('wire_samples.py')], { env: processEnv({}) });
  const samples = parseObject(stdout);
  jobs = objects(samples.jobs, 'jobs');
  envelopes = objects(samples.envelopes, 'envelopes');
});

/** The message of the error `fn` throws. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('expected an error');
}

describe('jobs the Python client sends', () => {
  it('are every job the sample asked for', () => {
    expect(jobs.map((job) => job.jobtype)).toEqual(['Minimal', 'SendEmail', 'Everything', 'AtAsText', ...Array.from({ length: 12 }, () => 'Many')]);
  });

  it('validate against docs/job.schema.json', () => {
    for (const job of jobs) expect(validateJob(job), `${JSON.stringify(job)}: ${JSON.stringify(validateJob.errors)}`).toBe(true);
  });

  it('are read by the TypeScript job model as they are, with nothing to fill in', () => {
    for (const job of jobs) expect(normalizeJob(job, { now: new Date(0) })).toEqual(job);
  });

  it('carry the defaults of lib/job/model.ts and a Sidekiq-style jid', () => {
    const [minimal] = jobs;
    expect(minimal).toMatchObject({ args: [], queue: 'default', retry: 25 });
    expect(minimal?.jid).toMatch(/^[0-9a-f]{24}$/);
    expect(minimal?.created_at).toBe(minimal?.enqueued_at);
    expect(String(minimal?.created_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});

describe('failure envelopes the Python worker sends', () => {
  it('validate against docs/failure.schema.json', () => {
    expect(envelopes).toHaveLength(5);
    for (const envelope of envelopes) expect(validateEnvelope(envelope), `${JSON.stringify(envelope)}: ${JSON.stringify(validateEnvelope.errors)}`).toBe(true);
  });

  it('are read by the retry function as failures, with the error capped as Faktory caps it', () => {
    const parsed = envelopes.map((envelope) => parseRetriesMessage(JSON.stringify(envelope), { now: new Date(), messageId: 'm' }));
    expect(parsed.map((message) => message.kind)).toEqual(['failure', 'failure', 'failure', 'failure', 'failure']);
    const errors = parsed.map((message) => (message.kind === 'failure' ? message.envelope.error : undefined));
    expect(errors.map((error) => error?.errtype)).toEqual(['RuntimeError', 'UnrecoverableJobError', 'UnknownJobTypeError', 'InvalidJobError', 'InvalidJobError']);
    expect(errors[0]?.message).toHaveLength(1000);
    expect(errors[0]?.backtrace[0]).toMatch(/^File ".*wire_samples\.py", line \d+, in fail$/);
  });

  it('mark as unrecoverable exactly what the TypeScript worker marks', () => {
    expect(envelopes.map((envelope) => envelope.unrecoverable === true)).toEqual([false, true, true, true, true]);
  });

  it('keep the job with its previous failure, or the raw body when it was not a job', () => {
    expect(envelopes[0]?.job).toMatchObject({ jobtype: 'Fail', jid: 'm0', queue: 'default', failure: { retry_count: 5 } });
    expect(envelopes[3]).toMatchObject({ raw: '{not json', queue: 'default', message_id: 'm3' });
    expect(envelopes[3]).not.toHaveProperty('job');
  });

  it('give the reasons the TypeScript worker gives, word for word', () => {
    const message = (index: number): unknown => {
      const error = envelopes[index]?.error;
      return typeof error === 'object' && error !== null && 'message' in error ? error.message : undefined;
    };
    expect(message(2)).toBe(new UnknownJobTypeError('Unknown', ['Fail', 'Refuse']).message);
    expect(message(3)).toBe(thrown(() => parseJob('{not json', { now: new Date() })));
    expect(message(4)).toBe(thrown(() => parseJob(JSON.stringify({ jobtype: 'Bad', args: 'no' }), { now: new Date() })));
  });
});
