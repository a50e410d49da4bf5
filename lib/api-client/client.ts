/**
 * `ApiClient`: enqueues through the HTTP API (`POST /v1/jobs`) and honours its backpressure the
 * way Sentry's SDKs do. After a `429` or `503` that Hopper wrote (it carries `X-Hopper-Rate-Limits`
 * or Hopper's JSON error) it sends nothing to the closed scope (one queue, or every queue for a
 * tenant quota) until the `Retry-After` has passed; work that would be older than `maxAge` by then
 * is discarded at once instead of waiting, and never sent late. Any other 429 or 503 (Lambda
 * throttling the API function, a proxy) is backed off like a 5xx and closes nothing. Discards are
 * counted by reason and scope (`discarded()`), so a producer can report what it dropped.
 *
 * Requests are signed with SigV4 (service `lambda`) when credentials are given, as a Function URL
 * with IAM auth requires; a local runtime's plain `http://127.0.0.1` URL needs none.
 */
import { ApiResponseError, DISCARD_REASONS, JobDiscardedError, type DiscardReason } from '../errors/api-client.js';
import { EnqueueError, type EnqueueFailure } from '../errors/enqueue.js';
import { HopperError, InvalidJobError } from '../errors/base.js';
import { expiry, runAt, typedJob, type EnqueueOptions, type ScheduleWhen, type TypedEnqueueOptions, type TypedJobInput } from '../client/typed-input.js';
import type { JobArgs, JobShapes, UntypedJobs } from '../job/typed.js';
import { awaitResult, type ResultOptions } from '../client/result.js';
import type {
  BatchView, BatchesView, BulkView, BusyView, CohortsView, FindJobView, SetCountsView, JobStatusView, CohortView, CronsView, CronTriggerView, CronView, QueuesView, QueueToggleView, QueueView, RedriveView,
  SetEntryRetryView, SetEntryView, SetName, SetPageView, StatsSummary, TenantCapsView, TenantOverrideInput, TenantOverrideView,
} from '../api/wire.js';
import { NotUniqueError } from '../errors/unique.js';
import { JOB_DEFAULTS, isRecord, newJid, type JobInput } from '../job/model.js';
import { Gates, parseRateLimits, parseRetryAfter } from './rate-limits.js';
import { regionOfFunctionUrl, signRequest, type CredentialSource } from './signer.js';

/** The header of Hopper's refusals that names the closed scopes (lib/quota/response.ts writes it). */
const RATE_LIMITS_HEADER = 'x-hopper-rate-limits';

/** Jobs discarded so far. */
export interface DiscardCounts {
  readonly total: number;
  readonly byReason: Readonly<Record<string, number>>;
  /** `tenant`, `queue:<name>` (the closed scope), or `request` (errors, size). */
  readonly byScope: Readonly<Record<string, number>>;
}

/** Which entries of a set a call takes. */
export interface SetFilter {
  readonly jobtype?: string;
  readonly queue?: string;
}

/** What a bulk retry or delete did, summed over the calls it took. */
export type BulkTotals = Omit<BulkView, 'cursor' | 'done'>;

/** Options of {@link ApiClient}. */
export interface ApiClientOptions {
  /** The API's base URL (the JobSystem's `ApiUrl` output, or a local runtime's URL). */
  readonly url: string;
  /** Sign requests with these. @default - unsigned (only a local runtime accepts that) */
  readonly credentials?: CredentialSource;
  /** Region for signing. @default - from the Function URL's host, else AWS_REGION, else us-east-1 */
  readonly region?: string;
  /** Oldest work the client still sends, ms. @default 60_000 */
  readonly maxAge?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** @default - a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A response of the API. */
export interface ApiClientResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** Defaults of {@link ApiClientOptions}. */
export const API_CLIENT_DEFAULTS = {
  maxAgeMs: 60_000,
  /** First pause after a network error or 5xx; doubles up to the max. */
  errorBackoffMs: 500,
  maxErrorBackoffMs: 10_000,
} as const;

/**
 * Enqueues through the HTTP API, honouring 429/503, and runs the API's admin calls (queues, sets,
 * batches, crons, stats) with typed answers. `ApiClient<typeof jobs>` checks jobtypes and argument
 * tuples at compile time, as `Client<typeof jobs>` does.
 *
 * @example
 * const client = new ApiClient({ url: process.env.HOPPER_API_URL, credentials: fromEnv, maxAge: 30_000 });
 * try { await client.enqueue({ jobtype: 'SendEmail', args: [to] }); }
 * catch (error) { if (error instanceof JobDiscardedError) metrics.count('dropped', error.jobs); }
 */
export class ApiClient<Jobs extends JobShapes = UntypedJobs> {
  private readonly base: URL;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxAgeMs: number;
  private readonly region: string;
  private readonly gates = new Gates();
  private readonly counts = { total: 0, byReason: new Map<string, number>(), byScope: new Map<string, number>() };

