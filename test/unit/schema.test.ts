import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { failureEnvelope } from '../../lib/job/envelope.js';
import { normalizeJob } from '../../lib/job/model.js';

const schema = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8'));

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateJob = ajv.compile(schema('job.schema.json'));
const validateEnvelope = ajv.compile(schema('failure.schema.json'));

const now = new Date('2026-11-22T12:00:00.000Z');

describe('docs/job.schema.json', () => {
  it.each([
    ['a minimal job', { jobtype: 'A', args: [] }],
    ['a job with every field', {
      jobtype: 'SendEmail', args: ['a@example.com', 42], queue: 'critical', retry: 3, reserve_for: 600, at: '2026-11-22T13:00:00Z',
      custom: { bid: 'b1', unique_for: 60, unique_until: 'start', expires_at: '2026-11-22T12:05:00Z', tenant: 'acme' },
    }],
  ])('accepts %s as the job model fills it in', (_, input) => {
    const job = normalizeJob(input, { now });
    expect(validateJob(job), JSON.stringify(validateJob.errors)).toBe(true);
  });

  it.each([
    ['no jobtype', { args: [] }],
    ['args not an array', { jobtype: 'A', args: {} }],
    ['a negative retry', { jobtype: 'A', retry: -1 }],
    ['a bad queue name', { jobtype: 'A', queue: 'a b' }],
    ['more than 1,000 args', { jobtype: 'A', args: Array.from({ length: 1001 }, () => 0) }],
  ])('rejects %s, as the job model does', (_, input) => {
    expect(validateJob(input)).toBe(false);
    expect(() => normalizeJob(input, { now })).toThrow(/^invalid job/);
  });
});

describe('docs/failure.schema.json', () => {
  it('accepts the envelope a worker builds', () => {
    const job = normalizeJob({ jobtype: 'A', args: [1] }, { now });
    const envelope = failureEnvelope({ queue: 'default', job, error: new TypeError('boom'), now });
    expect(validateEnvelope(envelope), JSON.stringify(validateEnvelope.errors)).toBe(true);
  });

  it('accepts an envelope for a body that was not a job', () => {
    const envelope = failureEnvelope({ queue: 'default', raw: '{oops', error: new Error('body is not JSON'), now, unrecoverable: true });
    expect(validateEnvelope(envelope), JSON.stringify(validateEnvelope.errors)).toBe(true);
  });

  it('rejects an envelope with neither job nor raw', () => {
    expect(validateEnvelope({ hopper: 'failure', queue: 'default', error: { errtype: 'E', message: 'm' }, failed_at: now.toISOString() })).toBe(false);
  });
});
