/**
 * Tracking for jobs that ask for it (`custom.track: true`, or `custom.result: true`): the worker
 * records each attempt's start and end and the handler's `ctx.progress` in the state table
 * (lib/storage/job-states.ts), and keeps the handler's return value when `custom.result` is set.
 * A job that asks for neither writes nothing, and its `ctx.progress` calls cost nothing.
 *
 * Progress is coalesced: at most one write per {@link TRACKING.progressIntervalMs} per job (the
 * latest value in between is written with the next one, or superseded by the end of the attempt);
 * a tracking write that fails is logged and never fails the job.
 */
import { HopperError } from '../errors/base.js';
import type { Job } from '../job/model.js';
import type { Logger } from '../observability/logger.js';
import { JOB_STATE_LIMITS, type JobStates } from '../storage/job-states.js';
import { keptJson } from '../common/kept-json.js';

/** How often progress is written. */
export const TRACKING = {
  /** Least time between two progress writes of one job. */
  progressIntervalMs: 3_000,
} as const;

/** `ctx.progress`: 0 to 100, and an optional message. */
export type ReportProgress = (percent: number, message?: string) => Promise<void>;

/** Whether `job` asked to be tracked. */
export function isTracked(job: Job): boolean {
  return job.custom?.track === true || job.custom?.result === true;
}

/** What a tracker needs. */
export interface TrackerDeps {
  readonly store: () => Promise<JobStates>;
  /** Epoch ms. */
  readonly now: () => number;
  readonly logger: Logger;
}

/** The tracking of one attempt of one job. */
export class JobTracker {
  private readonly job: Job;
  private readonly deps: TrackerDeps;
  private lastWriteMs = Number.NEGATIVE_INFINITY;
  private highest = -1;
  private pending: { percent: number; message: string | undefined } | undefined;

  constructor(job: Job, deps: TrackerDeps) {
    this.job = job;
    this.deps = deps;
  }

  /** The attempt starts. Never throws. */
  async start(): Promise<void> {
    await this.quietly('tracking: start not recorded', async (store) => store.start(this.job));
  }

  /**
   * `ctx.progress(percent, message)`.
   * @throws HopperError when `percent` is not a number from 0 to 100
   */
  readonly progress: ReportProgress = async (percent, message) => {
    if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
      throw new HopperError(`ctx.progress takes a percentage from 0 to 100, but ${String(percent)} was provided`);
    }
    if (percent < this.highest) return;
    this.highest = percent;
    this.pending = { percent, message: message === undefined ? undefined : String(message).slice(0, JOB_STATE_LIMITS.maxMessageLength) };
    const nowMs = this.deps.now();
    if (nowMs - this.lastWriteMs < TRACKING.progressIntervalMs) return;
    this.lastWriteMs = nowMs;
    const { percent: value, message: text } = this.pending;
    this.pending = undefined;
    await this.quietly('tracking: progress not recorded', async (store) => store.progress(this.job.jid, value, text));
  };

  /** The attempt succeeded with `value` (kept when the job has `custom.result`). Never throws. */
  async succeeded(value: unknown): Promise<void> {
    const kept = this.job.custom?.result === true ? keptResult(value) : {};
    await this.quietly('tracking: success not recorded', async (store) => store.finish(this.job.jid, { state: 'succeeded', ...kept }));
  }

  /**
   * This copy found the job already done elsewhere (an iterating job's finished iteration): the
   * state is set back to succeeded, the kept result left as it is. Never throws.
   */
  async alreadySucceeded(): Promise<void> {
    await this.quietly('tracking: success not recorded', async (store) => store.finish(this.job.jid, { state: 'succeeded', keepResult: true }));
  }

  /** The attempt failed. Never throws. */
  async failed(error: { readonly errtype: string; readonly message: string }): Promise<void> {
    const pending = this.pending;
    await this.quietly('tracking: failure not recorded', async (store) => {
      if (pending !== undefined) await store.progress(this.job.jid, pending.percent, pending.message);
      await store.finish(this.job.jid, { state: 'failed', error });
    });
  }

  private async quietly(what: string, write: (store: JobStates) => Promise<void>): Promise<void> {
    try {
      await write(await this.deps.store());
    } catch (error) {
      this.deps.logger.warn(what, { error });
    }
  }
}

/** The result as kept: its JSON, or why it could not be kept. */
function keptResult(value: unknown): { result?: string; resultError?: string } {
  const kept = keptJson(value, JOB_STATE_LIMITS.maxResultBytes, 'the result');
  if (kept.unkept !== undefined) return { resultError: kept.unkept };
  return kept.json === undefined ? {} : { result: kept.json };
}