  constructor(private readonly options: ApiClientOptions) {
    this.base = new URL(options.url);
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.maxAgeMs = options.maxAge ?? API_CLIENT_DEFAULTS.maxAgeMs;
    this.region = options.region ?? regionOfFunctionUrl(this.base) ?? process.env.AWS_REGION ?? 'us-east-1';
  }

  /**
   * Enqueues one job; resolves its jid. The same forms as `Client.enqueue`: `(jobtype, args,
   * options)`, checked against `Jobs` when the client is `ApiClient<typeof jobs>`, or a job object.
   * @throws NotUniqueError at once (no retry) when the job is unique and another holds its lock
   *   (`409 not_unique`); JobDiscardedError; ApiResponseError
   * @example
   * await api.enqueue('SendEmail', ['a@example.com', 42], { in: '5m' });
   */
  async enqueue<Type extends keyof Jobs & string>(jobtype: Type, args: JobArgs<Jobs[Type]>, options?: TypedEnqueueOptions): Promise<string>;
  async enqueue(input: TypedJobInput<Jobs>, options?: EnqueueOptions): Promise<string>;
  async enqueue(first: string | JobInput, second?: readonly unknown[] | EnqueueOptions, third: TypedEnqueueOptions = {}): Promise<string> {
    const [input, options] = typeof first === 'string' ? typedJob(first, second, third, new Date(this.now())) : [first, (second ?? {}) as EnqueueOptions];
    return this.sendOne(this.withExpiry(input, options));
  }

  /**
   * Runs `input` later: `{ in: '3h' }` or `{ at: date }`.
   * @example
   * await api.schedule({ jobtype: 'Remind', args: [42] }, { in: '3h' });
   */
  async schedule(input: TypedJobInput<Jobs>, when: ScheduleWhen, options: EnqueueOptions = {}): Promise<string> {
    return this.sendOne(this.withExpiry({ ...(input as JobInput), at: runAt(when, new Date(this.now())) }, options));
  }

  /**
   * Enqueues jobs in one request; resolves their jids. Jobs without a jid get one here, so that
   * after an answer that enqueued some (`502` with `enqueued`) only the others are sent again.
   * @throws EnqueueError when unique jobs were refused (their failures carry `existingJid`; the
   *   others are enqueued); JobDiscardedError; ApiResponseError
   */
  async enqueueMany(inputs: readonly TypedJobInput<Jobs>[], options: EnqueueOptions = {}): Promise<string[]> {
    return this.send((inputs as readonly JobInput[]).map((input, index) => this.withExpiry(input, options, `jobs[${index}].`)), true);
  }

  /** Where tracked job `jid` stands (`GET /v1/jobs/{jid}`), or undefined when it is not tracked, not started or expired. */
  async status(jid: string): Promise<JobStatusView | undefined> {
    return this.call<JobStatusView>('GET', `/v1/jobs/${encodeURIComponent(jid)}`, undefined, { absentOn404: true });
  }

