/**
 * The bodies the HTTP API answers with (docs/api.md), as types: the routes build them and
 * `ApiClient`'s methods return them, so the two cannot drift apart without the type check seeing
 * it. snake_case, as on the wire; times are ISO-8601 strings.
 */
import type { Job } from '../job/model.js';
import type { BusyJobView } from '../stats/busy.js';
import type { CohortView } from '../stats/cohort.js';
import type { StatsSummary } from '../stats/read.js';

export type { BusyJobView, CohortView, StatsSummary };

/** `POST /v1/jobs`. */
export interface EnqueuedView {
  readonly jid?: string;
  readonly jids: readonly string[];
}

/** `GET /v1/jobs/{jid}`: a tracked job (`custom.track` or `custom.result`). */
export interface JobStatusView {
  readonly jid: string;
  readonly jobtype: string;
  readonly queue: string;
  /** `failed` after an attempt failed: a retry may follow (the retry and dead sets say). */
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly attempt: number;
  readonly progress: number | null;
  readonly message: string | null;
  readonly started_at: string;
  readonly updated_at: string;
  readonly finished_at: string | null;
  /** The handler's return value when the job has `custom.result`; null when none was kept. */
  readonly result: unknown;
  readonly result_error: string | null;
  readonly error: { readonly errtype: string; readonly message: string } | null;
}

/** One queue of `GET /v1/queues`. */
export interface QueueView {
  readonly name: string;
  /** Messages waiting (SQS's approximate count). */
  readonly size: number;
  readonly in_flight: number;
  readonly delayed: number;
  /** Seconds the most recently started job waited since it became due; null without a report in two hours. */
  readonly latency: number | null;
  readonly latency_observed_at: string | null;
  readonly drain_per_second: number | null;
  /** Null for a queue without a worker. */
  readonly paused: boolean | null;
  readonly mapping_state: string | null;
  /** The queue's maxConcurrency in jobs; null without a cap. */
  readonly max_concurrency: number | null;
  readonly limits?: { readonly max_backlog: number | null; readonly max_latency: number | null };
  /** A queue with priority tiers: each tier, most urgent first (the queue's counts are their sums). */
  readonly tiers?: readonly TierView[];
}

/** One priority tier of a queue in `GET /v1/queues`. */
export interface TierView {
  readonly name: string;
  readonly size: number;
  readonly in_flight: number;
  readonly delayed: number;
  /** Estimated age of its oldest waiting job, seconds (lib/governor/plan.ts); 0 when none waits, null when no worker has reported. */
  readonly age: number | null;
  /** Its targetAge, seconds. */
  readonly target_age: number;
  /** Whether jobs wait longer than its target. */
  readonly late: boolean;
  /** Its mapping's MaximumConcurrency (invocations) as the governor set it; null when unknown. */
  readonly concurrency: number | null;
  /** The same in jobs (× jobs per invocation); null when unknown. */
  readonly max_jobs: number | null;
}

/** `GET /v1/queues`. */
export interface QueuesView {
  readonly queues: readonly QueueView[];
}

/** `POST /v1/queues/{queue}/pause` and `…/resume`. */
export interface QueueToggleView {
  readonly queue: string;
  readonly paused: boolean;
  readonly mapping_state: string;
}

/** The sets the API lists. */
export type SetName = 'retries' | 'scheduled' | 'dead';

/** One entry of a set. */
export interface SetEntryView {
  /** `<13-digit ms>#<jid>`: what the entry's other calls take. */
  readonly id: string;
  readonly jid: string;
  readonly jobtype: string | null;
  readonly queue: string | null;
  /** When it is due (retries, scheduled). */
  readonly at?: string;
  /** When it died (dead). */
  readonly failed_at?: string;
  readonly error: { readonly errtype: string; readonly message: string } | null;
  readonly retry_count: number | null;
  readonly job?: Job;
  /** The body as received, for an entry that does not hold a valid job. */
  readonly raw?: string;
}

/** `GET /v1/find/{jid}`: everywhere Hopper keeps something of a job. */
export interface FindJobView {
  readonly jid: string;
  /** One line: where the job is, or why it was not found. */
  readonly summary: string;
  /** Its state, when it is tracked (`custom.track` or `custom.result`). */
  readonly tracked: JobStatusView | null;
  /** Its iteration, when it iterates (`iterate`). */
  readonly iteration: { readonly slices: number; readonly items_done: number; readonly done: boolean; readonly held_until: string | null } | null;
  /** Its entries in the retry, scheduled and dead sets. */
  readonly entries: readonly (SetEntryView & { readonly set: SetName })[];
  /** False when a set's shard was too large to read to its end in one call: the job may be there unseen. */
  readonly complete: boolean;
}

/** `GET /v1/sets/counts`: how many entries each set holds. */
export interface SetCountsView {
  readonly retries: SetCountView;
  readonly scheduled: SetCountView;
  readonly dead: SetCountView;
  /** When the counts were taken: the API keeps them for 30 seconds. */
  readonly counted_at: string;
}

/** One set's count; `capped` when the set was too large to count whole (`count` is then a lower bound). */
export interface SetCountView {
  readonly count: number;
  readonly capped: boolean;
}

/** `GET /v1/{set}`. */
export interface SetPageView {
  readonly entries: readonly SetEntryView[];
  readonly scanned: number;
  /** Null once the set has been read to its end. */
  readonly cursor: string | null;
}

/** `POST /v1/{set}/{id}/retry`. */
export interface SetEntryRetryView {
  readonly id: string;
  readonly jid: string;
  readonly queue: string;
  readonly enqueued: true;
  readonly removed: true;
}

