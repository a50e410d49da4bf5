/**
 * Tracked jobs (`custom.track`, `custom.result`): the worker's tracker coalesces progress, never
 * lets it go down, keeps a result only when asked and within its limit, and never fails a job for a
 * tracking write; `GET /v1/jobs/{jid}` serves the state; `result` waits for success and says why
 * there is none.
 */
import { describe, expect, it } from 'vitest';
import { awaitResult, type ResultState } from '../../lib/client/result.js';
import { JobResultError } from '../../lib/errors/enqueue.js';
import { normalizeJob, type Job } from '../../lib/job/model.js';
import { createLogger } from '../../lib/observability/logger.js';
import type { AttemptEnd, JobStates, JobStatus } from '../../lib/storage/job-states.js';
import { isTracked, JobTracker, TRACKING } from '../../lib/worker/track.js';
import { apiFixture, urlEvent } from './api-fakes.js';

/** Records what the tracker writes. */
class RecordingStates {
  readonly writes: string[] = [];
  failing = false;
  async start(job: Job) { this.check(); this.writes.push(`start ${job.jid}`); }
  async progress(jid: string, percent: number, message: string | undefined) { this.check(); this.writes.push(`progress ${jid} ${percent} ${message ?? ''}`.trim()); }
  async finish(jid: string, end: AttemptEnd) { this.check(); this.writes.push(`finish ${jid} ${JSON.stringify(end)}`); }
  private check() { if (this.failing) throw new Error('ProvisionedThroughputExceededException'); }
}

const job = (custom: Record<string, unknown> = {}) => normalizeJob({ jid: 'j1', jobtype: 'Report', custom }, { now: new Date(0) });

function tracker(custom: Record<string, unknown>, states = new RecordingStates()) {
  let nowMs = 0;
  const lines: string[] = [];
  const track = new JobTracker(job(custom), { store: async () => states as unknown as JobStates, now: () => nowMs, logger: createLogger({ sink: (line) => lines.push(line) }) });
  return { track, states, lines, advance: (ms: number) => { nowMs += ms; } };
}

describe('the worker\'s tracker', () => {
  it('tracks only jobs that ask', () => {
    expect([isTracked(job()), isTracked(job({ track: true })), isTracked(job({ result: true })), isTracked(job({ track: 'yes' }))]).toEqual([false, true, true, false]);
  });

  it('writes progress at most once per interval, never lower, and the latest with a failure', async () => {
    const { track, states, advance } = tracker({ track: true });
    await track.start();
    await track.progress(10, 'a');
    await track.progress(20, 'b');
    await track.progress(5, 'lower');
    advance(TRACKING.progressIntervalMs);
    await track.progress(30, 'c');
    await track.progress(40, 'd');
    await track.failed({ errtype: 'Error', message: 'boom' });
    expect(states.writes).toEqual([
      'start j1', 'progress j1 10 a', 'progress j1 30 c', 'progress j1 40 d',
      'finish j1 {"state":"failed","error":{"errtype":"Error","message":"boom"}}',
    ]);
  });

  it('keeps the result only with custom.result, and says why one over the limit is not kept', async () => {
    const plain = tracker({ track: true });
    await plain.track.succeeded({ rows: 3 });
    const kept = tracker({ result: true });
    await kept.track.succeeded({ rows: 3 });
    const big = tracker({ result: true });
    await big.track.succeeded('x'.repeat(40_000));
    expect([...plain.states.writes, ...kept.states.writes, ...big.states.writes]).toEqual([
      'finish j1 {"state":"succeeded"}',
      'finish j1 {"state":"succeeded","result":"{\\"rows\\":3}"}',
      'finish j1 {"state":"succeeded","resultError":"the result is 40,002 bytes as JSON, over the 32,768 kept"}',
    ]);
  });

  it('refuses a percentage outside 0–100, and never fails a job for a tracking write', async () => {
    const { track, states, lines } = tracker({ track: true });
    await expect(track.progress(101)).rejects.toThrow('ctx.progress takes a percentage from 0 to 100, but 101 was provided');
    await expect(track.progress(Number.NaN)).rejects.toThrow(/but NaN was provided/);
    states.failing = true;
    await track.start();
    await track.progress(50);
    await track.succeeded(1);
    expect(lines.map((line) => JSON.parse(line).message)).toEqual(['tracking: start not recorded', 'tracking: progress not recorded', 'tracking: success not recorded']);
  });
});

