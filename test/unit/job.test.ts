import { describe, expect, it } from 'vitest';
import { InvalidJobError } from '../../lib/errors/base.js';
import { FAILURE_CAPS, describeError, normalizeJob, parseJob } from '../../lib/job/model.js';

const now = new Date('2026-11-22T12:00:00.000Z');

function invalid(run: () => unknown): InvalidJobError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidJobError) return error;
    throw error;
  }
  throw new Error('expected an InvalidJobError');
}

describe('normalizeJob', () => {
  it('fills in the defaults a producer may leave out', () => {
    const job = normalizeJob({ jobtype: 'SendEmail', args: ['a@example.com', 42] }, { now, defaultJid: 'msg-1' });
    expect(job).toEqual({
      jid: 'msg-1',
      jobtype: 'SendEmail',
      args: ['a@example.com', 42],
      queue: 'default',
      created_at: '2026-11-22T12:00:00.000Z',
      retry: 25,
    });
  });

  it('keeps every field the wire format allows', () => {
    const input = {
      jid: '01JD3ABC',
      jobtype: 'SendEmail',
      args: [],
      queue: 'critical',
      created_at: '2026-11-22T11:00:00.000Z',
      enqueued_at: '2026-11-22T11:00:00.120Z',
      at: '2026-11-22T13:00:00Z',
      retry: 3,
      reserve_for: 900,
      custom: { bid: 'b1', unique_for: 3600, unique_until: 'start', expires_at: '2026-11-22T12:05:00Z', tenant: 'acme', extra: [1] },
      failure: { retry_count: 2, failed_at: '2026-11-22T11:30:00Z', message: 'timeout', errtype: 'TimeoutError', backtrace: ['at x'] },
    };
    expect(normalizeJob(input, { now })).toEqual(input);
  });

  it('makes a 24-hex-character jid when none is given', () => {
    expect(normalizeJob({ jobtype: 'A' }, { now }).jid).toMatch(/^[0-9a-f]{24}$/);
  });

  it('accepts a Date for at', () => {
    expect(normalizeJob({ jobtype: 'A', at: new Date('2026-11-22T13:00:00Z') }, { now }).at).toBe('2026-11-22T13:00:00.000Z');
  });

  describe.each([
    [{ args: [] }, 'jobtype', 'invalid job: jobtype must be a string of 1 to 256 characters, but nothing was provided'],
    [{ jobtype: '' }, 'jobtype', 'invalid job: jobtype must be a string of 1 to 256 characters, but "" was provided'],
    [{ jobtype: 'A', args: { a: 1 } }, 'args', 'invalid job: args must be an array, but an object was provided'],
    [{ jobtype: 'A', args: 'x' }, 'args', 'invalid job: args must be an array, but "x" was provided'],
    [{ jobtype: 'A', queue: 'no spaces' }, 'queue', 'invalid job: queue must be a queue name of 1 to 64 letters, digits, - or _, but "no spaces" was provided'],
    [{ jobtype: 'A', retry: -1 }, 'retry', 'invalid job: retry must be an integer from 0 to 1000, but number -1 was provided'],
    [{ jobtype: 'A', retry: 1.5 }, 'retry', 'invalid job: retry must be an integer from 0 to 1000, but number 1.5 was provided'],
    [{ jobtype: 'A', jid: 'has space' }, 'jid', "invalid job: jid must be a string of 1 to 128 letters, digits, '.', '_', ':' or '-', but \"has space\" was provided"],
    [{ jobtype: 'A', at: 'tomorrow' }, 'at', 'invalid job: at must be an ISO-8601 date-time string, but "tomorrow" was provided'],
    [{ jobtype: 'A', reserve_for: 50_000 }, 'reserve_for', 'invalid job: reserve_for must be an integer number of seconds from 1 to 43200, but number 50000 was provided'],
    [{ jobtype: 'A', custom: [] }, 'custom', 'invalid job: custom must be a JSON object, but an array was provided'],
    [{ jobtype: 'A', custom: { unique_for: 0 } }, 'custom.unique_for', 'invalid job: custom.unique_for must be a positive integer number of seconds, but number 0 was provided'],
    [{ jobtype: 'A', custom: { unique_until: 'never' } }, 'custom.unique_until', "invalid job: custom.unique_until must be 'success' or 'start', but \"never\" was provided"],
    [{ jobtype: 'A', custom: { expires_at: 5 } }, 'custom.expires_at', 'invalid job: custom.expires_at must be an ISO-8601 date-time string, but number 5 was provided'],
    [{ jobtype: 'A', failure: { retry_count: -2 } }, 'failure.retry_count', 'invalid job: failure.retry_count must be a non-negative integer, but number -2 was provided'],
  ])('rejects %j', (input, field, message) => {
    it(`naming ${field}`, () => {
      const error = invalid(() => normalizeJob(input, { now }));
      expect(error.field).toBe(field);
      expect(error.message).toBe(message);
      expect(error.name).toBe('InvalidJobError');
    });
  });

  it('rejects a value that is not an object', () => {
    expect(invalid(() => normalizeJob([1], { now })).message).toBe('invalid job: job must be a JSON object, but an array was provided');
    expect(invalid(() => normalizeJob(null, { now })).field).toBe('job');
  });
});

describe('parseJob', () => {
  it('parses a JSON body', () => {
    expect(parseJob('{"jobtype":"A","args":[1]}', { now, defaultJid: 'm' }).args).toEqual([1]);
  });

  it('names the body when it is not JSON', () => {
    const error = invalid(() => parseJob('{not json', { now }));
    expect(error.field).toBe('body');
    expect(error.message).toBe('invalid job: body must be a JSON object, but text that is not JSON was provided');
  });
});

describe('describeError', () => {
  it('caps error type, message and backtrace as Faktory does', () => {
    const error = new Error('m'.repeat(5000));
    error.name = 'E'.repeat(500);
    error.stack = `${error.name}: x\n${Array.from({ length: 80 }, (_, i) => `    at frame${i} (file.ts:${i}:1)`).join('\n')}`;
    const described = describeError(error);
    expect(described.errtype).toHaveLength(FAILURE_CAPS.errtype);
    expect(described.message).toHaveLength(FAILURE_CAPS.message);
    expect(described.message.endsWith('…')).toBe(true);
    expect(described.backtrace).toHaveLength(FAILURE_CAPS.backtraceLines);
    expect(described.backtrace[0]).toBe('at frame0 (file.ts:0:1)');
  });

  it('describes a thrown non-Error', () => {
    expect(describeError({ code: 7 })).toEqual({ errtype: 'Error', message: '{"code":7}', backtrace: [] });
  });
});
