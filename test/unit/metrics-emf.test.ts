import { describe, expect, it } from 'vitest';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { failureEnvelope } from '../../lib/job/envelope.js';
import { RateLimitedError } from '../../lib/errors/base.js';
import { normalizeJob } from '../../lib/job/model.js';
import { createMetrics, dimensionValue, metricsOf } from '../../lib/observability/emf.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { StartMarks } from '../../lib/storage/start-marks.js';
import { NO_STATS, type StatsRecorder } from '../../lib/stats/recorder.js';
import type { StatsSample } from '../../lib/stats/rollup.js';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { field, jsonObject, records } from '../fixtures/json.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const NOW_MS = Date.parse('2026-11-22T12:00:00.000Z');
const DIMENSIONS = [['Queue'], ['Queue', 'JobType']];

/** The EMF lines among the log lines. */
function emfLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((line) => '_aws' in line);
}

/** The metadata one line must carry for `metrics` (name → unit). */
function aws(metrics: Record<string, 'Count' | 'Milliseconds'>, namespace = 'Hopper') {
  return {
    Timestamp: expect.any(Number),
    CloudWatchMetrics: [{ Namespace: namespace, Dimensions: DIMENSIONS, Metrics: Object.entries(metrics).map(([Name, Unit]) => ({ Name, Unit })) }],
  };
}

function ago(ms: number): string {
  return new Date(NOW_MS - ms).toISOString();
}

