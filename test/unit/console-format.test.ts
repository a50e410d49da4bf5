import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createWorker } from '../../lib/worker/index.js';
import { formatFunctionLine, type ConsoleFormat } from '../../lib/observability/console-format.js';
import { streamSink } from '../../local/log.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, RETRIES_URL, TEST_ENV, lambdaContext, sqsEvent, sqsRecord } from './worker-fakes.js';

const READABLE: ConsoleFormat = { format: 'readable', metrics: false };
const NOW = new Date('2026-11-22T12:00:00.000Z');
const EMF = JSON.stringify({
  _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'Hopper', Dimensions: [['Queue'], ['Queue', 'JobType']], Metrics: [{ Name: 'Processed', Unit: 'Count' }, { Name: 'Duration', Unit: 'Milliseconds' }] }] },
  Queue: 'default',
  JobType: 'SendEmail',
  Processed: 2,
  Duration: [12, 40],
});
const line = (fields: Record<string, unknown>) => JSON.stringify({ time: '2026-11-22T12:00:00.000Z', request_id: 'r-1', ...fields });
const about = { jid: '9966451bfa2e1c9aeb767bc9', jobtype: 'SendEmail', queue: 'default', attempt: 2 };

describe('readable console lines', () => {
  it.each([
    { what: 'a success (DEBUG in the worker, shown)', input: line({ level: 'DEBUG', message: 'job done', ...about, duration_ms: 12 }), output: { level: 'info', text: 'SendEmail 996645… done 12 ms' } },
    {
      what: 'a failure the retry function re-enqueues',
      input: line({ level: 'INFO', message: 'retry enqueued', ...about, retry_count: 0, errtype: 'Error', error: 'mail server refused', backtrace: ['at x'], delay_s: 17 }),
      output: { level: 'info', text: 'SendEmail 996645… failed: Error: mail server refused, retry 1 in 17 s' },
    },
    {
      what: 'a failure kept in the retry set',
      input: line({ level: 'INFO', message: 'retry kept in the retry set', ...about, retry_count: 6, errtype: 'TypeError', error: 'x is undefined', at: '2026-11-22T13:05:00.000Z' }),
      output: { level: 'info', text: 'SendEmail 996645… failed: TypeError: x is undefined, retry 7 at 2026-11-22T13:05:00.000Z' },
    },
    {
      what: 'a death after the last retry',
      input: line({ level: 'WARN', message: 'job moved to the dead set', ...about, retry_count: 2, errtype: 'Error', error: 'always fails', reason: 'always fails' }),
      output: { level: 'warn', text: 'SendEmail 996645… dead after 3 attempts: Error: always fails' },
    },
    {
      what: 'a death for another reason than the error',
      input: line({ level: 'WARN', message: 'job moved to the dead set', ...about, retry_count: 0, errtype: 'Error', error: 'boom', reason: 'queue "gone" is not declared in this JobSystem (declared: default)' }),
      output: { level: 'warn', text: 'SendEmail 996645… dead after 1 attempt: queue "gone" is not declared in this JobSystem (declared: default)' },
    },
    {
      what: 'an expired job',
      input: line({ level: 'INFO', message: 'job expired; dropped without running', ...about, expires_at: '2026-11-22T11:00:00.000Z' }),
      output: { level: 'info', text: 'SendEmail 996645… expired at 2026-11-22T11:00:00.000Z; dropped without running' },
    },
    { what: 'a rate-limited job', input: line({ level: 'INFO', message: 'rate limited; job delayed', ...about, delay_s: 30, limited_count: 1 }), output: { level: 'info', text: 'SendEmail 996645… rate limited; runs again in 30 s' } },
    {
      what: 'a scheduled job that died when it came due',
      input: line({ level: 'WARN', message: 'due job moved to the dead set', jid: 'abcdef123456', set: 'retry', reason: 'retries exhausted' }),
      output: { level: 'warn', text: 'abcdef… dead (from the retry set): retries exhausted' },
    },
    { what: 'a cron tick', input: line({ level: 'INFO', message: 'cron job enqueued', cron: 'hourly-greeting', jid: '0c1d2e3f4a5b', jobtype: 'Greet' }), output: { level: 'info', text: 'Greet 0c1d2e… enqueued by cron hourly-greeting' } },
    {
      what: 'the worker\'s own failure line (the retry function\'s says it with the retry)',
      input: line({ level: 'WARN', message: 'job failed', ...about, errtype: 'Error', error: 'boom', backtrace: ['at x'] }),
      output: { level: 'debug', text: 'SendEmail 996645… WARN job failed errtype=Error error=boom' },
    },
    { what: 'a handler\'s own line', input: line({ level: 'INFO', message: 'email sent', ...about, to: 'user0@example.com', templateId: 'welcome' }), output: { level: 'info', text: 'SendEmail 996645… email sent to=user0@example.com templateId=welcome' } },
    { what: 'a line that is not about a job', input: line({ level: 'WARN', message: 'could not write stats; kept for the next invocation', error: { name: 'Error', message: 'down' } }), output: { level: 'warn', text: 'WARN could not write stats; kept for the next invocation error={"name":"Error","message":"down"}' } },
    { what: 'a batch summary', input: line({ level: 'INFO', message: 'batch done', received: 2, succeeded: 1, failed: 1 }), output: { level: 'debug', text: 'batch done received=2 succeeded=1 failed=1' } },
    { what: 'a sweep that went well', input: line({ level: 'INFO', message: 'sweep done', due: 0, failed: 0 }), output: { level: 'debug', text: 'sweep done due=0 failed=0' } },
    { what: 'a sweep that did not', input: line({ level: 'WARN', message: 'sweep done', due: 2, failed: 1 }), output: { level: 'warn', text: 'WARN sweep done due=2 failed=1' } },
    { what: 'text that is not JSON', input: 'Error: uncaught', output: { level: 'info', text: 'Error: uncaught' } },
    { what: 'JSON that is not a log line', input: '{"statusCode":200}', output: { level: 'info', text: '{"statusCode":200}' } },
  ])('shows $what', ({ input, output }) => {
    expect(formatFunctionLine(input, 'info', READABLE)).toEqual(output);
  });

  it('hides EMF lines unless metrics are asked for, then shows them compacted (readable) or as printed (json)', () => {
    expect(formatFunctionLine(EMF, 'info', READABLE)).toBeUndefined();
    expect(formatFunctionLine(EMF, 'info', { format: 'json', metrics: false })).toBeUndefined();
    expect(formatFunctionLine(EMF, 'info', { format: 'readable', metrics: true })).toEqual({ level: 'info', text: 'metrics default/SendEmail: Processed 2, Duration 12, 40 ms' });
    expect(formatFunctionLine(EMF, 'info', { format: 'json', metrics: true })).toEqual({ level: 'info', text: EMF });
  });

  it('leaves JSON lines as printed in the json format', () => {
    const input = line({ level: 'DEBUG', message: 'job done', ...about, duration_ms: 12 });
    expect(formatFunctionLine(input, 'info', { format: 'json', metrics: false })).toEqual({ level: 'info', text: input });
  });
});

