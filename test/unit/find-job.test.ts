/**
 * Finding a job by its jid: `GET /v1/find/{jid}` gathers its tracked state, its iteration and its
 * set entries with a one-line summary, says what cannot be looked up when there is nothing, and
 * `hopper job <jid>` prints the same answer for a person.
 */
import { describe, expect, it } from 'vitest';
import { findCommand, runCommand } from '../../cli/commands/index.js';
import { normalizeJob } from '../../lib/job/model.js';
import type { JobStatus } from '../../lib/storage/job-states.js';
import { apiFixture, urlEvent } from './api-fakes.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

function fixture() {
  const api = apiFixture();
  api.setNow(NOW);
  return api;
}

const failedJob = (jid: string) => normalizeJob({ jid, jobtype: 'Import', queue: 'critical', args: [7] }, { now: new Date(NOW - 60_000) });

describe('GET /v1/find/{jid}', () => {
  it('finds a job in the retry set with its tracked state and its iteration, in one summary', async () => {
    const { call, sets, jobStates, iterations } = fixture();
    const job = { ...failedJob('j-1'), failure: { retry_count: 2, failed_at: new Date(NOW - 1000).toISOString(), message: 'row 7 locked', errtype: 'Error' } };
    sets.put('retry', { job, epochMs: NOW + 20 * 60_000, reason: { errtype: 'Error', message: 'row 7 locked' } });
    // Another job whose jid starts with this one's is not it.
    sets.put('retry', { job: failedJob('j-10'), epochMs: NOW + 60_000 });
    const status: JobStatus = {
      jid: 'j-1', jobtype: 'Import', queue: 'critical', state: 'failed', attempt: 3, progress: 35, message: 'row 7 of 20',
      startedAt: new Date(NOW - 5000).toISOString(), updatedAt: new Date(NOW - 1000).toISOString(), finishedAt: new Date(NOW - 1000).toISOString(),
      result: undefined, resultError: undefined, error: { errtype: 'Error', message: 'row 7 locked' },
    };
    jobStates.set('j-1', status);
    iterations.set('j-1', { slices: 4, items: 7, done: false, heldUntilMs: undefined });

    const response = await call(urlEvent({ method: 'GET', path: '/v1/find/j-1' }));

    expect(response.statusCode).toBe(200);
    expect(response.json).toMatchObject({
      jid: 'j-1',
      summary: 'waiting to retry at 2026-11-22T12:20:00.000Z (retry 3): Error: row 7 locked; attempt 3 failed at 2026-11-22T11:59:59.000Z: Error: row 7 locked, 35% (row 7 of 20); iterating: 7 items done in 4 slices, waiting for its next slice',
      tracked: { state: 'failed', attempt: 3, progress: 35 },
      iteration: { slices: 4, items_done: 7, done: false, held_until: null },
      entries: [{ set: 'retries', jid: 'j-1', jobtype: 'Import', queue: 'critical', retry_count: 2, at: '2026-11-22T12:20:00.000Z' }],
      complete: true,
    });
  });

  it('says what cannot be looked up when nothing is found, and refuses a malformed jid', async () => {
    const { call } = fixture();
    const response = await call(urlEvent({ method: 'GET', path: '/v1/find/nowhere' }));
    expect(response.json).toEqual({
      jid: 'nowhere',
      summary: 'not in the retry, scheduled or dead sets, and not tracked: a job waiting or running in SQS cannot be looked up by jid, and an untracked job that succeeded leaves no record',
      tracked: null, iteration: null, entries: [], complete: true,
    });
    const malformed = await call(urlEvent({ method: 'GET', path: `/v1/find/${encodeURIComponent('a b')}` }));
    expect({ status: malformed.statusCode, parameter: (malformed.json as { error: { parameter: string } }).error.parameter }).toEqual({ status: 400, parameter: 'jid' });
  });
});

describe('hopper job <jid>', () => {
  it('prints where the job is, its progress bar and its set entries, from the API\'s answer', async () => {
    const { call, sets, jobStates } = fixture();
    sets.put('dead', { job: failedJob('j-2'), epochMs: NOW - 3_600_000, reason: { errtype: 'TimeoutError', message: 'upstream took too long' } });
    jobStates.set('j-2', {
      jid: 'j-2', jobtype: 'Import', queue: 'critical', state: 'failed', attempt: 26, progress: 50, message: 'half',
      startedAt: new Date(NOW - 3_700_000).toISOString(), updatedAt: new Date(NOW - 3_600_000).toISOString(), finishedAt: new Date(NOW - 3_600_000).toISOString(),
      result: undefined, resultError: undefined, error: { errtype: 'TimeoutError', message: 'upstream took too long' },
    });
    const answer = await call(urlEvent({ method: 'GET', path: '/v1/find/j-2' }));
    const out: string[] = [];
    const paths: string[] = [];
    const command = findCommand('job');
    if (command === undefined) throw new Error('no job command');
    const code = await runCommand(command, ['j-2'], {
      io: { stdout: (text) => out.push(text), stderr: () => undefined, stderrIsTTY: false, env: {} },
      connect: async () => ({ request: async (_method, path) => { paths.push(path); return { status: answer.statusCode, headers: new Headers(), body: answer.json }; } }),
      now: () => NOW,
    });
    expect({ code, paths }).toEqual({ code: 0, paths: ['/v1/find/j-2'] });
    expect(out.join('').split('\n')).toEqual([
      'job          j-2',
      'where        dead since 2026-11-22T11:00:00.000Z: TimeoutError: upstream took too long; attempt 26 failed at 2026-11-22T11:00:00.000Z: TimeoutError: upstream took too long, 50% (half)',
      'jobtype      Import on critical',
      'progress     [###############---------------] 50/100 half',
      `dead         ${new Date(NOW - 3_600_000).getTime()}#j-2  Import on critical  TimeoutError: upstream took too long`,
      '',
    ]);
  });
});
