/**
 * The API function's configuration, read once from the environment the JobSystem construct sets
 * (names in lib/env.ts) and validated, so a misconfigured function fails at its first request
 * with the variable's name.
 */
import { ENV, intFromEnv, queueUrlsFromEnv, type Env } from '../env';
import { ConfigurationError } from '../errors';
import { isRecord, JOB_DEFAULTS } from '../job';
import { parseQuotas, type ResolvedQuotas } from '../quota';

/** Defaults of the API. */
export const API_DEFAULTS = {
  /** Largest request body, bytes (SQS's own message limit is 1 MiB; a request is many jobs). */
  maxBodyBytes: 256 * 1024,
  /** Most jobs in one `POST /v1/jobs`. */
  maxJobsPerRequest: 1000,
  /** How long queue attributes and mapping states are reused within one instance. */
  queueCacheMs: 5_000,
} as const;

/** Backlog limits of one queue. */
export interface BacklogLimit {
  /** Most messages waiting (visible) before enqueues are refused. */
  readonly maxBacklog?: number;
  /** Most seconds a new job is expected to wait before enqueues are refused. */
  readonly maxLatency?: number;
}

/** What the API knows about its JobSystem. */
export interface ApiConfig {
  readonly queueUrls: Readonly<Record<string, string>>;
  /** Queue name → UUID of the event source mapping feeding its worker. */
  readonly queueMappings: Readonly<Record<string, string>>;
  readonly backlogLimits: Readonly<Record<string, BacklogLimit>>;
  readonly quotas: ResolvedQuotas;
  /** Principal → tenant. */
  readonly tenants: Readonly<Record<string, string>>;
  readonly maxBodyBytes: number;
  /** `retry` of jobs that do not say (HOPPER_DEFAULT_RETRY). */
  readonly defaultRetry: number;
}

/** Reads the API's configuration from `env`. @throws ConfigurationError naming the variable. */
export function apiConfigFromEnv(env: Env): ApiConfig {
  return {
    queueUrls: queueUrlsFromEnv(env),
    queueMappings: stringMap(env, ENV.queueMappings),
    backlogLimits: backlogLimits(env),
    quotas: parseQuotas(env[ENV.quotas]),
    tenants: stringMap(env, ENV.tenants),
    maxBodyBytes: intFromEnv(env, ENV.apiMaxBodyBytes, API_DEFAULTS.maxBodyBytes),
    defaultRetry: intFromEnv(env, ENV.defaultRetry, JOB_DEFAULTS.retry),
  };
}

function objectFromEnv(env: Env, name: string, shape: string): Record<string, unknown> {
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

function stringMap(env: Env, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(objectFromEnv(env, name, 'name to string'))) {
    if (typeof value !== 'string' || value === '') throw new ConfigurationError(`environment variable ${name} must map names to non-empty strings, but ${JSON.stringify(key)} does not`);
    result[key] = value;
  }
  return result;
}

function backlogLimits(env: Env): Record<string, BacklogLimit> {
  const name = ENV.backlogLimits;
  const result: Record<string, BacklogLimit> = {};
  for (const [queue, value] of Object.entries(objectFromEnv(env, name, 'queue name to { maxBacklog, maxLatency }'))) {
    if (!isRecord(value)) throw new ConfigurationError(`environment variable ${name}: ${queue} must be an object with maxBacklog or maxLatency`);
    const limit: { maxBacklog?: number; maxLatency?: number } = {};
    for (const field of ['maxBacklog', 'maxLatency'] as const) {
      const number = value[field];
      if (number === undefined) continue;
      if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) {
        throw new ConfigurationError(`environment variable ${name}: ${queue}.${field} must be a positive integer, but ${JSON.stringify(number)} was provided`);
      }
      limit[field] = number;
    }
    result[queue] = limit;
  }
  return result;
}