describe('what the functions print, as hopper dev shows it', () => {
  it('turns the worker\'s and the retry function\'s real lines into one line per job event', async () => {
    const printed: string[] = [];
    const sqs = new FakeSqs();
    const worker = createWorker({
      jobs: { Greet: async () => undefined, SendEmail: async () => { throw new Error('mail server refused'); } },
      env: { ...TEST_ENV, HOPPER_LOG_LEVEL: 'DEBUG' },
      clients: { sqs },
      now: () => NOW,
      log: (text) => printed.push(text),
    });
    await worker(sqsEvent([
      sqsRecord({ body: { jid: 'aaaaaa000000', jobtype: 'Greet', args: [] } }),
      sqsRecord({ body: { jid: 'bbbbbb000000', jobtype: 'SendEmail', args: [] } }),
      sqsRecord({ body: { jid: 'cccccc000000', jobtype: 'SendEmail', args: [], retry: 0 } }),
    ]), lambdaContext());
    const retry = createRetryHandler({ env: TEST_ENV, sqs, stateTable: new StateTable(new FakeDynamo(), 'state'), now: () => NOW, log: (text) => printed.push(text) });
    await retry(sqsEvent(sqs.sentTo(RETRIES_URL).map(({ body }) => sqsRecord({ queueUrl: RETRIES_URL, body: JSON.stringify(body) }))));

    const output: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output.push(chunk.toString());
        done();
      },
    });
    const sink = streamSink(stream, { console: READABLE });
    for (const text of printed) sink({ source: 'Worker', level: 'info', message: text });
    expect(output).toEqual([
      '[Worker] Greet aaaaaa… done 0 ms\n',
      '[Worker] SendEmail bbbbbb… failed: Error: mail server refused, retry 1 in 15 s\n',
      '[Worker] SendEmail cccccc… dead after 1 attempt: Error: mail server refused\n',
    ]);
  });
});
