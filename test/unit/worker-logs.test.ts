import { describe, expect, it } from 'vitest';
import { failureEnvelope } from '../../lib/job/envelope.js';
import { FAILURE_CAPS, normalizeJob } from '../../lib/job/model.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createWorker } from '../../lib/worker/index.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const SECRET = 'card-4242-4242-4242-4242';

describe('structured job logs', () => {
  it('put jid, jobtype, queue, attempt and bid on every line about a job, cap failures, and never log args', async () => {
    const log = memoryLog();
    const longMessage = 'x'.repeat(5000);
    const stack = ['Error: x', ...Array.from({ length: 80 }, (_, i) => `    at frame${i} (jobs.ts:${i}:1)`)].join('\n');
    const handler = createWorker({
      jobs: {
        Charge: async (_args, ctx) => { ctx.logger.info('charging'); },
        Explode: async () => { throw Object.assign(new Error(longMessage), { stack }); },
      },
      env: TEST_ENV,
      clients: { sqs: new FakeSqs() },
      now: () => NOW,
      log: log.sink,
    });

    await handler(sqsEvent([
      sqsRecord({ body: { jid: 'first', jobtype: 'Charge', args: [SECRET] } }),
      sqsRecord({ body: { jid: 'third', jobtype: 'Explode', args: [SECRET], custom: { bid: 'batch-1' }, failure: { retry_count: 1, failed_at: '2026-11-22T11:00:00.000Z', message: 'm', errtype: 'Error' } } }),
    ]), lambdaContext());

    const aboutJobs = log.lines.filter((line) => 'jid' in line);
    expect(aboutJobs.map((line) => [line.message, line.jid, line.jobtype, line.queue, line.attempt, line.bid])).toEqual([
      ['charging', 'first', 'Charge', 'default', 1, undefined],
      ['job failed', 'third', 'Explode', 'default', 3, 'batch-1'],
    ]);
    const failure = aboutJobs[1] ?? {};
    expect(String(failure.error)).toHaveLength(FAILURE_CAPS.message);
    expect(failure.errtype).toBe('Error');
    expect(failure.backtrace).toHaveLength(FAILURE_CAPS.backtraceLines);
    expect(JSON.stringify(log.lines)).not.toContain(SECRET);
  });

  it('carry the same fields, the error and its backtrace in the retry function\'s lines', async () => {
    const log = memoryLog();
    const handler = createRetryHandler({ env: TEST_ENV, sqs: new FakeSqs(), stateTable: new StateTable(new FakeDynamo(), 'state'), now: () => NOW, log: log.sink });
    const job = normalizeJob({ jid: 'j1', jobtype: 'Charge', args: [SECRET], retry: 0 }, { now: NOW });
    const error = Object.assign(new Error('declined'), { stack: 'Error: declined\n    at charge (pay.ts:1:1)' });

    await handler(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, body: failureEnvelope({ queue: 'default', job, error, now: NOW }) })]));

    const line = log.lines.find((entry) => entry.message === 'job moved to the dead set');
    expect(line).toMatchObject({ level: 'WARN', jid: 'j1', jobtype: 'Charge', queue: 'default', attempt: 2, retry_count: 0, errtype: 'Error', error: 'declined', backtrace: ['at charge (pay.ts:1:1)'] });
    expect(JSON.stringify(log.lines)).not.toContain(SECRET);
  });
});

describe('log level', () => {
  const run = async (env: Record<string, string>, jobtype: string) => {
    const log = memoryLog();
    const handler = createWorker({
      jobs: { Ok: async (_args, ctx) => { ctx.logger.debug('detail'); ctx.logger.info('working'); }, Boom: async () => { throw new Error('boom'); } },
      env: { ...TEST_ENV, ...env },
      clients: { sqs: new FakeSqs() },
      now: () => NOW,
      log: log.sink,
    });
    await handler(sqsEvent([sqsRecord({ body: { jid: 'j', jobtype } })]), lambdaContext());
    // EMF lines (metrics) have no level: they are not log lines.
    return log.lines.filter((line) => 'level' in line).map((line) => [line.level, line.message]);
  };

  it('logs INFO and above by default, with no summary line for a batch that only succeeded', async () => {
    expect(await run({}, 'Ok')).toEqual([['INFO', 'working']]);
    expect(await run({}, 'Boom')).toEqual([['WARN', 'job failed'], ['INFO', 'retry enqueued'], ['INFO', 'batch done']]);
  });

  it('follows HOPPER_LOG_LEVEL in any case', async () => {
    expect(await run({ HOPPER_LOG_LEVEL: 'debug' }, 'Ok')).toEqual([['DEBUG', 'detail'], ['INFO', 'working'], ['DEBUG', 'job done'], ['DEBUG', 'batch done']]);
    expect(await run({ HOPPER_LOG_LEVEL: 'WARN' }, 'Boom')).toEqual([['WARN', 'job failed']]);
  });

  it('refuses an unknown level, naming the variable and the levels', () => {
    expect(() => createWorker({ jobs: {}, env: { ...TEST_ENV, HOPPER_LOG_LEVEL: 'verbose' } })).toThrow('HOPPER_LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR, but "verbose" was provided');
  });
});