/** `POST /v1/{set}/retry` and `POST /v1/{set}/delete`: one call's share of the work. */
export interface BulkView {
  readonly scanned: number;
  readonly matched: number;
  /** Retried (a retry call) or deleted (a delete call). */
  readonly retried?: number;
  readonly deleted?: number;
  readonly skipped: number;
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
  readonly cursor: string | null;
  readonly done: boolean;
}

/** `POST /v1/redrive/retries`. */
export interface RedriveView {
  readonly moved: number;
  readonly lingering: number;
  readonly failed: readonly { readonly message_id: string; readonly reason: string }[];
  readonly kept: readonly { readonly message_id: string; readonly reason: string }[];
  readonly done: boolean;
}

/** One callback of a batch. */
export interface BatchCallbackView {
  readonly configured: boolean;
  readonly fired_at: string | null;
  readonly sent_at: string | null;
}

/** `GET /v1/batches/{bid}`. */
export interface BatchView {
  readonly bid: string;
  readonly description: string | null;
  readonly created_at: string;
  readonly total: number;
  readonly pending: number;
  readonly succeeded: number;
  readonly failures: number;
  readonly dead: number;
  readonly complete: boolean;
  readonly success: boolean;
  readonly completed_at: string | null;
  readonly succeeded_at: string | null;
  readonly died_at: string | null;
  readonly callbacks: { readonly complete: BatchCallbackView; readonly success: BatchCallbackView; readonly death: BatchCallbackView };
  readonly parent_bid: string | null;
  readonly child_bids: readonly string[];
  readonly children: { readonly total: number; readonly complete: number; readonly succeeded: number; readonly dead: number };
  readonly sealed: boolean;
  readonly open_fills: number;
}

/** `GET /v1/batches`: a page of recent batches, newest first. */
export interface BatchesView {
  readonly batches: readonly BatchView[];
  /** Batches read for this page, before the `state` filter. */
  readonly scanned: number;
  /** Pass as `cursor` for the next page; null at the end. */
  readonly cursor: string | null;
}

/** `GET /v1/batches/{bid}/jobs`: a page of a batch's jobs in some statuses, in jid order. */
export interface BatchJobsView {
  readonly jobs: readonly { readonly jid: string; readonly status: 'pending' | 'failed' | 'succeeded' | 'dead'; readonly updated_at: string }[];
  readonly cursor: string | null;
}

/** One cron of `GET /v1/crons`. */
export interface CronView {
  readonly name: string;
  /** As declared. */
  readonly schedule: string;
  /** As EventBridge Scheduler runs it. */
  readonly schedule_expression: string;
  readonly timezone: string;
  readonly jobtype: string;
  readonly queue: string;
  readonly args: readonly unknown[];
  readonly last_run_at: string | null;
  readonly last_jid: string | null;
  readonly next_run_at: string | null;
}

/** `GET /v1/crons`. */
export interface CronsView {
  readonly crons: readonly CronView[];
}

/** `POST /v1/crons/{name}/trigger`. */
export interface CronTriggerView {
  readonly cron: string;
  readonly jid: string;
  readonly jobtype: string;
  readonly queue: string;
}

/** `GET /v1/busy`: what runs now. */
export interface BusyView {
  /** When the answer was made, ISO-8601. */
  readonly at: string;
  /** A job is listed once it has run this long; shorter ones count only in `in_flight`. */
  readonly report_after_ms: number;
  /** How often a worker instance rewrites its report while a listed job runs: how fresh the list is. */
  readonly report_every_ms: number;
  /** Per queue: messages SQS has handed out (running, or about to be handed back), and jobs listed or counted as long-running. */
  readonly queues: readonly { readonly name: string; readonly in_flight: number; readonly long_running: number }[];
  /** Long-running jobs, longest first. */
  readonly jobs: readonly BusyJobView[];
  /** Reports left out because their instance stopped without clearing them (a timeout or a crash). */
  readonly stale_reports: number;
}

/** `GET /v1/stats/cohorts`. */
export interface CohortsView {
  readonly cohorts: readonly CohortView[];
}

/** A tenant's cap on the wire: absent parts are no cap of that kind. */
export interface TenantCapView {
  readonly concurrency?: number;
  readonly rate?: { readonly limit: number; readonly per_seconds: number };
}

/** One override of a tenant's cap (`PUT /v1/limits/tenants/{tenant}`, listed by `GET /v1/limits/tenants`). */
export interface TenantOverrideView {
  readonly tenant: string;
  /** The queue it applies to; null: every queue declaring `perTenant`. */
  readonly queue: string | null;
  readonly cap: TenantCapView;
  readonly updated_at: string;
}

/** `GET /v1/limits/tenants`: the declared caps and the overrides in force. */
export interface TenantCapsView {
  /** Queue name → the cap every tenant has on it unless overridden. */
  readonly declared: Readonly<Record<string, TenantCapView>>;
  /** Overrides, in tenant order (at most 1,000). */
  readonly overrides: readonly TenantOverrideView[];
  /** Whether there were more overrides than listed. */
  readonly truncated: boolean;
}

/** The body of `PUT /v1/limits/tenants/{tenant}`: the whole override (it replaces the previous one). */
export interface TenantOverrideInput {
  /** The queue it applies to; absent: every queue declaring `perTenant`. */
  readonly queue?: string;
  readonly concurrency?: number;
  /** `per`: `'second'`, `'minute'`, `'hour'`, `'day'` or whole seconds. */
  readonly rate?: { readonly limit: number; readonly per: 'second' | 'minute' | 'hour' | 'day' | number };
}
