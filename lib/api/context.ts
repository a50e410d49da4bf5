/**
 * What the API's routes work with. Every part is an interface, so unit tests pass fakes and the
 * function passes the AWS-backed implementations (aws.ts).
 */
import type { ScheduledJobs } from '../admin/scheduled.js';
import type { BatchStatus } from '../batch/status.js';
import type { FlowView } from '../flow/status.js';
import type { RecentBatch, RecentBatchesOptions } from '../batch/recent.js';
import type { BatchMember, BatchMembersOptions } from '../batch/members.js';
import type { JobStatus } from '../storage/job-states.js';
import type { IterationState } from '../storage/iterations.js';
import type { Client } from '../client/client.js';
import type { ItemKey, SortedSetName } from '../storage/keys.js';
import type { TenantOverrideStore } from '../limiters/tenant-overrides.js';
import type { LimiterStore } from '../limiters/store.js';
import type { Metrics } from '../observability/emf.js';
import type { RedriveResult } from '../admin/redrive.js';
import type { StatsTable } from '../stats/read.js';
import type { CronTickStore } from '../storage/cron-store.js';
import type { SetEntry } from '../storage/set-items.js';
import type { ReadSetOptions, SetPage } from '../storage/state-table.js';
import type { Logger } from '../observability/logger.js';
import type { ApiConfig } from './config.js';
import type { QueueState } from './queue-state.js';

/** The sorted sets as the admin routes use them. */
export interface SetStore {
  readSetRange(set: SortedSetName, options?: ReadSetOptions): Promise<SetPage>;
  /** The entry at `key`, or undefined when there is none. */
  getSetEntry(set: SortedSetName, key: ItemKey): Promise<SetEntry | undefined>;
  /** Deletes the entry if it is still there; undefined when it was gone. */
  deleteSetEntry(set: SortedSetName, key: ItemKey): Promise<SetEntry | undefined>;
  /**
   * The entries of job `jid` in `set`: its shard read with a filter, at most `maxPages` pages of
   * 1 MB; `complete` is false when the shard was not read to its end.
   */
  findJob(set: SortedSetName, jid: string, maxPages: number): Promise<{ entries: SetEntry[]; complete: boolean }>;
  /**
   * How many entries `set` holds, reading at most `maxPagesPerShard` pages of 1 MB per shard;
   * `capped` when a shard had more (the count is then a lower bound).
   */
  countSet(set: SortedSetName, maxPagesPerShard: number): Promise<{ count: number; capped: boolean }>;
}

/** The limits table, read by partition. */
export interface LimitsReader {
  /** Every item of partition `pk` (one limiter name's types, or one quota). */
  queryPartition(pk: string): Promise<readonly Readonly<Record<string, unknown>>[]>;
}

/** Batches, read for their status. */
export interface BatchReader {
  /** The status of batch `bid`, or undefined when there is none (or it expired). */
  getBatch(bid: string): Promise<BatchStatus | undefined>;
  /** The statuses of those of `bids` that exist, by bid, in one read (a page of the list). */
  getBatches(bids: readonly string[]): Promise<ReadonlyMap<string, BatchStatus>>;
  /** A page of recent batches, newest first (lib/batch/recent.ts). */
  listRecent(options: Omit<RecentBatchesOptions, 'nowMs' | 'retentionDays'>): Promise<{ batches: RecentBatch[]; cursor?: string }>;
  /** A page of batch `bid`'s jobs in the given statuses, in jid order (lib/batch/members.ts). */
  listJobs(bid: string, options: BatchMembersOptions): Promise<{ jobs: BatchMember[]; cursor?: string }>;
}

/** Flows, read and retried. */
export interface FlowAccess {
  /** Flow `id`, or undefined when there is none (or it expired). */
  get(id: string): Promise<FlowView | undefined>;
  /** Retries flow `id` from its failed steps. @throws FlowNotFoundError, FlowNotRetryableError */
  retry(id: string): Promise<FlowView>;
}

/** The retries queue's dead-letter queue, moved back to the retries queue by `POST /v1/redrive/retries`. */
export interface DeadLetters {
  /** Moves up to `limit` messages back (lib/admin/redrive.ts). */
  redrive(limit: number): Promise<RedriveResult>;
}

/** Everything a route may use. */
export interface ApiContext {
  readonly config: ApiConfig;
  /** Epoch ms. */
  readonly now: () => number;
  /** Sends validated jobs (SQS, or the scheduled set beyond 15 minutes). */
  readonly client: Pick<Client, 'enqueueMany'>;
  readonly queues: QueueState;
  readonly sets: SetStore;
  /**
   * Run now and delete on the scheduled and retry sets, claiming the entry first as the scheduler
   * does (lib/admin/scheduled.ts), so neither races a sweep.
   */
  readonly waiting: Pick<ScheduledJobs, 'runNow' | 'delete'>;
  readonly batches: BatchReader;
  /** Flows (lib/flow): read, and retried from their failed steps. */
  readonly flows: FlowAccess;
  /** Tracked jobs' states (lib/storage/job-states.ts). */
  readonly jobStates: { get(jid: string): Promise<JobStatus | undefined> };
  /** Iterating jobs' cursors (lib/storage/iterations.ts). */
  readonly iterations: { get(jid: string): Promise<IterationState | undefined> };
  /** The crons' run records (last run), written by the cron function. */
  readonly cronRuns: Pick<CronTickStore, 'getRun'>;
  readonly stats: StatsTable;
  readonly quotaStore: LimiterStore;
  readonly limits: LimitsReader;
  /** Tenants' cap overrides in the limits table (lib/limiters/tenant-overrides.ts). */
  readonly tenantOverrides: TenantOverrideStore;
  /** Undefined when the function was not told the queues' URLs (HOPPER_RETRIES_DLQ_URL). */
  readonly deadLetters?: DeadLetters;
  readonly logger: Logger;
  /** CloudWatch metrics (EMF): jobs enqueued and turned away. @default - none printed */
  readonly metrics?: Metrics;
}
