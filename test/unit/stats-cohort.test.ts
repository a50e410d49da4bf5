import type { AttributeValue, UpdateItemCommand, UpdateItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { describe, expect, it } from 'vitest';
import { normalizeJob } from '../../lib/job/model.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { CohortAccumulator, LATENCY_BUCKETS, bucketOf, cohortOf, cohortUpdate, cohortView, percentile } from '../../lib/stats/cohort.js';
import { createStatsRecorder, statsRecorderOf, NO_STATS } from '../../lib/stats/recorder.js';
import { STATS_ROLLUP } from '../../lib/stats/rollup.js';
import { StateTable } from '../../lib/storage/state-table.js';
import { createWorker } from '../../lib/worker/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { FakeDynamo } from './storage-fake-dynamo.js';
import { FakeSqs, QUEUE_URLS, RETRIES_URL, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const MINUTE = Date.UTC(2026, 10, 23, 12, 5);

/**
 * A table that applies the updates the stats recorder sends (SET, if_not_exists, ADD, a `<`
 * condition) and counts them.
 */
class CountingTable {
  readonly items = new Map<string, Record<string, AttributeValue>>();
  writes = 0;

  async send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput> {
    const input = command.input;
    const names = input.ExpressionAttributeNames ?? {};
    const values = input.ExpressionAttributeValues ?? {};
    const id = `${input.Key?.pk?.S ?? ''}|${input.Key?.sk?.S ?? ''}`;
    const item = this.items.get(id) ?? { ...input.Key };
    const attr = (token: string): string => names[token] ?? token;
    const num = (value: AttributeValue | undefined): number => Number(value?.N ?? '0');
    if (input.ConditionExpression !== undefined) {
      const [left = '', right = ''] = input.ConditionExpression.split(' < ');
      if (!(num(item[attr(left)]) < num(values[right]))) throw Object.assign(new Error('condition'), { name: 'ConditionalCheckFailedException' });
    }
    this.writes += 1;
    const [setPart = '', addPart = ''] = (input.UpdateExpression ?? '').replace(/^SET /, '').split(' ADD ');
    const updated: Record<string, AttributeValue> = {};
    for (const assignment of setPart.split(/, (?![^(]*\))/).filter(Boolean)) {
      const [target = '', expression = ''] = assignment.split(' = ');
      const fallback = /^if_not_exists\((#\w+), (:\w+)\)$/.exec(expression);
      const value = fallback === null ? values[expression] : item[attr(fallback[1] ?? '')] ?? values[fallback[2] ?? ''];
      if (value !== undefined) updated[attr(target)] = item[attr(target)] = value;
    }
    for (const addition of addPart.split(', ').filter(Boolean)) {
      const [target = '', value = ''] = addition.split(' ');
      updated[attr(target)] = item[attr(target)] = { N: String(num(item[attr(target)]) + num(values[value])) };
    }
    this.items.set(id, item);
    return { $metadata: {}, ...(input.ReturnValues === 'UPDATED_NEW' ? { Attributes: updated } : {}) };
  }

  cohort(minuteMs: number): Record<string, AttributeValue> | undefined {
    return this.items.get(`cohorts|${String(minuteMs).padStart(13, '0')}`);
  }
}

describe('latency buckets', () => {
  it('grow by √2 from 10 ms, with one bucket beyond the last bound', () => {
    expect(LATENCY_BUCKETS.slice(0, 12)).toEqual([10, 14, 20, 28, 40, 57, 80, 113, 160, 226, 320, 453]);
    expect(LATENCY_BUCKETS).toHaveLength(48);
    expect(LATENCY_BUCKETS.at(-1)).toBe(118_632_832);
    expect([0, 10, 11, 14, 15, 320, 321, 118_632_832, 118_632_833].map(bucketOf)).toEqual([0, 0, 1, 1, 2, 10, 11, 47, 48]);
  });

  it('puts every latency in the first bucket whose bound holds it, at and around every bound', () => {
    const firstHolding = (ms: number) => {
      const index = LATENCY_BUCKETS.findIndex((bound) => ms <= bound);
      return index === -1 ? LATENCY_BUCKETS.length : index;
    };
    const around = [-1, Number.NaN, ...LATENCY_BUCKETS.flatMap((bound) => [bound - 1, bound - 0.5, bound, bound + 0.5, bound + 1])];
    expect(around.map(bucketOf)).toEqual(around.map(firstHolding));
  });

  it('reads percentiles by interpolating within the rank\'s bucket, capped by the exact maximum', () => {
    // Bucket 10 is (226, 320], bucket 12 is (453, 640].
    const buckets = new Map([[10, 4], [12, 1]]);
    expect(percentile(buckets, 0.5, 600)).toBe(226 + Math.round((94 * 3) / 4));
    expect(percentile(buckets, 0.9, 600)).toBe(600);
    expect(percentile(buckets, 0.8, 600)).toBe(320);
    expect(percentile(new Map(), 0.5, 0)).toBeUndefined();
  });
});

describe('cohorts', () => {
  it('belong to the minute of the first enqueue, which a retried job carries in its failure', () => {
    const now = new Date(MINUTE);
    expect(cohortOf(normalizeJob({ jobtype: 'A', enqueued_at: '2026-11-23T12:05:59.999Z' }, { now }))).toBe(MINUTE);
    expect(cohortOf(normalizeJob({ jobtype: 'A', enqueued_at: '2026-11-23T12:09:00.000Z', failure: { retry_count: 0, failed_at: '2026-11-23T12:08:00.000Z', first_enqueued_at: '2026-11-23T12:05:10.000Z' } }, { now }))).toBe(MINUTE);
    expect(cohortOf(normalizeJob({ jobtype: 'A' }, { now }))).toBeUndefined();
  });

  it('are written as one update: counts and buckets added, TTL and first maximum set', () => {
    const cohorts = new CohortAccumulator();
    cohorts.add(MINUTE, { kind: 'started', latencyMs: 250 });
    cohorts.add(MINUTE, { kind: 'started', latencyMs: 300 });
    cohorts.add(MINUTE, { kind: 'started', latencyMs: 5 });
    cohorts.add(MINUTE, { kind: 'done' });
    cohorts.add(MINUTE, { kind: 'failed' });
    const [cohort] = cohorts.takeAll();
    if (cohort === undefined) throw new Error('expected a cohort');

    expect(cohortUpdate(cohort)).toEqual({
      Key: { pk: { S: 'cohorts' }, sk: { S: String(MINUTE) } },
      UpdateExpression: 'SET #ttl = :ttl, #mx = if_not_exists(#mx, :mx) ADD #s :s, #d :d, #f :f, #h0 :h0, #h10 :h10',
      ExpressionAttributeNames: { '#ttl': 'ttl', '#s': 's', '#d': 'd', '#f': 'f', '#h0': 'h0', '#h10': 'h10', '#mx': 'mx' },
      ExpressionAttributeValues: {
        ':ttl': { N: String(MINUTE / 1000 + 2 * 86_400) },
        ':s': { N: '3' }, ':d': { N: '1' }, ':f': { N: '1' }, ':h0': { N: '1' }, ':h10': { N: '2' }, ':mx': { N: '300' },
      },
    });
  });

  it('are shown with pending = started − done − dead and percentiles from the histogram', () => {
    const item = { s: { N: '120' }, d: { N: '110' }, x: { N: '2' }, f: { N: '12' }, h10: { N: '60' }, h12: { N: '54' }, h16: { N: '6' }, mx: { N: '2400' } };
    // p50: rank 60, the last of bucket 10 → 320; p90: rank 108 in bucket 12 (453, 640] → 453 + 187·48/54;
    // p99: rank 119 in bucket 16 (1810, 2560] → 1810 + 750·5/6 = 2435, capped by the maximum.
    expect(cohortView(MINUTE, item)).toEqual({
      minute: '2026-11-23T12:05:00.000Z', started: 120, done: 110, dead: 2, pending: 8, failed: 12,
      latency_ms: { p50: 320, p90: 619, p99: 2400, max: 2400 },
    });
    expect(cohortView(MINUTE, { x: { N: '1' }, f: { N: '3' } })).toEqual({
      minute: '2026-11-23T12:05:00.000Z', started: 0, done: 0, dead: 1, pending: 0, failed: 3,
      latency_ms: { p50: null, p90: null, p99: null, max: null },
    });
  });
});

describe('cohorts recorded by the worker and the retry function', () => {
  it('count first starts with their latency, successes, failed attempts and deaths in the job\'s cohort', async () => {
    const table = new CountingTable();
    const stats = createStatsRecorder({ tableName: 'state', client: table });
    let nowMs = MINUTE + 90_000;
    const now = () => new Date(nowMs);
    const sqs = new FakeSqs();
    const worker = createWorker({ jobs: { Ok: async () => undefined, Boom: async () => { throw new Error('boom'); } }, env: TEST_ENV, clients: { sqs }, now, log: memoryLog().sink, stats, concurrency: 1 });
    const retry = createRetryHandler({ env: TEST_ENV, sqs: new FakeSqs(), stateTable: new StateTable(new FakeDynamo(), 'state'), now, log: memoryLog().sink, stats });

    // Three jobs of the 12:05 cohort start at 12:06:30; one fails, and the worker retries it
    // itself (due within 15 minutes): back on its queue, in the cohort of its first enqueue.
    await worker(sqsEvent([
      sqsRecord({ body: { jid: 'a', jobtype: 'Ok', enqueued_at: '2026-11-23T12:05:10.000Z' } }),
      sqsRecord({ body: { jid: 'b', jobtype: 'Ok', enqueued_at: '2026-11-23T12:05:50.000Z' } }),
      sqsRecord({ body: { jid: 'c', jobtype: 'Boom', enqueued_at: '2026-11-23T12:05:20.000Z', retry: 1 } }),
    ]), lambdaContext());
    // A new instance writes its first counts at once.
    const firstFlush = table.writes;
    expect(firstFlush).toBeGreaterThan(0);
    const [retried] = sqs.sentTo(QUEUE_URLS.default);
    if (retried === undefined) throw new Error('expected the failed job back on its queue');
    expect(retried.body).toMatchObject({ jid: 'c', enqueued_at: '2026-11-23T12:06:30.000Z', failure: { retry_count: 0, first_enqueued_at: '2026-11-23T12:05:20.000Z' } });
    // The retry fails again, its last: the retry function moves it to the dead set.
    nowMs += 30_000;
    await worker(sqsEvent([sqsRecord({ body: JSON.stringify(retried.body) })]), lambdaContext());
    const [envelope] = sqs.sentTo(RETRIES_URL);
    if (envelope === undefined) throw new Error('expected a failure envelope for the last failure');
    expect(envelope.body).toMatchObject({ hopper: 'failure', job: { jid: 'c', failure: { retry_count: 0 } } });
    await retry(sqsEvent([sqsRecord({ queueUrl: RETRIES_URL, body: JSON.stringify(envelope.body) })]));
    // Whatever is still in memory is written once its oldest count is old enough.
    nowMs += 60_000;
    await stats.flush(nowMs, createLogger({ sink: () => undefined }));

    const item = table.cohort(MINUTE);
    if (item === undefined) throw new Error('expected the 12:05 cohort');
    expect(cohortView(MINUTE, item)).toEqual({
      minute: '2026-11-23T12:05:00.000Z', started: 3, done: 2, dead: 1, pending: 0, failed: 2,
      // Latencies 40 s (bucket 24), 70 s and 80 s (bucket 26, (57926, 81920]): p50 is rank 2,
      // 57926 + 23994·1/2; p90 and p99 are rank 3, the bucket's top, capped by the exact maximum.
      latency_ms: { p50: 69_923, p90: 80_000, p99: 80_000, max: 80_000 },
    });
    expect(table.cohort(MINUTE + 60_000)).toBeUndefined();
  });
});

describe('the cohort maximum', () => {
  it('raises it again on the next flush when the raise failed, without counting anything twice', async () => {
    const table = new CountingTable();
    const quiet = createLogger({ sink: () => undefined });
    const started = (latencyMs: number) => ({ kind: 'started', latencyMs }) as const;
    const first = createStatsRecorder({ tableName: 'state', client: table });
    first.recordCohort(MINUTE, started(10), MINUTE);
    await first.flush(MINUTE, quiet);

    // The second instance's counts land; raising the maximum to its 90 ms fails once.
    const second = createStatsRecorder({ tableName: 'state', client: table });
    const send = table.send.bind(table);
    let failures = 1;
    table.send = async (command) => {
      if (command.input.ConditionExpression !== undefined && failures > 0) {
        failures -= 1;
        throw Object.assign(new Error('the table is busy'), { name: 'InternalServerError' });
      }
      return send(command);
    };
    second.recordCohort(MINUTE, started(90), MINUTE);
    await second.flush(MINUTE, quiet);
    expect(table.cohort(MINUTE)).toMatchObject({ s: { N: '2' }, mx: { N: '10' } });

    await second.flush(MINUTE + STATS_ROLLUP.flushMaxAgeMs, quiet);
    expect(table.cohort(MINUTE)).toMatchObject({ s: { N: '2' }, mx: { N: '90' } });
  });
});

describe('write budget', () => {
  it('keeps plain jobs at ≤ 0.005 DynamoDB writes per job at 200 jobs a second, rollups and cohorts together', async () => {
    const table = new CountingTable();
    const stats = createStatsRecorder({ tableName: 'state', client: table });
    let nowMs = MINUTE;
    const worker = createWorker({ jobs: { Ok: async () => undefined }, env: TEST_ENV, clients: { sqs: new FakeSqs() }, now: () => new Date(nowMs), log: () => undefined, stats });
    const jobs = 12_000;
    // 10 jobs per invocation, 20 invocations a second: a minute, two cohorts, latencies 0–9 s.
    for (let n = 0; n < jobs; n += 10) {
      nowMs += 50;
      await worker(sqsEvent(Array.from({ length: 10 }, (_, i) => sqsRecord({ body: { jobtype: 'Ok', enqueued_at: new Date(nowMs - ((n + i) % 10) * 1000).toISOString() } }))), lambdaContext());
    }

    // An instance this busy flushes for age every ten seconds: a rollup and a cohort or two per 2,000 jobs.
    expect(table.writes / jobs).toBeLessThanOrEqual(0.005);
    expect(table.writes).toBeGreaterThan(0);
    const started = [...table.items.values()].filter((item) => item.pk?.S === 'cohorts').reduce((sum, item) => sum + Number(item.s?.N ?? '0'), 0);
    const processed = [...table.items.values()].filter((item) => item.pk?.S === 'stats').reduce((sum, item) => sum + Number(item.p?.N ?? '0'), 0);
    // What is not written yet is still in the instance: at most the last flushMaxAgeMs of jobs.
    const unwritten = (200 * STATS_ROLLUP.flushMaxAgeMs) / 1000;
    expect(jobs - started).toBeLessThanOrEqual(unwritten);
    expect(jobs - processed).toBeLessThanOrEqual(unwritten);
  });

  it('writes nothing at all when stats are off', () => {
    expect(statsRecorderOf(HopperConfig.of({ ...TEST_ENV }))).toBe(NO_STATS);
  });
});
