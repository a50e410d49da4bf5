/**
 * Hopper's configuration as one typed object. A function instance reads it once from its
 * environment (with the configuration document merged in, ./document.ts) and hands the object to
 * every part it builds; no part reads the environment itself. Each value is parsed and checked on
 * its first use (a worker never parses the API's settings) and kept, so a misconfigured variable
 * fails with a ConfigurationError naming it, once, where it is first needed.
 */
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { ConfigurationError } from '../errors/base.js';
import { JOB_DEFAULTS } from '../job/model.js';
import { parseQueueTiers, parseTierMappings, type QueueTiers, type TierMappings } from './queue-tiers.js';
import { DEAD_TTL_DAYS, ENV, clockFromEnv, intFromEnv, msClockFromEnv, METRICS_OFF, numberMapFromEnv, queueUrlsFromEnv, requireEnv, SET_BY_JOB_SYSTEM, STATS_ON, type Env } from './env.js';
import { parseQueueConcurrency, type QueueConcurrency } from './queue-concurrency.js';
import { parseTenantCaps, type QueueTenantCaps } from './tenant-caps.js';

/** What every AWS client Hopper makes is configured with. */
export interface AwsSettings {
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Endpoint overrides (`AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`), as the local runtime sets them. */
  readonly endpoints: { readonly sqs?: string; readonly dynamodb?: string; readonly lambda?: string };
}

/** The CloudWatch metrics a function prints (lib/observability/emf.ts). */
export interface MetricsSettings {
  /** False when `HOPPER_METRICS` is `off`. */
  readonly enabled: boolean;
  readonly namespace?: string;
  readonly maxJobTypes?: number;
}

const byEnvironment = new WeakMap<Env, HopperConfig>();

/** The configuration of one function instance (or one test's environment). */
export class HopperConfig {
  /**
   * The configuration `env` describes: the same object for the same environment object, so parts
   * built apart from one environment (a handler and its worker) still share one reading.
   */
  static of(env: Env = process.env): HopperConfig {
    let config = byEnvironment.get(env);
    if (config === undefined) {
      config = new HopperConfig(env);
      byEnvironment.set(env, config);
    }
    return config;
  }

  /** The environment it reads (kept for what is not Hopper's: the Lambda runtime's own variables). */
  readonly env: Env;
  private readonly values = new Map<string, unknown>();

  private constructor(env: Env) {
    this.env = env;
  }

  /** The state table's name (`HOPPER_STATE_TABLE`). @throws ConfigurationError when unset */
  get stateTable(): string {
    return this.read(ENV.stateTable, () => requireEnv(this.one(ENV.stateTable), ENV.stateTable));
  }

  /** Whether a state table is named (features that need one are off without it). */
  get hasStateTable(): boolean {
    const name = this.variable(ENV.stateTable);
    return name !== undefined && name !== '';
  }

  /** The limits table's name (`HOPPER_LIMITS_TABLE`). @throws ConfigurationError when unset */
  get limitsTable(): string {
    return this.read(ENV.limitsTable, () => requireEnv(this.one(ENV.limitsTable), ENV.limitsTable));
  }

  /** The retries queue's URL (`HOPPER_RETRIES_QUEUE_URL`). @throws ConfigurationError when unset */
  get retriesQueueUrl(): string {
    return this.read(ENV.retriesQueueUrl, () => requireEnv(this.one(ENV.retriesQueueUrl), ENV.retriesQueueUrl));
  }

  /**
   * Queue name → URL of every job queue (`HOPPER_QUEUE_URLS`).
   * @param howToSet what the error says to do when it is missing
   * @throws ConfigurationError when unset or malformed
   */
  queueUrls(howToSet: string = SET_BY_JOB_SYSTEM): Readonly<Record<string, string>> {
    return this.read(ENV.queueUrls, () => queueUrlsFromEnv(this.one(ENV.queueUrls), howToSet));
  }

  /** Queue name → visibility timeout in seconds (`HOPPER_QUEUE_VISIBILITY`; empty when unset). */
  get queueVisibility(): Readonly<Record<string, number>> {
    return this.read(ENV.queueVisibility, () => numberMapFromEnv(this.one(ENV.queueVisibility), ENV.queueVisibility));
  }

  /** Queue name → its concurrency cap (`HOPPER_QUEUE_CONCURRENCY`; capped queues only). */
  get queueConcurrency(): Readonly<Record<string, QueueConcurrency>> {
    return this.read(ENV.queueConcurrency, () => parseQueueConcurrency(this.one(ENV.queueConcurrency)));
  }

  /** Queue name → its priority tiers (`HOPPER_QUEUE_TIERS`; queues declaring tiers only). */
  get queueTiers(): QueueTiers {
    return this.read(ENV.queueTiers, () => parseQueueTiers(this.one(ENV.queueTiers)));
  }

  /** Queue name → its tiers' mappings and total invocations (`HOPPER_TIER_MAPPINGS`; queues declaring tiers only). */
  get tierMappings(): Readonly<Record<string, TierMappings>> {
    return this.read(ENV.tierMappings, () => parseTierMappings(this.one(ENV.tierMappings)));
  }

  /** Queue name → its per-tenant caps (`HOPPER_TENANT_CAPS`; queues declaring `perTenant` only). */
  get tenantCaps(): Readonly<Record<string, QueueTenantCaps>> {
    return this.read(ENV.tenantCaps, () => parseTenantCaps(this.one(ENV.tenantCaps)));
  }

