/**
 * The parts of the JobSystem that serve its HTTP API: the api function (`ApiFunction`) behind a
 * Function URL with IAM auth, its rights, the environment it reads (lib/config/env.ts names), and
 * the validation of the props only the API uses.
 */
import type { MiddlewareBundle } from './middleware-bundle.js';
import { Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { ResolvedCron } from '../lib/cron/definition.js';
import { ENV } from '../lib/config/env.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { resolveQuotas, type QuotasConfig } from '../lib/quota/index.js';
import { HopperFunction } from './hopper-function.js';
import { hopperEntry, pinnedToHopperPackage } from './hopper-package.js';
import { RECENT_BATCHES } from '../lib/storage/keys.js';
import type { QueueOptions } from './job-system-props.js';
import { grantOnEach, grantStateItems } from './job-system-grants.js';
import { TENANT_CAP_KEYS } from '../lib/limiters/keys.js';
import type { JobQueues } from './job-system-queues.js';
import { resolvedSeconds, validateIntegerRange } from './validation.js';

/** Bounds of the API's body limit: Lambda refuses synchronous payloads over 6 MiB anyway. */
export const API_BODY_BOUNDS = { min: 1024, max: 6 * 1024 * 1024 } as const;

/**
 * Validates `quotas` (the same rules the api function applies) and that every queue quota names a
 * declared queue.
 *
 * @returns the JSON the api function receives as `HOPPER_QUOTAS`, or undefined without quotas.
 */
export function quotasJson(quotas: QuotasConfig | undefined, queueNames: readonly string[]): string | undefined {
  if (quotas === undefined) return undefined;
  const resolved = resolveQuotas(quotas);
  for (const queue of resolved.queues.keys()) {
    if (!queueNames.includes(queue)) throw new ConfigurationError(`quotas.queues.${queue} names a queue that is not declared; declared queues: ${queueNames.join(', ')}`);
  }
  return JSON.stringify(quotas);
}

/** Validates the tenant map. @returns its JSON, or undefined when empty. */
export function tenantsJson(tenants: Readonly<Record<string, string>> | undefined): string | undefined {
  if (tenants === undefined || Object.keys(tenants).length === 0) return undefined;
  for (const [principal, tenant] of Object.entries(tenants)) {
    if (Token.isUnresolved(principal) || Token.isUnresolved(tenant)) continue;
    if (principal === '' || typeof tenant !== 'string' || tenant === '' || tenant.length > 256) {
      throw new ConfigurationError(`tenants.${principal || '""'} must be a tenant id of 1 to 256 characters, but ${JSON.stringify(tenant)} was provided`);
    }
  }
  return JSON.stringify(tenants);
}

/** The queues' backlog limits as the api function reads them (`HOPPER_BACKLOG_LIMITS`). */
export function backlogLimitsJson(queues: ReadonlyMap<string, QueueOptions>): string | undefined {
  const limits: Record<string, { maxBacklog?: number; maxLatency?: number }> = {};
  for (const [name, options] of queues) {
    const maxLatency = options.maxLatency === undefined ? undefined : resolvedSeconds(options.maxLatency);
    if (options.maxBacklog === undefined && maxLatency === undefined) continue;
    limits[name] = { ...(options.maxBacklog === undefined ? {} : { maxBacklog: options.maxBacklog }), ...(maxLatency === undefined ? {} : { maxLatency }) };
  }
  return Object.keys(limits).length === 0 ? undefined : JSON.stringify(limits);
}

/**
 * The crons as the api function reads them (`HOPPER_CRONS`, for `GET /v1/crons` and triggering):
 * each definition as declared, so the function validates it with the same rules.
 *
 * @returns the JSON, or undefined without crons.
 */
export function cronsJson(crons: readonly ResolvedCron[]): string | undefined {
  if (crons.length === 0) return undefined;
  return JSON.stringify(crons.map((cron) => ({ name: cron.name, schedule: cron.expression.source, timezone: cron.timezone, job: cron.job })));
}

/** The api function's own variables, besides the JobSystem's environment. */
export function apiEnvironment(input: {
  readonly quotas?: string;
  readonly tenants?: string;
  readonly backlogLimits?: string;
  readonly maxBodyBytes?: number;
  readonly queueMappings: string;
  readonly crons?: string;
  /** URL of the retries queue's dead-letter queue, for redrive. */
  readonly retriesDlqUrl: string;
}): Record<string, string> {
  validateIntegerRange('apiMaxBodyBytes', input.maxBodyBytes, API_BODY_BOUNDS.min, API_BODY_BOUNDS.max);
  return {
    [ENV.queueMappings]: input.queueMappings,
    [ENV.retriesDlqUrl]: input.retriesDlqUrl,
    ...(input.quotas === undefined ? {} : { [ENV.quotas]: input.quotas }),
    ...(input.tenants === undefined ? {} : { [ENV.tenants]: input.tenants }),
    ...(input.backlogLimits === undefined ? {} : { [ENV.backlogLimits]: input.backlogLimits }),
    ...(input.maxBodyBytes === undefined ? {} : { [ENV.apiMaxBodyBytes]: String(input.maxBodyBytes) }),
    ...(input.crons === undefined ? {} : { [ENV.crons]: input.crons }),
  };
}

/** What the api function is built from. */
export interface ApiFunctionProps {
  readonly queues: JobQueues;
  readonly stateTable: dynamodb.ITable;
  readonly limitsTable: dynamodb.ITable;
  /** Hopper's environment variables (lib/config/env.ts). */
  readonly environment: Readonly<Record<string, string>>;
  /** The api function's own variables ({@link apiEnvironment}). */
  readonly apiVariables: Readonly<Record<string, string>>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The team's middleware, loaded by Hopper's functions (the JobSystem's `middleware` prop). */
  readonly middleware?: MiddlewareBundle;
}

/** The api function and its URL. */
export interface ApiFunction {
  readonly function: lambda.Function;
  /** Auth type AWS_IAM: every request must be SigV4-signed. */
  readonly url: lambda.FunctionUrl;
}

/**
 * Creates the api function (`ApiFunction`) with its Function URL (auth type AWS_IAM, never NONE)
 * and its rights: read queue sizes and enqueue; list, move and delete set entries, fold stats;
 * spend and read quotas; redrive the retries DLQ into the retries queue. Mapping rights are added
 * per worker (`addWorker`).
 */
export function createApiFunction(scope: Construct, props: ApiFunctionProps): ApiFunction {
  const fn = new HopperFunction(scope, 'ApiFunction', {
    entry: hopperEntry('api'),
    description: 'Hopper API: enqueue with quota and backlog backpressure; queues, retries, scheduled, dead, stats, limits',
    ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
    ...(props.middleware === undefined ? {} : { middleware: props.middleware }),
    ...pinnedToHopperPackage(),
  }).function;
  for (const [name, value] of Object.entries(props.environment)) fn.addEnvironment(name, value);
  for (const [name, value] of Object.entries(props.apiVariables)) fn.addEnvironment(name, value);
  // Never NONE: every call must be signed by a principal granted lambda:InvokeFunctionUrl.
  const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  const { arns, retriesQueue, retriesDeadLetterQueue } = props.queues;
  grantOnEach(fn, ['sqs:GetQueueAttributes', 'sqs:SendMessage'], arns);
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resourceArns: [retriesDeadLetterQueue.queueArn] });
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:SendMessage'], resourceArns: [retriesQueue.queueArn] });
  // GetItem: a batch's status and a cron's run record; BatchGetItem: the statuses of a page of the batch list.
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'], resourceArns: [props.stateTable.tableArn] });
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query', 'dynamodb:UpdateItem'], resourceArns: [props.limitsTable.tableArn] });
  // Tenants' cap overrides (PUT and DELETE /v1/limits/tenants/{tenant}): each item and its list entry.
  grantStateItems(fn, props.limitsTable, ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [`${TENANT_CAP_KEYS.prefix}#`, TENANT_CAP_KEYS.list]);
  // The recent-batches index (GET /v1/batches).
  iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query'], resourceArns: [`${props.stateTable.tableArn}/index/${RECENT_BATCHES.indexName}`] });
  return { function: fn, url };
}