describe('worker metrics (EMF)', () => {
  it('prints one line per queue and jobtype for a known sequence of jobs, with exact counts and timings', async () => {
    let nowMs = NOW_MS;
    const log = memoryLog();
    const sqs = new FakeSqs();
    const work = (ms: number): JobHandler => async () => { nowMs += ms; };
    const handler = createWorker({
      jobs: {
        Greet: work(250),
        Boom: async () => { nowMs += 40; throw new Error('boom'); },
        Limited: async () => { throw new RateLimitedError('api', 5); },
      },
      env: TEST_ENV,
      clients: { sqs },
      now: () => new Date(nowMs),
      log: log.sink,
      concurrency: 1,
    });

    await handler(sqsEvent([
      sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(2000) } }),
      sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(3000) } }),
      sqsRecord({ body: { jobtype: 'Boom', enqueued_at: ago(1000) } }),
      sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(500), custom: { expires_at: ago(1) } } }),
      sqsRecord({ body: { jobtype: 'Nope', enqueued_at: ago(100) } }),
      sqsRecord({ body: 'not json' }),
      sqsRecord({ body: { jobtype: 'Limited', enqueued_at: ago(0) } }),
      sqsRecord({ body: { jobtype: 'Greet', queue: 'critical', enqueued_at: ago(10) }, queueUrl: QUEUE_URLS.critical }),
    ]), lambdaContext());

    // Waits are measured at each start: the clock has moved on by the work done before.
    // The expired Greet shares the line of the default queue's Greet.
    expect(emfLines(log.lines).sort(byQueueAndType).map(withoutOrder)).toEqual([
      { _aws: aws({ Processed: 'Count', Expired: 'Count', Duration: 'Milliseconds', Latency: 'Milliseconds' }), Queue: 'default', JobType: 'Greet', Processed: 2, Expired: 1, Duration: [250, 250], Latency: [2000, 3250] },
      // Its first failure, due again within 15 minutes: retried by the worker itself.
      { _aws: aws({ Processed: 'Count', Failed: 'Count', Retried: 'Count', Duration: 'Milliseconds', Latency: 'Milliseconds' }), Queue: 'default', JobType: 'Boom', Processed: 1, Failed: 1, Retried: 1, Duration: [40], Latency: [1500] },
      { _aws: aws({ Failed: 'Count', Latency: 'Milliseconds' }), Queue: 'default', JobType: 'Nope', Failed: 1, Latency: [640] },
      { _aws: aws({ Failed: 'Count' }), Queue: 'default', JobType: 'Invalid', Failed: 1 },
      { _aws: aws({ RateLimited: 'Count', Duration: 'Milliseconds', Latency: 'Milliseconds' }), Queue: 'default', JobType: 'Limited', RateLimited: 1, Duration: [0], Latency: [540] },
      { _aws: aws({ Processed: 'Count', Duration: 'Milliseconds', Latency: 'Milliseconds' }), Queue: 'critical', JobType: 'Greet', Processed: 1, Duration: [250], Latency: [550] },
    ].sort(byQueueAndType).map(withoutOrder));
  });

  it('counts a retry the worker could not send as a failure only, its record handed back: the retry counts when it is sent', async () => {
    const log = memoryLog();
    const samples: StatsSample[] = [];
    const stats: StatsRecorder = { ...NO_STATS, record: (sample) => { samples.push(sample); } };
    const sqs = new FakeSqs();
    sqs.failQueues.set(QUEUE_URLS.default, Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' }));
    const handler = createWorker({ jobs: { Boom: async () => { throw new Error('boom'); } }, env: TEST_ENV, clients: { sqs }, stats, now: () => new Date(NOW_MS), log: log.sink });
    const record = sqsRecord({ body: { jobtype: 'Boom', enqueued_at: ago(100) } });

    const result = await handler(sqsEvent([record]), lambdaContext());

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(emfLines(log.lines).map(withoutOrder)).toEqual([
      { _aws: aws({ Processed: 'Count', Failed: 'Count', Duration: 'Milliseconds', Latency: 'Milliseconds' }), Queue: 'default', JobType: 'Boom', Processed: 1, Failed: 1, Duration: [0], Latency: [100] },
    ].map(withoutOrder));
    expect(samples.map((sample) => [sample.processed, sample.failed])).toEqual([[0, 0]]);
  });

  it('prints nothing with HOPPER_METRICS=off, and uses the namespace of HOPPER_METRICS_NAMESPACE', async () => {
    for (const [env, expected] of [[{ HOPPER_METRICS: 'off' }, 0], [{ HOPPER_METRICS_NAMESPACE: 'Shop/Jobs' }, 1]] as const) {
      const log = memoryLog();
      const handler = createWorker({ jobs: { Greet: async () => undefined }, env: { ...TEST_ENV, ...env }, clients: { sqs: new FakeSqs() }, now: () => new Date(NOW_MS), log: log.sink });
      await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(5) } })]), lambdaContext());
      const lines = emfLines(log.lines);
      expect(lines).toHaveLength(expected);
      if (expected === 1) expect(lines[0]).toEqual({ _aws: aws({ Processed: 'Count', Duration: 'Milliseconds', Latency: 'Milliseconds' }, 'Shop/Jobs'), Queue: 'default', JobType: 'Greet', Processed: 1, Duration: [0], Latency: [5] });
    }
  });
});

describe('latency counts from when the job became due', () => {
  it('does not count a retry\'s backoff, a schedule or a limiter\'s delay as waiting, in the metric and the queue\'s reported lag', async () => {
    const log = memoryLog();
    const samples: StatsSample[] = [];
    const stats: StatsRecorder = { ...NO_STATS, record: (sample) => { samples.push(sample); } };
    const handler = createWorker({ jobs: { Greet: async () => undefined }, env: TEST_ENV, clients: { sqs: new FakeSqs() }, stats, now: () => new Date(NOW_MS), log: log.sink, concurrency: 1 });
    const failure = { retry_count: 0, failed_at: ago(40_000), message: 'boom', errtype: 'Error' };

    await handler(sqsEvent([
      // Re-enqueued by the retry function 30 s ago with a 20-second backoff: due 10 s ago.
      sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(30_000), failure: { ...failure, next_at: ago(10_000) } } }),
      // Moved by the scheduler a minute early, due (at) 2 s ago.
      sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(60_000), at: ago(2_000) } }),
      // Sent back by a limiter 40 s ago, due (at) 3 s ago.
      sqsRecord({ body: { jobtype: 'Greet', enqueued_at: ago(40_000), at: ago(3_000), custom: { limited_count: 1 } } }),
    ]), lambdaContext());

    expect(emfLines(log.lines).map((line) => line.Latency)).toEqual([[10_000, 2_000, 3_000]]);
    // The last job taken up is what GET /v1/queues and the maxLatency check read.
    expect(samples.map((sample) => sample.lag)).toEqual([{ ms: 3_000, atMs: NOW_MS }]);
  });

  it('sends a rate-limited job back entering its queue now and due after its delay', async () => {
    const sqs = new FakeSqs();
    const handler = createWorker({ jobs: { Call: async () => { throw new RateLimitedError('api', 5); } }, env: TEST_ENV, clients: { sqs }, now: () => new Date(NOW_MS), log: () => undefined });

    await handler(sqsEvent([sqsRecord({ body: { jobtype: 'Call', jid: 'c-1', enqueued_at: ago(60_000) } })]), lambdaContext());

    const [sent] = sqs.sentTo(QUEUE_URLS.default);
    const delay = sent?.delaySeconds ?? 0;
    expect(sent?.body).toMatchObject({ jid: 'c-1', enqueued_at: ago(0), at: new Date(NOW_MS + delay * 1000).toISOString(), custom: { limited_count: 1 } });
  });
});