  /**
   * The return value of job `jid` (enqueued with `custom.result: true`), waiting up to `wait`.
   * @throws JobResultError saying why there is none: unknown, still running, failed, or not kept
   */
  async result<T = unknown>(jid: string, options: ResultOptions = {}): Promise<T> {
    const read = async () => {
      const view = await this.status(jid);
      return view === undefined ? undefined : { state: view.state, result: view.result ?? undefined, resultError: view.result_error ?? undefined, error: view.error ?? undefined };
    };
    return awaitResult(jid, read, options, { now: this.now, sleep: this.sleep }) as Promise<T>;
  }

  /**
   * Everywhere Hopper keeps something of job `jid` (`GET /v1/find/{jid}`): its tracked state, its
   * iteration, its retry, scheduled and dead entries, and a line saying where it is.
   */
  async find(jid: string): Promise<FindJobView> {
    return this.call<FindJobView>('GET', `/v1/find/${encodeURIComponent(jid)}`);
  }

  /** How many entries the retry, scheduled and dead sets hold (`GET /v1/sets/counts`, kept 30 s by the API). */
  async setCounts(): Promise<SetCountsView> {
    return this.call<SetCountsView>('GET', '/v1/sets/counts');
  }

  /** What runs now (`GET /v1/busy`): every queue's jobs in flight, and the jobs that have run longer than ten seconds. */
  async busy(): Promise<BusyView> {
    return this.call<BusyView>('GET', '/v1/busy');
  }

  /** Every declared queue with its counts, latency and whether it is paused (`GET /v1/queues`). */
  async queues(): Promise<readonly QueueView[]> {
    return (await this.call<QueuesView>('GET', '/v1/queues')).queues;
  }

  /**
   * Pauses queue `name`: its worker stops receiving (the event source mapping is disabled).
   * @throws ApiResponseError `409 busy` (with `retryAfterSeconds`) while the previous pause or resume
   *   is still being applied; `404` for an undeclared queue
   */
  async pauseQueue(name: string): Promise<QueueToggleView> {
    return this.call<QueueToggleView>('POST', `/v1/queues/${encodeURIComponent(name)}/pause`);
  }

  /** Resumes queue `name`; see {@link pauseQueue}. */
  async resumeQueue(name: string): Promise<QueueToggleView> {
    return this.call<QueueToggleView>('POST', `/v1/queues/${encodeURIComponent(name)}/resume`);
  }

  /**
   * One page of a set, filtered: follow `cursor` until it is null. Dead is newest first, the others
   * soonest first.
   */
  async entries(set: SetName, filter: SetFilter & { readonly limit?: number; readonly cursor?: string } = {}): Promise<SetPageView> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    const text = query.toString();
    return this.call<SetPageView>('GET', `/v1/${set}${text === '' ? '' : `?${text}`}`);
  }

  /** One entry of a set by its `id`, or undefined when it is not there. */
  async entry(set: SetName, id: string): Promise<SetEntryView | undefined> {
    return this.call<SetEntryView>('GET', `/v1/${set}/${encodeURIComponent(id)}`, undefined, { absentOn404: true });
  }

  /**
   * Sends an entry's job to its queue now and removes the entry.
   * @throws ApiResponseError `404` when the entry is gone, `409 conflict` while another caller moves it
   */
  async retryEntry(set: SetName, id: string): Promise<SetEntryRetryView> {
    return this.call<SetEntryRetryView>('POST', `/v1/${set}/${encodeURIComponent(id)}/retry`);
  }

  /** Deletes an entry (a job in it never runs). @throws ApiResponseError `404`, `409 conflict` */
  async deleteEntry(set: SetName, id: string): Promise<void> {
    await this.call<undefined>('DELETE', `/v1/${set}/${encodeURIComponent(id)}`);
  }

  /**
   * Retries every entry of `set` that matches `filter`, calling the API until the set has been read
   * to its end (each call examines up to `limit` entries, default 100).
   */
  async retryAll(set: SetName, filter: SetFilter & { readonly limit?: number } = {}): Promise<BulkTotals> {
    return this.bulk(set, 'retry', filter);
  }

  /** Deletes every entry of `set` that matches `filter`; see {@link retryAll}. */
  async deleteAll(set: SetName, filter: SetFilter & { readonly limit?: number } = {}): Promise<BulkTotals> {
    return this.bulk(set, 'delete', filter);
  }