describe('a copy of a job that succeeded elsewhere', () => {
  it('sets the state back to succeeded without removing the kept result', async () => {
    const { track, states } = tracker({ result: true });
    await track.start();
    await track.alreadySucceeded();
    expect(states.writes).toEqual(['start j1', 'finish j1 {"state":"succeeded","keepResult":true}']);
  });
});

describe('GET /v1/jobs/{jid}', () => {
  it('serves a tracked job\'s state in snake_case, 404 for any other, 400 for a malformed jid', async () => {
    const { call, jobStates } = apiFixture();
    const status: JobStatus = {
      jid: 'r1', jobtype: 'Report', queue: 'default', state: 'running', attempt: 2, progress: 40, message: 'row 4 of 10',
      startedAt: '2026-11-22T12:00:00.000Z', updatedAt: '2026-11-22T12:00:03.000Z', finishedAt: undefined, result: undefined, resultError: undefined, error: undefined,
    };
    jobStates.set('r1', status);
    const found = await call(urlEvent({ method: 'GET', path: '/v1/jobs/r1' }));
    expect({ status: found.statusCode, body: found.json }).toEqual({
      status: 200,
      body: {
        jid: 'r1', jobtype: 'Report', queue: 'default', state: 'running', attempt: 2, progress: 40, message: 'row 4 of 10',
        started_at: '2026-11-22T12:00:00.000Z', updated_at: '2026-11-22T12:00:03.000Z', finished_at: null, result: null, result_error: null, error: null,
      },
    });
    expect((await call(urlEvent({ method: 'GET', path: '/v1/jobs/nope' }))).statusCode).toBe(404);
    const malformed = await call(urlEvent({ method: 'GET', path: `/v1/jobs/${encodeURIComponent('a b')}` }));
    expect({ status: malformed.statusCode, parameter: (malformed.json as { error: { parameter: string } }).error.parameter }).toEqual({ status: 400, parameter: 'jid' });
  });
});

describe('waiting for a result', () => {
  function clock() {
    let nowMs = 0;
    return { now: () => nowMs, sleep: async (ms: number) => { nowMs += ms; } };
  }
  const states = (...sequence: (ResultState | undefined)[]) => {
    let index = 0;
    return async () => sequence[Math.min(index++, sequence.length - 1)];
  };
  const running: ResultState = { state: 'running', result: undefined, resultError: undefined, error: undefined };

  it('reads until the job succeeded, and gives its result', async () => {
    const done: ResultState = { state: 'succeeded', result: { rows: 2 }, resultError: undefined, error: undefined };
    expect(await awaitResult('j', states(undefined, running, done), { wait: 10 }, clock())).toEqual({ rows: 2 });
  });

  it('says why there is no result when the wait is over', async () => {
    const failed: ResultState = { state: 'failed', result: undefined, resultError: undefined, error: { errtype: 'Error', message: 'boom' } };
    const unkept: ResultState = { state: 'succeeded', result: undefined, resultError: 'the result is not JSON', error: undefined };
    const problem = (read: () => Promise<ResultState | undefined>) => awaitResult('j', read, { wait: 3 }, clock()).catch((error: unknown) => error);
    expect(await problem(states(undefined))).toMatchObject({ problem: 'unknown' });
    expect(await problem(states(running))).toMatchObject({ problem: 'running' });
    expect(await problem(states(failed))).toMatchObject({ problem: 'failed', error: { errtype: 'Error', message: 'boom' } });
    const error = await problem(states(unkept));
    expect(error).toBeInstanceOf(JobResultError);
    expect((error as Error).message).toBe('no result for job j: it succeeded, but the result is not JSON');
  });
});
