/**
 * What the API knows about its queues, cached briefly per instance so that checking a backlog
 * limit does not cost a request per enqueue: message counts (SQS GetQueueAttributes), whether the
 * queue's worker mapping is enabled (Lambda GetEventSourceMapping), and the workers' reports
 * (drain rate, wait) from the stats rollups.
 */
import type { QueueReport } from '../stats/read.js';
import { API_DEFAULTS } from './config.js';

/** Seconds a caller is told to wait before changing a mapping that is mid-change again. */
export const MAPPING_BUSY_RETRY_AFTER_SECONDS = 5;

export { MappingBusyError } from '../errors/api.js';


/** Message counts of a queue, as SQS approximates them. */
export interface QueueCounts {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

/** The AWS calls behind {@link QueueState}. */
export interface QueueBackend {
  counts(queueUrl: string): Promise<QueueCounts>;
  /** The mapping's state (`Enabled`, `Disabled`, `Enabling`, `Disabling`, …). */
  mappingState(uuid: string): Promise<string>;
  /**
   * Enables or disables the mapping; returns its new state.
   * @throws MappingBusyError when the mapping is mid-change.
   */
  setMappingEnabled(uuid: string, enabled: boolean): Promise<string>;
  /** Every queue's workers' report. */
  reports(nowMs: number): Promise<ReadonlyMap<string, QueueReport>>;
  /** The mapping's ScalingConfig.MaximumConcurrency (a tier's, as the governor set it). @default - not read */
  mappingConcurrency?(uuid: string): Promise<number | undefined>;
}

interface Cached<T> {
  readonly value: T;
  readonly atMs: number;
}

/** A queue's counts seen at two moments, for a drain rate of our own when workers have not reported. */
interface Sample {
  readonly visible: number;
  readonly atMs: number;
}

/**
 * Cached queue facts for one API instance. Besides the cached counts it keeps what the instance
 * itself accepted for each queue since its last reading, so that a backlog check counts the jobs
 * the reading cannot know of yet (an instance serves one request at a time, so its own count is
 * exact; other instances' jobs appear at the next reading).
 */
export class QueueState {
  private readonly counts = new Map<string, Cached<QueueCounts>>();
  /** Queue URL → jobs accepted by this instance, with when, not yet covered by a reading. */
  private readonly accepted = new Map<string, { readonly atMs: number; readonly jobs: number }[]>();
  private readonly previous = new Map<string, Sample>();
  private readonly mappings = new Map<string, Cached<string>>();
  private reports: Cached<ReadonlyMap<string, QueueReport>> | undefined;

  constructor(
    private readonly backend: QueueBackend,
    private readonly now: () => number,
    private readonly ttlMs: number = API_DEFAULTS.queueCacheMs,
  ) {}

  /** The counts of the queue at `url`, at most `ttlMs` old. */
  async countsOf(url: string): Promise<QueueCounts> {
    const nowMs = this.now();
    const cached = this.counts.get(url);
    if (cached !== undefined && nowMs - cached.atMs < this.ttlMs) return cached.value;
    const value = await this.backend.counts(url);
    if (cached !== undefined) this.previous.set(url, { visible: cached.value.visible, atMs: cached.atMs });
    this.counts.set(url, { value, atMs: nowMs });
    // Jobs accepted before the reading was asked for are in it; those accepted meanwhile may not be.
    this.accepted.set(url, (this.accepted.get(url) ?? []).filter((entry) => entry.atMs >= nowMs));
    return value;
  }

  /** Jobs this instance accepted for the queue at `url` since its counts were last read. */
  acceptedSince(url: string): number {
    return (this.accepted.get(url) ?? []).reduce((sum, entry) => sum + entry.jobs, 0);
  }

  /** Records that this instance put `jobs` jobs on the queue at `url`. */
  noteAccepted(url: string, jobs: number): void {
    if (jobs <= 0) return;
    this.accepted.set(url, [...(this.accepted.get(url) ?? []), { atMs: this.now(), jobs }]);
  }

  /** The workers' report on `queue`, with a drain rate measured here when they have none. */
  async reportOf(queue: string, url: string): Promise<QueueReport> {
    const nowMs = this.now();
    if (this.reports === undefined || nowMs - this.reports.atMs >= this.ttlMs) {
      this.reports = { value: await this.backend.reports(nowMs), atMs: nowMs };
    }
    const report = this.reports.value.get(queue) ?? { drainPerSecond: undefined, lag: undefined };
    if (report.drainPerSecond !== undefined) return report;
    // A falling count is a lower bound of the drain rate (jobs keep arriving meanwhile).
    const before = this.previous.get(url);
    const after = this.counts.get(url);
    if (before === undefined || after === undefined || after.atMs <= before.atMs || after.value.visible >= before.visible) return report;
    return { ...report, drainPerSecond: (before.visible - after.value.visible) / ((after.atMs - before.atMs) / 1000) };
  }

  /** The state of mapping `uuid`, at most `ttlMs` old. */
  async mappingState(uuid: string): Promise<string> {
    const nowMs = this.now();
    const cached = this.mappings.get(uuid);
    if (cached !== undefined && nowMs - cached.atMs < this.ttlMs) return cached.value;
    const value = await this.backend.mappingState(uuid);
    this.mappings.set(uuid, { value, atMs: nowMs });
    return value;
  }

  /** The MaximumConcurrency of mapping `uuid` now; undefined when unset or not readable. */
  async mappingConcurrency(uuid: string): Promise<number | undefined> {
    return this.backend.mappingConcurrency?.(uuid);
  }

  /** Enables or disables mapping `uuid` and remembers its new state. */
  async setMappingEnabled(uuid: string, enabled: boolean): Promise<string> {
    const state = await this.backend.setMappingEnabled(uuid, enabled);
    this.mappings.set(uuid, { value: state, atMs: this.now() });
    return state;
  }
}

/** Whether a mapping state means the queue is paused (or being paused). */
export function isPaused(state: string): boolean {
  return state === 'Disabled' || state === 'Disabling';
}