  /** Retries every job of the dead set that matches `filter` (Sidekiq's "Retry All"). */
  async retryDead(filter: SetFilter = {}): Promise<BulkTotals> {
    return this.bulk('dead', 'retry', filter);
  }

  /**
   * Moves every message of the retries queue's DLQ back to the retries queue, calling the API until
   * the DLQ is empty; the counts are summed over the calls.
   */
  async redriveRetries(options: { readonly limit?: number } = {}): Promise<RedriveView> {
    let total: RedriveView = { moved: 0, lingering: 0, failed: [], kept: [], done: false };
    for (;;) {
      const page = await this.call<RedriveView>('POST', '/v1/redrive/retries', options.limit === undefined ? {} : { limit: options.limit });
      total = { moved: total.moved + page.moved, lingering: total.lingering + page.lingering, failed: [...total.failed, ...page.failed], kept: [...total.kept, ...page.kept], done: page.done };
      // Nothing moved: what is left is kept or failing, and another call would only read it again.
      if (page.done || page.moved === 0) return total;
    }
  }

  /** A page of recent batches, newest first (`GET /v1/batches`); follow `cursor` until it is null. */
  async batches(options: { readonly limit?: number; readonly cursor?: string; readonly q?: string; readonly state?: 'running' | 'succeeded' | 'failed' } = {}): Promise<BatchesView> {
    const query = new URLSearchParams(Object.entries(options).filter(([, value]) => value !== undefined).map(([name, value]): [string, string] => [name, String(value)])).toString();
    return this.call<BatchesView>('GET', `/v1/batches${query === '' ? '' : `?${query}`}`);
  }

  /** Where batch `bid` stands, or undefined for a batch that never existed or expired. */
  async batch(bid: string): Promise<BatchView | undefined> {
    return this.call<BatchView>('GET', `/v1/batches/${encodeURIComponent(bid)}`, undefined, { absentOn404: true });
  }

  /** The declared crons with their last and next runs. */
  async crons(): Promise<readonly CronView[]> {
    return (await this.call<CronsView>('GET', '/v1/crons')).crons;
  }

  /** Enqueues cron `name`'s job now, outside its schedule. @throws ApiResponseError `404` for an undeclared cron */
  async triggerCron(name: string): Promise<CronTriggerView> {
    return this.call<CronTriggerView>('POST', `/v1/crons/${encodeURIComponent(name)}/trigger`);
  }

  /** Processed and failed jobs over the last `minutes` (1–1,440, default 60), with their history. */
  async stats(options: { readonly minutes?: number } = {}): Promise<StatsSummary> {
    return this.call<StatsSummary>('GET', `/v1/stats${options.minutes === undefined ? '' : `?minutes=${options.minutes}`}`);
  }

  /** Jobs by the minute they were enqueued, newest first, over the last `minutes` (default 60). */
  async cohorts(options: { readonly minutes?: number } = {}): Promise<readonly CohortView[]> {
    return (await this.call<CohortsView>('GET', `/v1/stats/cohorts${options.minutes === undefined ? '' : `?minutes=${options.minutes}`}`)).cohorts;
  }

  /** Every queue's per-tenant cap and the tenants' overrides (`GET /v1/limits/tenants`). */
  async tenantCaps(): Promise<TenantCapsView> {
    return this.call<TenantCapsView>('GET', '/v1/limits/tenants');
  }

  /**
   * Sets `tenant`'s cap override on `input.queue`, or on every queue declaring `perTenant`, replacing
   * the previous one; workers apply it within a minute.
   * @throws ApiResponseError `400` naming a malformed field, or a queue that does not cap its tenants
   */
  async setTenantCap(tenant: string, input: TenantOverrideInput): Promise<TenantOverrideView> {
    return this.call<TenantOverrideView>('PUT', `/v1/limits/tenants/${encodeURIComponent(tenant)}`, input);
  }

