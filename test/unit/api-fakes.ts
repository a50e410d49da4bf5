/**
 * Fakes for the API's unit tests: Function URL events, and an in-memory context (sets, stats,
 * limits, queue backend) around a real `Client` on a fake SQS.
 */
import type { AnyMiddleware } from '../../lib/middleware/chain.js';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { apiRoutes, createApiHandler } from '../../lib/api/handler.js';
import type { ApiConfig } from '../../lib/api/config.js';
import type { ApiContext, SetStore } from '../../lib/api/context.js';
import type { RunnableSetName, WaitingJobAction, WaitingSetName } from '../../lib/admin/scheduled.js';
import type { JobStatus } from '../../lib/storage/job-states.js';
import type { IterationState } from '../../lib/storage/iterations.js';
import { FlowNotFoundError, FlowNotRetryableError } from '../../lib/errors/flow.js';
import { retryFlow } from '../../lib/flow/engine.js';
import type { FlowState } from '../../lib/flow/model.js';
import { flowView } from '../../lib/flow/status.js';
import type { BatchStatus } from '../../lib/batch/status.js';
import type { BatchMember } from '../../lib/batch/members.js';
import { resolveCron } from '../../lib/cron/definition.js';
import type { CronRunRecord } from '../../lib/storage/cron-store.js';
import type { ApiResponse } from '../../lib/api/http.js';
import { MAPPING_BUSY_RETRY_AFTER_SECONDS, MappingBusyError, QueueState, type QueueBackend, type QueueCounts } from '../../lib/api/queue-state.js';
import { Client } from '../../lib/client/client.js';
import type { StateCommands } from '../../lib/aws/dynamo.js';
import type { Job } from '../../lib/job/model.js';
import { entryKeyCandidates, setEntryKey, type SortedSetName } from '../../lib/storage/keys.js';
import { MemoryLimiterStore } from '../../lib/limiters/index.js';
import { MemoryTenantOverrides } from '../../lib/limiters/tenant-overrides.js';
import { resolveQuotas } from '../../lib/quota/index.js';
import type { QueueReport, StatsItem, StatsTable } from '../../lib/stats/read.js';
import { createMetrics } from '../../lib/observability/emf.js';
import { jsonObject } from '../fixtures/json.js';
import { fromItem, toItem, type NewSetEntry, type SetEntry } from '../../lib/storage/set-items.js';
import type { ReadSetOptions, SetPage } from '../../lib/storage/state-table.js';
import { createLogger } from '../../lib/observability/logger.js';
import { FakeSqs, QUEUE_URLS } from './worker-fakes.js';

export const NOW = Date.UTC(2026, 10, 22, 12, 30, 15);
export const PRODUCER_ROLE = 'arn:aws:iam::111122223333:role/Producer';

/** The IAM identity of a role session, as a Function URL reports it. */
export function roleSession(role = 'Producer', account = '111122223333') {
  return { userArn: `arn:aws:sts::${account}:assumed-role/${role}/session-1`, accountId: account, callerId: `AROAEXAMPLE:session-1` };
}

/** A Function URL event (payload 2.0). */
export function urlEvent(options: { method: string; path: string; query?: string; body?: unknown; iam?: ReturnType<typeof roleSession> | null; base64?: boolean }): LambdaFunctionURLEvent {
  const text = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const iam = options.iam === undefined ? roleSession() : options.iam;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: options.path,
    rawQueryString: options.query ?? '',
    headers: { 'content-type': 'application/json', host: 'abc.lambda-url.us-east-1.on.aws' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc',
      domainName: 'abc.lambda-url.us-east-1.on.aws',
      domainPrefix: 'abc',
      http: { method: options.method, path: options.path, protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'test' },
      requestId: 'request-1',
      routeKey: '$default',
      stage: '$default',
      time: '22/Nov/2026:12:30:15 +0000',
      timeEpoch: NOW,
      ...(iam === null ? {} : { authorizer: { iam: { ...iam, accessKey: 'AKIA', cognitoIdentity: null, principalOrgId: null, userId: 'AROAEXAMPLE' } } }),
    },
    ...(text === undefined ? {} : { body: options.base64 === true ? Buffer.from(text).toString('base64') : text }),
    isBase64Encoded: options.base64 === true,
  };
}