describe('createMetrics', () => {
  it('gives the first maxJobTypes jobtypes of an instance their own series and the rest "Other", across invocations', () => {
    const lines: string[] = [];
    const metrics = createMetrics({ maxJobTypes: 2, sink: (line) => lines.push(line) });
    const first = metrics.batch();
    first.count('default', 'A', 'Processed');
    first.count('default', 'B', 'Processed');
    first.flush(NOW_MS);
    const second = metrics.batch();
    second.count('default', 'C', 'Processed', 3);
    second.count('default', 'D', 'Processed');
    second.count('default', 'A', 'Failed');
    second.flush(NOW_MS);

    expect(lines.map(jsonObject).map(({ JobType, Processed, Failed }) => ({ JobType, Processed, Failed }))).toEqual([
      { JobType: 'A', Processed: 1, Failed: undefined },
      { JobType: 'B', Processed: 1, Failed: undefined },
      { JobType: 'Other', Processed: 4, Failed: undefined },
      { JobType: 'A', Processed: undefined, Failed: 1 },
    ]);
  });

  it('writes jobtypes that are not printable ASCII as escapes, so CloudWatch keeps the line and each jobtype\'s counts', () => {
    const lines: string[] = [];
    const batch = createMetrics({ sink: (line) => lines.push(line) }).batch();
    const long = 'Ü'.repeat(200);
    for (const jobtype of ['Rechnung::Größe', 'Rechnung::Größe', 'Send\\Mail', 'Job\tTab', '😀', '   ', long, 'Plain']) batch.count('default', jobtype, 'Processed');
    batch.flush(NOW_MS);

    const parsed = lines.map(jsonObject);
    expect(parsed.map(({ JobType, Processed }) => [JobType, Processed])).toEqual([
      ['Rechnung::Gr\\u00f6\\u00dfe', 2],
      ['Send\\\\Mail', 1],
      ['Job\\u0009Tab', 1],
      ['\\ud83d\\ude00', 1],
      // Blank, or longer than 1,024 characters once escaped (200 × 6).
      ['Other', 2],
      ['Plain', 1],
    ]);
    for (const line of parsed) expect(String(line.JobType)).toMatch(/^[\x20-\x7e]{1,1024}$/);
  });

  it.each([
    ['SendEmail', 'SendEmail'],
    ['Rechnung::Größe', 'Rechnung::Gr\\u00f6\\u00dfe'],
    ['a\\u00f6', 'a\\\\u00f6'],
    ['', 'Other'],
    ['x'.repeat(1024), 'x'.repeat(1024)],
    ['x'.repeat(1025), 'Other'],
  ])('dimensionValue(%j) is %j', (text, value) => {
    expect(dimensionValue(text)).toBe(value);
  });

  it('splits more than 100 observations of one metric over several lines, counts in the first only', () => {
    const lines: string[] = [];
    const batch = createMetrics({ sink: (line) => lines.push(line) }).batch();
    for (let ms = 1; ms <= 150; ms += 1) batch.observe('default', 'A', 'Duration', ms);
    batch.count('default', 'A', 'Processed', 150);
    batch.flush(NOW_MS);

    const parsed = lines.map(jsonObject);
    const durations = parsed.map((line) => (Array.isArray(line.Duration) ? line.Duration : []));
    expect(parsed.map((line, index) => [line.Processed, durations[index]?.length, durations[index]?.[0], field(line._aws, 'Timestamp')])).toEqual([[150, 100, 1, NOW_MS], [undefined, 50, 101, NOW_MS]]);
  });

  it('reads its settings from the environment', () => {
    const lines: string[] = [];
    const batch = metricsOf(HopperConfig.of({ HOPPER_METRICS_NAMESPACE: 'X', HOPPER_METRICS_MAX_JOBTYPES: '1' }), (line) => lines.push(line)).batch();
    batch.count('q', 'A', 'Dead');
    batch.count('q', 'B', 'Dead');
    batch.flush(NOW_MS);
    expect(lines.map(jsonObject).map((line) => [records(line._aws, 'CloudWatchMetrics')[0]?.Namespace, line.JobType])).toEqual([['X', 'A'], ['X', 'Other']]);
  });
});