  /** Removes `tenant`'s override on `queue` (on every capped queue when absent); false when there was none. */
  async removeTenantCap(tenant: string, queue?: string): Promise<boolean> {
    const path = `/v1/limits/tenants/${encodeURIComponent(tenant)}${queue === undefined ? '' : `?queue=${encodeURIComponent(queue)}`}`;
    const response = await this.request('DELETE', path);
    if (response.status === 204) return true;
    if (response.status === 404) return false;
    const error = errorOf(response.body);
    throw new ApiResponseError(response.status, error.code, error.message, response.body);
  }

  /** What was discarded so far. */
  discarded(): DiscardCounts {
    return { total: this.counts.total, byReason: Object.fromEntries(this.counts.byReason), byScope: Object.fromEntries(this.counts.byScope) };
  }

  /** Scopes closed now (`*` = every queue, `queue:<name>`), with when they open. */
  rateLimits(): Record<string, string> {
    return this.gates.snapshot(this.now());
  }

  /** Any API call, signed when credentials were given (the CLI and dashboard use this). */
  async request(method: string, path: string, body?: unknown): Promise<ApiClientResponse> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base.href : `${this.base.href}/`);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json', ...(text === undefined ? {} : { 'content-type': 'application/json' }) };
    const signed = this.options.credentials === undefined ? headers : await signRequest({ method, url, headers, ...(text === undefined ? {} : { body: text }) }, this.options.credentials, this.region);
    const response = await this.fetchImpl(url, { method, headers: signed, ...(text === undefined ? {} : { body: text }) });
    const raw = await response.text();
    let parsed: unknown = raw;
    try {
      parsed = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      // Not JSON (a gateway's error page): keep the text.
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  /**
   * An admin call: the body of a 2xx answer, undefined for a 404 when `absentOn404`.
   * @throws ApiResponseError for any other answer (with `retryAfterSeconds` when it carries Retry-After)
   */
  private async call<T>(method: string, path: string, body?: unknown, options: { readonly absentOn404?: boolean } = {}): Promise<T> {
    const response = await this.request(method, path, body);
    if (response.status >= 200 && response.status < 300) return response.body as T;
    if (response.status === 404 && options.absentOn404 === true) return undefined as T;
    const error = errorOf(response.body);
    const retryAfter = response.headers.get('retry-after');
    throw new ApiResponseError(response.status, error.code, error.message, response.body, retryAfter === null ? undefined : parseRetryAfter(retryAfter, this.now()));
  }

  private async bulk(set: SetName, action: 'retry' | 'delete', filter: SetFilter & { readonly limit?: number }): Promise<BulkTotals> {
    const totals = { scanned: 0, matched: 0, done: 0, skipped: 0, failed: [] as { id: string; reason: string }[] };
    let cursor: string | null = null;
    do {
      const page: BulkView = await this.call<BulkView>('POST', `/v1/${set}/${action}`, { ...filter, ...(cursor === null ? {} : { cursor }) });
      totals.scanned += page.scanned;
      totals.matched += page.matched;
      totals.done += (action === 'retry' ? page.retried : page.deleted) ?? 0;
      totals.skipped += page.skipped;
      totals.failed.push(...page.failed);
      cursor = page.done ? null : page.cursor;
    } while (cursor !== null);
    return { scanned: totals.scanned, matched: totals.matched, [action === 'retry' ? 'retried' : 'deleted']: totals.done, skipped: totals.skipped, failed: totals.failed };
  }

  /** `input` with `custom.expires_at` from the `expiresIn` option, counted from when it is due. */
  private withExpiry(input: JobInput, options: EnqueueOptions, path = ''): JobInput {
    const seconds = expiry(options).expiresInSeconds;
    if (seconds === undefined) return input;
    if (input.custom?.expires_at !== undefined) {
      throw new InvalidJobError(`${path}custom.expires_at`, 'absent when the expiresIn option is given', JSON.stringify(input.custom.expires_at));
    }
    const due = input.at === undefined ? this.now() : runAt({ at: input.at }, new Date(this.now())).getTime();
    return { ...input, custom: { ...input.custom, expires_at: new Date(due + seconds * 1000).toISOString() } };
  }

  private async sendOne(job: JobInput): Promise<string> {
    const [jid] = await this.send([job], false);
    if (jid === undefined) throw new HopperError('the API returned no jid');
    return jid;
  }

  private async send(input: readonly JobInput[], many: boolean): Promise<string[]> {
    const all = input.map((job) => (job.jid === undefined ? { ...job, jid: newJid() } : job));
    let jobs: readonly JobInput[] = all;
    /** Jids the API answered with, by job (the API's word over ours). */
    const answered = new Map<JobInput, string>();
    const enqueued = new Set<string>();
    const refused: EnqueueFailure[] = [];
    const bornMs = Math.min(this.now(), ...jobs.map((job) => createdAtMs(job) ?? Number.POSITIVE_INFINITY));
    const staleAtMs = bornMs + this.maxAgeMs;
    const queues = [...new Set(jobs.map((job) => job.queue ?? JOB_DEFAULTS.queue))];
    let backoff: number = API_CLIENT_DEFAULTS.errorBackoffMs;
    while (jobs.length > 0) {
      const closed = this.gates.closedUntil(queues, this.now());
      if (closed !== undefined) {
        // Sentry's rule: while a scope is closed, send nothing to it; work that would be stale by
        // the time it opens is dropped now rather than held.
        if (closed.atMs > staleAtMs) {
          throw this.discard(closed.reason === 'quota_exceeded' ? DISCARD_REASONS.rateLimited : DISCARD_REASONS.backlog, closed.scope, jobs.length, `closed until ${new Date(closed.atMs).toISOString()}, past maxAge`);
        }
        await this.sleep(closed.atMs - this.now());
        continue;
      }
      if (this.now() > staleAtMs) throw this.discard(DISCARD_REASONS.maxAge, 'request', jobs.length, `older than maxAge (${this.maxAgeMs} ms)`);

      let response: ApiClientResponse;
      try {
        response = await this.request('POST', '/v1/jobs', many ? { jobs } : jobs[0]);
      } catch {
        // Network error: back off and try again while the work is fresh.
        await this.sleep(Math.min(backoff, Math.max(0, staleAtMs - this.now() + 1)));
        backoff = Math.min(backoff * 2, API_CLIENT_DEFAULTS.maxErrorBackoffMs);
        continue;
      }
      if (response.status === 202 || response.status === 200) {
        const jids = jidsOf(response.body);
        jobs.forEach((job, index) => { const jid = jids[index]; if (jid !== undefined) answered.set(job, jid); });
        for (const jid of jids) enqueued.add(jid);
        break;
      }
      const partial = partialAnswer(response);
      if (partial !== undefined) {
        // Some jobs went through (or were refused as not unique): only the rest may be sent again.
        for (const jid of partial.enqueued) enqueued.add(jid);
        refused.push(...partial.notUnique);
        const done = new Set([...enqueued, ...refused.map((failure) => failure.jid)]);
        jobs = jobs.filter((job) => job.jid === undefined || !done.has(job.jid));
        if (response.status === 409 || jobs.length === 0) break;
        await this.sleep(Math.min(backoff, Math.max(0, staleAtMs - this.now() + 1)));
        backoff = Math.min(backoff * 2, API_CLIENT_DEFAULTS.maxErrorBackoffMs);
        continue;
      }
      if ((response.status === 429 || response.status === 503) && isHopperRefusal(response)) {
        const nowMs = this.now();
        this.gates.close(parseRateLimits(response.headers.get(RATE_LIMITS_HEADER)), {
          retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after'), nowMs),
          reason: response.status === 429 ? 'quota_exceeded' : 'backlog',
          queues,
        }, nowMs);
        continue;
      }
      if (response.status === 413) throw this.discard(DISCARD_REASONS.tooLarge, 'request', jobs.length, errorText(response.body));
      // A 429 or 503 that Hopper did not write (Lambda throttling the API function, a proxy) says
      // nothing about quotas or queues: it is backed off like any other server error.
      if (response.status >= 500 || response.status === 429) {
        await this.sleep(Math.min(backoff, Math.max(0, staleAtMs - this.now() + 1)));
        backoff = Math.min(backoff * 2, API_CLIENT_DEFAULTS.maxErrorBackoffMs);
        continue;
      }
      const error = errorOf(response.body);
      throw new ApiResponseError(response.status, error.code, error.message, response.body);
    }
    const [conflict] = refused;
    if (conflict !== undefined) {
      if (!many) throw new NotUniqueError(conflict.jid, conflict.existingJid ?? '', conflict.lockedUntil);
      throw new EnqueueError(all.flatMap((job) => (job.jid !== undefined && enqueued.has(job.jid) ? [job.jid] : [])), refused);
    }
    return all.map((job) => answered.get(job) ?? job.jid ?? '');
  }

  private discard(reason: DiscardReason, scope: string, jobs: number, detail: string): JobDiscardedError {
    this.counts.total += jobs;
    this.counts.byReason.set(reason, (this.counts.byReason.get(reason) ?? 0) + jobs);
    this.counts.byScope.set(scope, (this.counts.byScope.get(scope) ?? 0) + jobs);
    return new JobDiscardedError(reason, scope, jobs, detail);
  }
}

