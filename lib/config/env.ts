/**
 * The environment variables through which the CDK construct configures Hopper's functions and
 * users' workers. The construct sets them; lib/ reads them only through this module.
 */
import { ConfigurationError } from '../errors/base.js';
import { isRecord } from '../job/model.js';

/** Names of the environment variables Hopper reads. */
export const ENV = {
  /** Name of the state table (scheduled set, dead set, batches, unique locks, cron ticks, stats). */
  stateTable: 'HOPPER_STATE_TABLE',
  /** Name of the limits table (rate limiters, quotas). */
  limitsTable: 'HOPPER_LIMITS_TABLE',
  /** `on` to keep processed/failed rollups in the state table (lib/stats); anything else: off. */
  stats: 'HOPPER_STATS',
  /** Lowest level a worker logs: `DEBUG`, `INFO` (the default), `WARN` or `ERROR`. */
  logLevel: 'HOPPER_LOG_LEVEL',
  /** `off` to print no CloudWatch metrics (lib/observability/emf.ts); anything else: on. */
  metrics: 'HOPPER_METRICS',
  /** CloudWatch namespace of the metrics. */
  metricsNamespace: 'HOPPER_METRICS_NAMESPACE',
  /** Distinct jobtypes one function instance publishes as their own series. */
  metricsMaxJobTypes: 'HOPPER_METRICS_MAX_JOBTYPES',
  /** API: JSON quotas declaration (lib/quota `parseQuotas`). */
  quotas: 'HOPPER_QUOTAS',
  /** API: JSON object, queue name → UUID of the event source mapping that feeds its worker. */
  queueMappings: 'HOPPER_QUEUE_MAPPINGS',
  /** API: JSON object, queue name → `{ maxBacklog?, maxLatency? }` (messages, seconds). */
  backlogLimits: 'HOPPER_BACKLOG_LIMITS',
  /** API: JSON object, principal (user or role ARN, account id) → tenant id. */
  tenants: 'HOPPER_TENANTS',
  /** API: JSON array of the JobSystem's cron definitions (`{ name, schedule, timezone, job }`), for `/v1/crons`. */
  crons: 'HOPPER_CRONS',
  /** API: largest request body accepted, in bytes. */
  apiMaxBodyBytes: 'HOPPER_API_MAX_BODY_BYTES',
  /** URL of the retries queue (failure envelopes and every job queue's redrive target). */
  retriesQueueUrl: 'HOPPER_RETRIES_QUEUE_URL',
  /** API: URL of the retries queue's dead-letter queue, for `POST /v1/redrive/retries`. */
  retriesDlqUrl: 'HOPPER_RETRIES_DLQ_URL',
  /** JSON object: queue name → queue URL, for every declared queue. */
  queueUrls: 'HOPPER_QUEUE_URLS',
  /** Days a dead job is kept before DynamoDB's TTL removes it. */
  deadTtlDays: 'HOPPER_DEAD_TTL_DAYS',
  /** Default number of retries for jobs that do not say. */
  defaultRetry: 'HOPPER_DEFAULT_RETRY',
  /**
   * JSON array of the queues whose delayed jobs all wait in the scheduled set, listable and
   * deletable (the queue option `listScheduled`); unset when there are none.
   */
  listedQueues: 'HOPPER_LISTED_QUEUES',
  /** JSON object: queue name → visibility timeout in seconds, for the worker's heartbeat. */
  queueVisibility: 'HOPPER_QUEUE_VISIBILITY',
  /**
   * JSON object: queue name → `{ defaultTier, tiers: [{ name, url, targetSeconds }] }` for queues
   * declaring priority tiers (./queue-tiers.ts); unset when there are none.
   */
  queueTiers: 'HOPPER_QUEUE_TIERS',
  /**
   * Governor and API: JSON object, queue name → `{ invocations, perInvocation, mappings: { tier: uuid } }`
   * for queues declaring priority tiers (./queue-tiers.ts).
   */
  tierMappings: 'HOPPER_TIER_MAPPINGS',
  /** JSON object: queue name → `{ jobs, perInvocation, leaseSeconds? }` for capped queues (./queue-concurrency.ts). */
  queueConcurrency: 'HOPPER_QUEUE_CONCURRENCY',
  /**
   * JSON object: queue name → `{ cap: { concurrency?, rate? }, leaseSeconds }` for queues declaring
   * `perTenant` (./tenant-caps.ts).
   */
  tenantCaps: 'HOPPER_TENANT_CAPS',
  /**
   * Retry function: JSON object, queue name → the queue's `maxReceiveCount` (deliveries before SQS
   * redrives a job to the retries queue), for the message of a crashed job.
   */
  queueMaxReceives: 'HOPPER_QUEUE_MAX_RECEIVES',
  /**
   * Version of the configuration document (./document.ts): when set, the variables that grow with
   * the stack (queue URLs and settings, mappings, crons, quotas, tenants) are read from the state
   * table's configuration item rather than the environment.
   */
  configVersion: 'HOPPER_CONFIG',
  /**
   * Milliseconds added to the real clock by Hopper's functions (scheduler, cron, worker, retry).
   * For local runs and tests that look into the future ("20 minutes from now" without waiting 20
   * minutes); the construct never sets it.
   */
  clockOffsetMs: 'HOPPER_CLOCK_OFFSET_MS',
  /**
   * Set when the JobSystem declares `middleware`: `bundled` on Hopper's functions (the team's module
   * is bundled next to their code, lib/middleware/load.ts), `declared` on workers (which import it).
   */
  middleware: 'HOPPER_MIDDLEWARE',
  /** Scheduler: name of the function that sweeps a share of a backlog for it (unset: it sweeps alone). */
  sweepHelper: 'HOPPER_SWEEP_HELPER',
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** `HOPPER_STATS`' value that keeps the stats rollups. */
export const STATS_ON = 'on';
/** `HOPPER_METRICS`' value that turns the EMF metrics off. */
export const METRICS_OFF = 'off';
/** Days a dead job is kept when `HOPPER_DEAD_TTL_DAYS` does not say. */
export const DEAD_TTL_DAYS = 180;

/** What a missing variable's error says unless the reader knows better: where the construct sets it. */
export const SET_BY_JOB_SYSTEM = 'the JobSystem construct sets it: jobs.addWorker(fn) for a worker, jobs.grantEnqueue(fn) for a function that enqueues';

/**
 * Reads a required variable or throws a ConfigurationError naming it.
 *
 * @param howToSet what the error says to do about it
 */
export function requireEnv(env: Env, name: string, howToSet: string = SET_BY_JOB_SYSTEM): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} is not set; ${howToSet}`);
  }
  return value;
}

/**
 * Reads `HOPPER_QUEUE_URLS` (queue name → URL).
 *
 * @param howToSet what the error says to do when it is missing
 */
export function queueUrlsFromEnv(env: Env, howToSet: string = SET_BY_JOB_SYSTEM): Readonly<Record<string, string>> {
  const raw = requireEnv(env, ENV.queueUrls, howToSet);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`environment variable ${ENV.queueUrls} must be a JSON object of queue name to URL, but it is not JSON`);
  }
  if (!isRecord(parsed) || !Object.values(parsed).every((url) => typeof url === 'string')) {
    throw new ConfigurationError(`environment variable ${ENV.queueUrls} must be a JSON object of queue name to URL`);
  }
  const urls: Record<string, string> = {};
  for (const [name, url] of Object.entries(parsed)) if (typeof url === 'string') urls[name] = url;
  return urls;
}

/** Reads an optional positive integer variable. */
export function intFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigurationError(`environment variable ${name} must be a non-negative integer, but ${JSON.stringify(raw)} was provided`);
  }
  return value;
}

/**
 * The clock of Hopper's functions: the real clock plus `HOPPER_CLOCK_OFFSET_MS` (an integer,
 * negative allowed) when set.
 *
 * @throws ConfigurationError when the offset is not an integer.
 * @example
 * const now = clockFromEnv({ HOPPER_CLOCK_OFFSET_MS: '1200000' }); // 20 minutes ahead
 */
export function clockFromEnv(env: Env): () => Date {
  const nowMs = msClockFromEnv(env);
  return () => new Date(nowMs());
}

/**
 * The same clock as {@link clockFromEnv}, in epoch milliseconds: for code that reads it often.
 *
 * @throws ConfigurationError when the offset is not an integer.
 */
export function msClockFromEnv(env: Env): () => number {
  const raw = env[ENV.clockOffsetMs];
  if (raw === undefined || raw === '') return Date.now;
  const offset = Number(raw);
  if (!Number.isSafeInteger(offset)) {
    throw new ConfigurationError(`environment variable ${ENV.clockOffsetMs} must be an integer number of milliseconds, but ${JSON.stringify(raw)} was provided`);
  }
  return () => Date.now() + offset;
}

/**
 * Reads an optional JSON object from `name` (`{}` when unset or empty).
 *
 * @param shape what the object maps, for the error (`name to number`)
 * @throws ConfigurationError naming the variable when it is not JSON or not an object
 */
export function jsonObjectFromEnv(env: Env, name: string, shape: string): Record<string, unknown> {
  const raw = env[name];
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`environment variable ${name} must be a JSON object of ${shape}, but it is not JSON`);
  }
  if (!isRecord(parsed)) throw new ConfigurationError(`environment variable ${name} must be a JSON object of ${shape}`);
  return parsed;
}

/** Reads an optional JSON object of name → non-negative number (such as `HOPPER_QUEUE_VISIBILITY`). */
export function numberMapFromEnv(env: Env, name: string): Readonly<Record<string, number>> {
  const numbers: Record<string, number> = {};
  for (const [key, value] of Object.entries(jsonObjectFromEnv(env, name, 'name to number'))) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new ConfigurationError(`environment variable ${name} must map names to non-negative numbers, but ${JSON.stringify(key)} maps to ${JSON.stringify(value)}`);
    }
    numbers[key] = value;
  }
  return numbers;
}