describe('retry function metrics (EMF)', () => {
  it('counts retried, dead and crashed jobs per queue and jobtype in one line each', async () => {
    const log = memoryLog();
    const dynamo = new FakeDynamo();
    const handler = createRetryHandler({ env: TEST_ENV, sqs: new FakeSqs(), dynamo, stateTable: new StateTable(dynamo, TEST_ENV.HOPPER_STATE_TABLE), now: () => new Date(NOW_MS), log: log.sink });
    const job = (jid: string, fields: Record<string, unknown> = {}) => normalizeJob({ jid, jobtype: 'SendEmail', args: [], enqueued_at: ago(60_000), ...fields }, { now: new Date(NOW_MS) });
    // Job e's worker began a run of it (the run that crashed).
    await new StartMarks({ tableName: TEST_ENV.HOPPER_STATE_TABLE, client: dynamo }).mark(job('e'));
    const envelope = (body: ReturnType<typeof job>, unrecoverable = false) => sqsRecord({ queueUrl: RETRIES_URL, body: failureEnvelope({ queue: body.queue, job: body, error: new Error('smtp'), now: new Date(NOW_MS), unrecoverable }) });

    await handler(sqsEvent([
      envelope(job('a')),
      envelope(job('b')),
      envelope(job('c'), true),
      envelope(job('d', { jobtype: 'Report', queue: 'critical', retry: 0 })),
      // A job redriven from its queue: its worker never answered.
      sqsRecord({ queueUrl: RETRIES_URL, body: job('e'), attributes: { DeadLetterQueueSourceArn: `arn:aws:sqs:us-east-1:123456789012:${QUEUE_URLS.default.split('/').at(-1) ?? ''}`, ApproximateReceiveCount: '3' } }),
    ]));

    expect(emfLines(log.lines).sort(byQueueAndType).map(withoutOrder)).toEqual([
      { _aws: aws({ Retried: 'Count', Dead: 'Count', Crashed: 'Count' }), Queue: 'default', JobType: 'SendEmail', Retried: 3, Dead: 1, Crashed: 1 },
      { _aws: aws({ Dead: 'Count' }), Queue: 'critical', JobType: 'Report', Dead: 1 },
    ].sort(byQueueAndType).map(withoutOrder));
  });
});

/** Lines compared regardless of the order of series and of metric declarations within a line. */
function byQueueAndType(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return `${String(a.Queue)}/${String(a.JobType)}/${Object.keys(a).length}`.localeCompare(`${String(b.Queue)}/${String(b.JobType)}/${Object.keys(b).length}`);
}

function withoutOrder(line: Record<string, unknown>): Record<string, unknown> {
  const [directive] = records(line._aws, 'CloudWatchMetrics');
  if (directive === undefined) return line;
  const metrics = records(directive, 'Metrics').sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
  return { ...line, _aws: { ...(typeof line._aws === 'object' ? line._aws : {}), CloudWatchMetrics: [{ ...directive, Metrics: metrics }] } };
}