/** Body codes of Hopper's own refusals (lib/quota/response.ts, lib/api/routes/jobs.ts). */
const REFUSAL_CODES: ReadonlySet<string> = new Set(['quota_exceeded', 'backlog_exceeded']);

/**
 * Whether a 429 or 503 is Hopper's backpressure: it carries `X-Hopper-Rate-Limits` or Hopper's JSON
 * error. Lambda's own 429 (the API function throttled) and a gateway's 503 carry neither.
 */
function isHopperRefusal(response: ApiClientResponse): boolean {
  return response.headers.has(RATE_LIMITS_HEADER) || REFUSAL_CODES.has(errorOf(response.body).code);
}

function createdAtMs(job: JobInput): number | undefined {
  if (job.created_at === undefined) return undefined;
  const ms = Date.parse(job.created_at);
  return Number.isNaN(ms) ? undefined : ms;
}

function jidsOf(body: unknown): string[] {
  if (typeof body === 'object' && body !== null && 'jids' in body && Array.isArray(body.jids)) return body.jids.map(String);
  throw new HopperError('the API accepted the jobs but returned no jids');
}

/**
 * The jobs a `409 not_unique` or `502 upstream_error` answer says were enqueued, and those it
 * refused as not unique; undefined for any other answer (or one without the lists).
 */