  /**
   * The queues whose delayed jobs all wait in the scheduled set (`HOPPER_LISTED_QUEUES`, the queue
   * option `listScheduled`); empty when unset.
   * @throws ConfigurationError when it is not a JSON array of queue names
   */
  get listedQueues(): ReadonlySet<string> {
    return this.read(ENV.listedQueues, () => {
      const raw = this.variable(ENV.listedQueues);
      if (raw === undefined || raw === '') return new Set<string>();
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || !parsed.every((name) => typeof name === 'string')) {
        throw new ConfigurationError(`environment variable ${ENV.listedQueues} must be a JSON array of queue names, but ${JSON.stringify(raw.slice(0, 80))} was provided`);
      }
      return new Set<string>(parsed);
    });
  }

  /** Queue name → its `maxReceiveCount` (`HOPPER_QUEUE_MAX_RECEIVES`; empty when unset). */
  get queueMaxReceives(): Readonly<Record<string, number>> {
    return this.read(ENV.queueMaxReceives, () => numberMapFromEnv(this.one(ENV.queueMaxReceives), ENV.queueMaxReceives));
  }

  /** Days a dead job is kept (`HOPPER_DEAD_TTL_DAYS`, default 180). */
  get deadTtlDays(): number {
    return this.read(ENV.deadTtlDays, () => intFromEnv(this.one(ENV.deadTtlDays), ENV.deadTtlDays, DEAD_TTL_DAYS));
  }

  /** Retries of a job that does not say (`HOPPER_DEFAULT_RETRY`, default Sidekiq's 25). */
  get defaultRetry(): number {
    return this.read(ENV.defaultRetry, () => intFromEnv(this.one(ENV.defaultRetry), ENV.defaultRetry, JOB_DEFAULTS.retry));
  }

  /** The clock: the real one, moved by `HOPPER_CLOCK_OFFSET_MS` when set. */
  get clock(): () => Date {
    return this.read(ENV.clockOffsetMs, () => clockFromEnv(this.one(ENV.clockOffsetMs)));
  }

  /** The clock in epoch milliseconds, for code that reads it often (the worker, once per step). */
  get clockMs(): () => number {
    return msClockFromEnv(this.one(ENV.clockOffsetMs));
  }

  /** Whether processed/failed rollups are kept: `HOPPER_STATS=on` and a state table. */
  get statsOn(): boolean {
    return this.variable(ENV.stats) === STATS_ON && this.hasStateTable;
  }

  /** The EMF metrics' settings (`HOPPER_METRICS`, `HOPPER_METRICS_NAMESPACE`, `HOPPER_METRICS_MAX_JOBTYPES`). */
  get metrics(): MetricsSettings {
    return this.read(ENV.metrics, () => {
      const namespace = this.variable(ENV.metricsNamespace);
      const maxJobTypes = Number(this.variable(ENV.metricsMaxJobTypes));
      return {
        enabled: this.variable(ENV.metrics) !== METRICS_OFF,
        ...(namespace === undefined || namespace === '' ? {} : { namespace }),
        ...(Number.isInteger(maxJobTypes) && maxJobTypes > 0 ? { maxJobTypes } : {}),
      };
    });
  }

  /** `HOPPER_LOG_LEVEL`: the lowest level a worker logs, as set (the logger parses it). */
  get logLevel(): string | undefined {
    return this.variable(ENV.logLevel);
  }

  /** `HOPPER_MIDDLEWARE`: `bundled` (Hopper's functions), `declared` (workers) or undefined (lib/middleware/load.ts). */
  get middleware(): string | undefined {
    const mode = this.variable(ENV.middleware);
    return mode === '' ? undefined : mode;
  }

  /** `HOPPER_SWEEP_HELPER`: the function the scheduler hands a share of a backlog to, when set. */
  get sweepHelper(): string | undefined {
    const name = this.variable(ENV.sweepHelper);
    return name === '' ? undefined : name;
  }

  /** Region, static credentials and endpoint overrides for AWS clients, when the environment has them. */
  get aws(): AwsSettings {
    return this.read('aws', () => {
      const env = this.env;
      const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
      const endpoint = (service: string): string | undefined => env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
      const endpoints = { sqs: endpoint('SQS'), dynamodb: endpoint('DYNAMODB'), lambda: endpoint('LAMBDA') };
      return {
        ...(region === undefined ? {} : { region }),
        ...(accessKeyId === undefined || secretAccessKey === undefined ? {} : { credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) } }),
        endpoints: Object.fromEntries(Object.entries(endpoints).filter(([, url]) => url !== undefined)),
      };
    });
  }

  /** A client configuration for `service` from {@link aws}: region, credentials and its endpoint. */
  clientConfig(service: keyof AwsSettings['endpoints']): Pick<DynamoDBClientConfig, 'region' | 'credentials' | 'endpoint'> {
    const { region, credentials, endpoints } = this.aws;
    const endpoint = endpoints[service];
    return { ...(region === undefined ? {} : { region }), ...(credentials === undefined ? {} : { credentials }), ...(endpoint === undefined ? {} : { endpoint }) };
  }

  /** The environment's value of `name`, read once. */
  private variable(name: string): string | undefined {
    return this.read(`variable:${name}`, () => this.env[name]);
  }

  /** An environment of just `name` (read once), for the parsers of ./env.ts. */
  private one(name: string): Env {
    return { [name]: this.variable(name) };
  }

  /** `parse()`'s value, parsed once; a parse that throws is not kept. */
  private read<T>(key: string, parse: () => T): T {
    if (!this.values.has(key)) this.values.set(key, parse());
    return this.values.get(key) as T;
  }
}
