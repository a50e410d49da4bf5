/**
 * Waiting for a tracked job's result (`custom.result: true`), for `Client.result` and
 * `ApiClient.result`: read the job's state until it succeeded or the wait is over.
 */
import { JobResultError } from '../errors/enqueue.js';
import { parseDuration } from './typed-input.js';

/** How long `result` waits. */
export interface ResultOptions {
  /** How long to wait for the job to succeed: seconds, or '30s', '5m'… @default 0 (one read) */
  readonly wait?: number | string;
  /** How often to read while waiting. @default 1 (second) */
  readonly pollEvery?: number | string;
}

/** What `result` needs of a job's state. */
export interface ResultState {
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly result: unknown;
  readonly resultError: string | undefined;
  readonly error: { readonly errtype: string; readonly message: string } | undefined;
}

/**
 * The result of job `jid`, reading its state with `read` until it succeeded or `options.wait` is over.
 * @throws JobResultError saying why there is no result (unknown, running, failed, unkept)
 */
export async function awaitResult(jid: string, read: () => Promise<ResultState | undefined>, options: ResultOptions, clock: { now(): number; sleep(ms: number): Promise<void> }): Promise<unknown> {
  const deadline = clock.now() + parseDuration(options.wait ?? 0, 'wait') * 1000;
  const pollMs = Math.max(1, parseDuration(options.pollEvery ?? 1, 'pollEvery') * 1000);
  for (;;) {
    const state = await read();
    if (state?.state === 'succeeded') {
      if (state.resultError !== undefined) throw new JobResultError(jid, 'unkept', `it succeeded, but ${state.resultError}`);
      return state.result;
    }
    const left = deadline - clock.now();
    if (left <= 0) {
      if (state === undefined) throw new JobResultError(jid, 'unknown', 'no state: it is not tracked (custom.result), has not started, or its state expired');
      if (state.state === 'failed') {
        throw new JobResultError(jid, 'failed', `its latest attempt failed (${state.error?.errtype ?? 'Error'}: ${state.error?.message ?? ''}); a retry may still come`, state.error);
      }
      throw new JobResultError(jid, 'running', 'it was still running when the wait ended');
    }
    await clock.sleep(Math.min(pollMs, left));
  }
}