function partialAnswer(response: ApiClientResponse): { enqueued: string[]; notUnique: EnqueueFailure[] } | undefined {
  if (response.status !== 409 && response.status !== 502) return undefined;
  const error = isRecord(response.body) ? response.body.error : undefined;
  if (!isRecord(error) || !Array.isArray(error.enqueued) || !Array.isArray(error.failed)) return undefined;
  const notUnique = error.failed.flatMap((failure): EnqueueFailure[] => {
    if (!isRecord(failure) || typeof failure.jid !== 'string' || typeof failure.existing_jid !== 'string') return [];
    return [{
      jid: failure.jid,
      reason: typeof failure.reason === 'string' ? failure.reason : 'not unique',
      existingJid: failure.existing_jid,
      ...(typeof failure.locked_until === 'string' ? { lockedUntil: failure.locked_until } : {}),
    }];
  });
  if (response.status === 409 && notUnique.length === 0) return undefined;
  return { enqueued: error.enqueued.filter((jid): jid is string => typeof jid === 'string'), notUnique };
}

function errorOf(body: unknown): { code: string; message: string } {
  const error: unknown = typeof body === 'object' && body !== null && 'error' in body ? body.error : undefined;
  if (typeof error === 'object' && error !== null) {
    const code = 'code' in error && typeof error.code === 'string' ? error.code : 'unknown';
    const message = 'message' in error && typeof error.message === 'string' ? error.message : JSON.stringify(body);
    return { code, message };
  }
  return { code: 'unknown', message: typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body) };
}

function errorText(body: unknown): string {
  return errorOf(body).message;
}