/** Sorted sets in memory, with the state table's ordering and paging. */
export class MemorySets implements SetStore {
  readonly items = new Map<string, { set: SortedSetName; item: ReturnType<typeof toItem> }>();

  put(set: SortedSetName, entry: NewSetEntry): SetEntry {
    const item = toItem(set, entry);
    this.items.set(`${item.pk?.S}|${item.sk?.S}`, { set, item });
    const read = fromItem(set, item);
    if (read === undefined) throw new Error('unreadable entry');
    return read;
  }

  async readSetRange(set: SortedSetName, options: ReadSetOptions = {}): Promise<SetPage> {
    const limit = options.limit ?? 100;
    const newest = options.newestFirst === true;
    const entries = [...this.items.values()]
      .filter((stored) => stored.set === set)
      .flatMap((stored) => { const entry = fromItem(set, stored.item); return entry === undefined ? [] : [entry]; })
      .filter((entry) => options.after === undefined || (newest ? entry.key.sk < options.after : entry.key.sk > options.after))
      .sort((a, b) => (a.key.sk < b.key.sk ? -1 : 1) * (newest ? -1 : 1))
      .slice(0, limit);
    const last = entries.at(-1);
    return entries.length === limit && last !== undefined ? { entries, cursor: last.key.sk } : { entries };
  }

  async getSetEntry(set: SortedSetName, key: { pk: string; sk: string }): Promise<SetEntry | undefined> {
    const stored = this.items.get(`${key.pk}|${key.sk}`);
    return stored === undefined ? undefined : fromItem(set, stored.item);
  }

  async countSet(set: SortedSetName): Promise<{ count: number; capped: boolean }> {
    return { count: [...this.items.values()].filter((stored) => stored.set === set).length, capped: false };
  }

  async findJob(set: SortedSetName, jid: string): Promise<{ entries: SetEntry[]; complete: boolean }> {
    const entries = [...this.items.values()].filter((stored) => stored.set === set)
      .flatMap((stored) => { const entry = fromItem(set, stored.item); return entry?.jid === jid ? [entry] : []; });
    return { entries, complete: true };
  }

  async deleteSetEntry(set: SortedSetName, key: { pk: string; sk: string }): Promise<SetEntry | undefined> {
    const entry = await this.getSetEntry(set, key);
    this.items.delete(`${key.pk}|${key.sk}`);
    return entry;
  }

  /** The key an entry gets. */
  static keyOf(set: SortedSetName, epochMs: number, jid: string): string {
    return setEntryKey(set, epochMs, jid).sk;
  }
}

/** A queue backend whose counts, mapping states and reports the test sets. */
export class FakeQueueBackend implements QueueBackend {
  readonly counted: string[] = [];
  readonly updates: { uuid: string; enabled: boolean }[] = [];
  counts_: Record<string, QueueCounts> = {};
  states: Record<string, string> = {};
  reports_ = new Map<string, QueueReport>();

  async counts(url: string): Promise<QueueCounts> {
    this.counted.push(url);
    return this.counts_[url] ?? { visible: 0, inFlight: 0, delayed: 0 };
  }
  async mappingState(uuid: string): Promise<string> {
    return this.states[uuid] ?? 'Enabled';
  }
  /** Mappings Lambda would refuse to update now (mid-change). */
  readonly busy = new Set<string>();
  async setMappingEnabled(uuid: string, enabled: boolean): Promise<string> {
    if (this.busy.has(uuid)) throw new MappingBusyError(uuid, MAPPING_BUSY_RETRY_AFTER_SECONDS);
    this.updates.push({ uuid, enabled });
    this.states[uuid] = enabled ? 'Enabling' : 'Disabling';
    return this.states[uuid] ?? '';
  }
  async reports(): Promise<ReadonlyMap<string, QueueReport>> {
    return this.reports_;
  }
  /** Mapping UUID → its MaximumConcurrency. */
  scaling: Record<string, number> = {};
  async mappingConcurrency(uuid: string): Promise<number | undefined> {
    return this.scaling[uuid];
  }
}

/** A stats partition in memory. */
export class MemoryStats implements StatsTable {
  items: StatsItem[] = [];
  readonly folds: { from: number | undefined; to: number; processed: number; failed: number }[] = [];

