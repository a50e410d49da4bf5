/**
 * The API function's configuration: what it reads beyond Hopper's shared configuration
 * (lib/config/hopper-config.ts), read once and validated, so a misconfigured function fails at its
 * first request with the variable's name.
 */
import type { QueueTiers, TierMappings } from '../config/queue-tiers.js';
import { CronDefinitionError, resolveCron, type CronDefinition, type ResolvedCron } from '../cron/definition.js';
import { ENV, intFromEnv, jsonObjectFromEnv, type Env } from '../config/env.js';
import type { HopperConfig } from '../config/hopper-config.js';
import type { QueueTenantCaps } from '../config/tenant-caps.js';
import type { QueueConcurrency } from '../config/queue-concurrency.js';
import { ConfigurationError } from '../errors/base.js';
import { isRecord } from '../job/model.js';
import { parseQuotas, type ResolvedQuotas } from '../quota/index.js';

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
  /** The queues' priority tiers (HOPPER_QUEUE_TIERS). */
  readonly queueTiers: QueueTiers;
  /** The tiers' mappings and each tiered queue's total invocations (HOPPER_TIER_MAPPINGS). */
  readonly tierMappings: Readonly<Record<string, TierMappings>>;
  /** Queue name → UUID of the event source mapping feeding its worker. */
  readonly queueMappings: Readonly<Record<string, string>>;
  readonly backlogLimits: Readonly<Record<string, BacklogLimit>>;
  readonly quotas: ResolvedQuotas;
  /** Principal → tenant. */
  readonly tenants: Readonly<Record<string, string>>;
  readonly maxBodyBytes: number;
  /** `retry` of jobs that do not say (HOPPER_DEFAULT_RETRY). */
  readonly defaultRetry: number;
  /** The JobSystem's crons, validated, in declaration order (HOPPER_CRONS). */
  readonly crons: readonly ResolvedCron[];
  /** The caps of the queues whose `maxConcurrency` is set (HOPPER_QUEUE_CONCURRENCY). */
  readonly queueConcurrency: Readonly<Record<string, QueueConcurrency>>;
  /** The per-tenant caps of the queues declaring `perTenant` (HOPPER_TENANT_CAPS). */
  readonly tenantCaps: Readonly<Record<string, QueueTenantCaps>>;
  /** URLs of the retries queue and its DLQ (HOPPER_RETRIES_QUEUE_URL, HOPPER_RETRIES_DLQ_URL), for the DLQ's redrive; unset without them. */
  readonly redrive?: { readonly from: string; readonly to: string };
}

/** The API's configuration in `hopper`. @throws ConfigurationError naming the variable. */
export function apiConfigOf(hopper: HopperConfig): ApiConfig {
  const { env } = hopper;
  const from = env[ENV.retriesDlqUrl];
  const to = env[ENV.retriesQueueUrl];
  return {
    queueUrls: hopper.queueUrls(),
    queueTiers: hopper.queueTiers,
    tierMappings: hopper.tierMappings,
    queueMappings: stringMap(env, ENV.queueMappings),
    backlogLimits: backlogLimits(env),
    quotas: parseQuotas(env[ENV.quotas]),
    tenants: stringMap(env, ENV.tenants),
    maxBodyBytes: intFromEnv(env, ENV.apiMaxBodyBytes, API_DEFAULTS.maxBodyBytes),
    defaultRetry: hopper.defaultRetry,
    crons: cronsOf(hopper),
    queueConcurrency: hopper.queueConcurrency,
    tenantCaps: hopper.tenantCaps,
    ...(from === undefined || from === '' || to === undefined || to === '' ? {} : { redrive: { from, to } }),
  };
}

/** `HOPPER_CRONS`: the definitions the construct validated, validated again with the same rules. */
export function cronsOf(hopper: HopperConfig): ResolvedCron[] {
  const name = ENV.crons;
  const raw = hopper.env[name];
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`environment variable ${name} must be a JSON array of cron definitions, but it is not JSON`);
  }
  if (!Array.isArray(parsed)) throw new ConfigurationError(`environment variable ${name} must be a JSON array of cron definitions`);
  return parsed.map((definition: unknown, index) => {
    if (!isRecord(definition)) throw new ConfigurationError(`environment variable ${name}: [${index}] must be an object { name, schedule, timezone, job }`);
    try {
      // The shape is checked field by field by resolveCron; the record only needs to be passed through.
      return resolveCron(cronDefinition(definition));
    } catch (error) {
      if (error instanceof CronDefinitionError) throw new ConfigurationError(`environment variable ${name}: [${index}].${error.field}: ${error.message}`);
      throw error;
    }
  });
}

function cronDefinition(record: Readonly<Record<string, unknown>>): CronDefinition {
  const { name, schedule, timezone, job } = record;
  if (typeof name !== 'string') throw new CronDefinitionError('name', `name must be a string, but ${JSON.stringify(name)} was provided`);
  if (typeof schedule !== 'string') throw new CronDefinitionError('schedule', `schedule must be a string, but ${JSON.stringify(schedule)} was provided`);
  if (timezone !== undefined && typeof timezone !== 'string') throw new CronDefinitionError('timezone', `timezone must be a string, but ${JSON.stringify(timezone)} was provided`);
  if (!isRecord(job) || typeof job.jobtype !== 'string') throw new CronDefinitionError('job', 'job must be an object with a jobtype');
  const { jobtype, args, queue, retry, reserve_for: reserveFor, custom } = job;
  if (args !== undefined && !Array.isArray(args)) throw new CronDefinitionError('job.args', 'job.args must be an array');
  if (queue !== undefined && typeof queue !== 'string') throw new CronDefinitionError('job.queue', 'job.queue must be a string');
  if (retry !== undefined && typeof retry !== 'number') throw new CronDefinitionError('job.retry', 'job.retry must be a number');
  if (reserveFor !== undefined && typeof reserveFor !== 'number') throw new CronDefinitionError('job.reserve_for', 'job.reserve_for must be a number');
  if (custom !== undefined && !isRecord(custom)) throw new CronDefinitionError('job.custom', 'job.custom must be an object');
  return {
    name,
    schedule,
    ...(timezone === undefined ? {} : { timezone }),
    job: {
      jobtype,
      ...(args === undefined ? {} : { args }),
      ...(queue === undefined ? {} : { queue }),
      ...(retry === undefined ? {} : { retry }),
      ...(reserveFor === undefined ? {} : { reserve_for: reserveFor }),
      ...(custom === undefined ? {} : { custom }),
    },
  };
}

function stringMap(env: Env, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(jsonObjectFromEnv(env, name, 'name to string'))) {
    if (typeof value !== 'string' || value === '') throw new ConfigurationError(`environment variable ${name} must map names to non-empty strings, but ${JSON.stringify(key)} does not`);
    result[key] = value;
  }
  return result;
}

function backlogLimits(env: Env): Record<string, BacklogLimit> {
  const name = ENV.backlogLimits;
  const result: Record<string, BacklogLimit> = {};
  for (const [queue, value] of Object.entries(jsonObjectFromEnv(env, name, 'queue name to { maxBacklog, maxLatency }'))) {
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
