/**
 * The environment variables through which the CDK construct configures Hopper's functions and
 * users' workers. The construct sets them; lib/ reads them only through this module.
 */
import { ConfigurationError } from './errors';
import { isRecord } from './job';

/** Names of the environment variables Hopper reads. */
export const ENV = {
  /** Name of the state table (scheduled set, dead set, batches, unique locks, cron ticks, stats). */
  stateTable: 'HOPPER_STATE_TABLE',
  /** Name of the limits table (rate limiters, quotas). */
  limitsTable: 'HOPPER_LIMITS_TABLE',
  /** `on` to keep processed/failed rollups in the state table (lib/stats); anything else: off. */
  stats: 'HOPPER_STATS',
  /** API: JSON quotas declaration (lib/quota `parseQuotas`). */
  quotas: 'HOPPER_QUOTAS',
  /** API: JSON object, queue name → UUID of the event source mapping that feeds its worker. */
  queueMappings: 'HOPPER_QUEUE_MAPPINGS',
  /** API: JSON object, queue name → `{ maxBacklog?, maxLatency? }` (messages, seconds). */
  backlogLimits: 'HOPPER_BACKLOG_LIMITS',
  /** API: JSON object, principal (user or role ARN, account id) → tenant id. */
  tenants: 'HOPPER_TENANTS',
  /** API: largest request body accepted, in bytes. */
  apiMaxBodyBytes: 'HOPPER_API_MAX_BODY_BYTES',
  /** URL of the retries queue (failure envelopes and every job queue's redrive target). */
  retriesQueueUrl: 'HOPPER_RETRIES_QUEUE_URL',
  /** JSON object: queue name → queue URL, for every declared queue. */
  queueUrls: 'HOPPER_QUEUE_URLS',
  /** Days a dead job is kept before DynamoDB's TTL removes it. */
  deadTtlDays: 'HOPPER_DEAD_TTL_DAYS',
  /** Default number of retries for jobs that do not say. */
  defaultRetry: 'HOPPER_DEFAULT_RETRY',
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads a required variable or throws a ConfigurationError naming it. */
export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} is not set; it is set by the JobSystem construct (did you call jobs.addWorker(fn)?)`);
  }
  return value;
}

/** Reads `HOPPER_QUEUE_URLS` (queue name → URL). */
export function queueUrlsFromEnv(env: Env): Readonly<Record<string, string>> {
  const raw = requireEnv(env, ENV.queueUrls);
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