  async queryRange(lower: string, upper: string): Promise<StatsItem[]> {
    return this.items.filter((item) => { const sk = item.sk?.S ?? ''; return sk >= lower && sk <= upper; });
  }
  async fold(from: number | undefined, to: number, processed: number, failed: number): Promise<boolean> {
    this.folds.push({ from, to, processed, failed });
    return true;
  }
  /** Cohort items, kept apart from the stats partition as in the table. */
  cohorts: StatsItem[] = [];
  async queryCohorts(fromMinuteMs: number, toMinuteMs: number): Promise<StatsItem[]> {
    return this.cohorts
      .filter((item) => { const ms = Number(item.sk?.S); return ms >= fromMinuteMs && ms <= toMinuteMs; })
      .sort((a, b) => Number(b.sk?.S) - Number(a.sk?.S));
  }
  /** Busy reports, kept apart as in the table. */
  busy: StatsItem[] = [];
  async queryBusy(): Promise<StatsItem[]> {
    return this.busy;
  }
}

export const TEST_CONFIG: ApiConfig = {
  queueUrls: QUEUE_URLS,
  queueTiers: {},
  tierMappings: {},
  queueMappings: { default: 'uuid-default' },
  backlogLimits: { critical: { maxBacklog: 5 } },
  quotas: resolveQuotas({ default: { limit: 3, per: 'minute' } }),
  tenants: { [PRODUCER_ROLE]: 'acme' },
  tenantCaps: {},
  maxBodyBytes: 2048,
  defaultRetry: 25,
  crons: [
    resolveCron({ name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'], queue: 'critical' } }),
    resolveCron({ name: 'hourly', schedule: 'cron(0 * * * ? *)', job: { jobtype: 'Ping' } }),
  ],
  queueConcurrency: { default: { jobs: 3, perInvocation: 1 } },
};

/**
 * Run now and delete over {@link MemorySets}, with ScheduledJobs' answers: ids in `moving` are
 * held by a sweep. (ScheduledJobs itself is tested over a fake DynamoDB in admin-scheduled.test.ts.)
 */
export class FakeWaiting {
  readonly moving = new Set<string>();
  readonly calls: { action: 'runNow' | 'delete'; set: RunnableSetName; id: string }[] = [];

  constructor(private readonly sets: MemorySets, private readonly client: Pick<Client, 'enqueueMany'>) {}

  async runNow(set: RunnableSetName, id: string): Promise<WaitingJobAction> {
    this.calls.push({ action: 'runNow', set, id });
    const entry = await this.find(set, id);
    if (entry === undefined) return 'gone';
    if (this.moving.has(id)) return 'moving';
    if (entry.job === undefined) return 'gone';
    const { at: _due, ...job } = entry.job;
    await this.client.enqueueMany([job]);
    await this.sets.deleteSetEntry(set, entry.key);
    return 'done';
  }

  async delete(set: WaitingSetName, id: string): Promise<WaitingJobAction> {
    this.calls.push({ action: 'delete', set, id });
    const entry = await this.find(set, id);
    if (entry === undefined) return 'gone';
    if (this.moving.has(id)) return 'moving';
    await this.sets.deleteSetEntry(set, entry.key);
    return 'done';
  }

  private async find(set: RunnableSetName, id: string): Promise<SetEntry | undefined> {
    const keys = entryKeyCandidates(set, id);
    if (keys === undefined) throw new Error(`bad id ${id}`);
    for (const key of keys) {
      const entry = await this.sets.getSetEntry(set, key);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }
}

/** A handler over fakes, and the fakes. */
export function apiFixture(config: Partial<ApiConfig> = {}, options: { readonly dynamo?: StateCommands; readonly middleware?: AnyMiddleware } = {}) {
  let nowMs = NOW;
  const sqs = new FakeSqs();
  const scheduled: { job: Job; dueMs: number }[] = [];
  const backend = new FakeQueueBackend();
  const sets = new MemorySets();
  const stats = new MemoryStats();
  const limits = new Map<string, Record<string, unknown>[]>();
  const lines: string[] = [];
  /** The EMF lines the API printed, parsed. */
  const emf: Record<string, unknown>[] = [];
  const now = () => nowMs;
  const batches = new Map<string, BatchStatus>();
  const batchJobs = new Map<string, BatchMember[]>();
  const jobStates = new Map<string, JobStatus>();
  /** Flows by id, moved by the flow engine itself (lib/flow/engine.ts). */
  const flows = new Map<string, FlowState>();
  const iterations = new Map<string, IterationState>();
  const cronRuns = new Map<string, CronRunRecord>();
  const client = new Client({
    queueUrls: QUEUE_URLS, sqs, scheduledSet: { putScheduled: async (job, dueMs) => { scheduled.push({ job, dueMs }); } }, now: () => new Date(nowMs),
    // Unique jobs take their locks through `dynamo` when a test gives one.
    ...(options.dynamo === undefined ? { env: {} } : { dynamo: options.dynamo, env: { HOPPER_STATE_TABLE: 'state' } }),
    ...(options.middleware === undefined ? {} : { middleware: options.middleware, via: 'api' as const }),
  });
  const waiting = new FakeWaiting(sets, client);
  const tenantOverrides = new MemoryTenantOverrides();
  const context: ApiContext = {
    config: { ...TEST_CONFIG, ...config },
    now,
    client,
    queues: new QueueState(backend, now),
    sets,
    waiting,
    batches: {
      getBatch: async (bid) => batches.get(bid),
      getBatches: async (bids) => new Map(bids.flatMap((bid) => { const status = batches.get(bid); return status === undefined ? [] : [[bid, status] as const]; })),
      // The index's order and paging, over the batches of the map (the index itself: batch-recent-local.test.ts).
      listRecent: async ({ limit, cursor, text }) => {
        const keyOf = (status: BatchStatus) => `${String(Date.parse(status.createdAt)).padStart(13, '0')}#${status.bid}`;
        const all = [...batches.values()]
          .filter((status) => text === undefined || status.bid.includes(text) || (status.description ?? '').includes(text))
          .sort((a, b) => keyOf(b).localeCompare(keyOf(a)))
          .filter((status) => cursor === undefined || keyOf(status) < cursor);
        const page = all.slice(0, limit).map((status) => ({ bid: status.bid, createdMs: Date.parse(status.createdAt), ...(status.description === undefined ? {} : { description: status.description }) }));
        const last = all[limit - 1];
        return all.length > limit && last !== undefined ? { batches: page, cursor: keyOf(last) } : { batches: page };
      },
      listJobs: async (bid, { statuses, limit, cursor }) => {
        const all = (batchJobs.get(bid) ?? [])
          .filter((job) => statuses.includes(job.status) && (cursor === undefined || job.jid > cursor))
          .sort((a, b) => a.jid.localeCompare(b.jid));
        const page = all.slice(0, limit);
        return all.length > limit ? { jobs: page, cursor: page.at(-1)?.jid ?? '' } : { jobs: page };
      },
    },
    jobStates: { get: async (jid) => jobStates.get(jid) },
    flows: {
      get: async (id) => {
        const state = flows.get(id);
        return state === undefined ? undefined : flowView(state);
      },
      retry: async (id) => {
        const state = flows.get(id);
        if (state === undefined) throw new FlowNotFoundError(id);
        const next = retryFlow(state.plan, state, new Date(nowMs));
        if (next === undefined) throw new FlowNotRetryableError(id, state.status);
        const written = { ...state, ...next, version: state.version + 1 };
        flows.set(id, written);
        return flowView(written);
      },
    },
    iterations: { get: async (jid) => iterations.get(jid) },
    cronRuns: { getRun: async (name) => cronRuns.get(name) },
    stats,
    quotaStore: new MemoryLimiterStore(),
    limits: { queryPartition: async (pk) => limits.get(pk) ?? [] },
    tenantOverrides,
    logger: createLogger({ sink: (line) => lines.push(line), now: () => new Date(nowMs) }),
    metrics: createMetrics({ sink: (line) => emf.push(jsonObject(line)) }),
  };
  const handler = createApiHandler({ context: () => context, log: (line) => lines.push(line) });
  const call = async (event: LambdaFunctionURLEvent): Promise<ApiResponse & { json: unknown }> => {
    const response = await handler(event);
    return { ...response, json: response.body === '' ? undefined : JSON.parse(response.body) };
  };
  return { call, sqs, scheduled, backend, sets, waiting, batches, batchJobs, jobStates, flows, iterations, cronRuns, stats, limits, tenantOverrides, lines, emf, context, routes: apiRoutes(context), setNow: (ms: number) => { nowMs = ms; } };
}
