/**
 * The configuration document: the variables that grow with a stack (one entry per queue, cron,
 * quota or tenant) kept in the state table (one partition, an item per part) instead of each function's environment,
 * whose 4 KB Lambda refuses to exceed. The construct writes the items at deploy (a custom resource)
 * and sets `HOPPER_CONFIG` (the versions of the parts a function reads) beside the few fixed variables; a function
 * reads the items once per instance (one Query) and sees the same variable names as before, with the same
 * parsers (./env.ts). A variable set in the environment wins over the document's, so a test or a
 * worker defined elsewhere can still pass everything through its environment.
 */
import { withAttempts } from '../common/attempts.js';
import { ConfigurationError } from '../errors/base.js';
import { dynamoClientOf } from '../aws/clients.js';
import { HopperConfig } from './hopper-config.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import { isRecord } from '../job/model.js';
import { ENV, requireEnv, type Env } from './env.js';

/** The variables the construct puts into the document rather than the environment. */
export const DOCUMENT_VARIABLES = [
  ENV.queueUrls, ENV.queueVisibility, ENV.queueConcurrency, ENV.tenantCaps, ENV.queueMaxReceives, ENV.listedQueues,
  ENV.queueMappings, ENV.backlogLimits, ENV.crons, ENV.quotas, ENV.tenants, ENV.queueTiers, ENV.tierMappings,
] as const;

/**
 * Keys and attributes of the document's items in the state table: one partition, one item per part
 * (the event source mappings' ids are a part of their own, written after the workers exist, since
 * the workers themselves read the rest).
 */
export const CONFIG_ITEM = {
  pk: 'config',
  /** The sort keys of the parts. */
  parts: { document: 'document', mappings: 'mappings' },
  /** The part's version, as the construct computed it. */
  version: 'version',
  /** JSON object: variable name → value. */
  variables: 'variables',
} as const;

/** A part of the document: its sort key. */
export type ConfigPart = (typeof CONFIG_ITEM.parts)[keyof typeof CONFIG_ITEM.parts];

/** The part a documented variable belongs to. */
export function partOf(name: string): ConfigPart {
  return name === ENV.queueMappings || name === ENV.tierMappings ? CONFIG_ITEM.parts.mappings : CONFIG_ITEM.parts.document;
}

/** What a function's environment holds once the document is merged in. */
export interface ConfigurationSource {
  /** Reads the state table (tests pass a fake). @default a DynamoDB client for the environment */
  readonly dynamo?: StateCommands;
  /** Waits between tries of the read. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

const loaded = new Map<string, Promise<Env>>();

/**
 * `env` with the configuration document's variables added, read once per instance (per table and
 * version); `env` itself when it names no document (`HOPPER_CONFIG` unset). A failed read is not
 * kept: the next call tries again.
 *
 * @throws ConfigurationError naming the table when the item is missing or malformed.
 */
export function environmentWithDocument(env: Env, source: ConfigurationSource = {}): Promise<Env> {
  const version = env[ENV.configVersion];
  if (version === undefined || version === '') return Promise.resolve(env);
  const table = requireEnv(env, ENV.stateTable);
  const key = `${table}\u0000${version}`;
  let document = loaded.get(key);
  if (document === undefined) {
    // A transient error is tried again: a failed read fails the instance's first invocation.
    document = withAttempts(() => readDocument(env, table, version, source), {
      attempts: 3, firstDelayMs: 100, isFinal: (error) => error instanceof ConfigurationError, ...(source.sleep === undefined ? {} : { sleep: source.sleep }),
    });
    loaded.set(key, document);
    document.catch(() => loaded.delete(key));
  }
  return document.then((variables) => ({ ...variables, ...definedOnly(env) }));
}

/**
 * A handler that merges the document into `env` on its first invocation, then builds the real
 * handler with the result and keeps it for the instance. A failed start is retried on the next
 * invocation.
 *
 * @example
 * export const handler = configuredHandler((env) => createRetryHandler({ env }));
 */
export function configuredHandler<A extends unknown[], R>(
  create: (env: Env) => ((...args: A) => Promise<R>) | Promise<(...args: A) => Promise<R>>,
  env: Env = process.env,
  source: ConfigurationSource = {},
): (...args: A) => Promise<R> {
  let handler: Promise<(...args: A) => Promise<R>> | undefined;
  return async (...args: A) => {
    handler ??= environmentWithDocument(env, source).then(create);
    handler.catch(() => { handler = undefined; });
    return (await handler)(...args);
  };
}

async function readDocument(env: Env, table: string, version: string, source: ConfigurationSource): Promise<Env> {
  const { QueryCommand } = await loadDynamoSdk();
  const client: StateCommands = source.dynamo ?? await dynamoClientOf(HopperConfig.of(env));
  const where = `the configuration items (pk ${CONFIG_ITEM.pk}) of table ${table}`;
  const variables: Record<string, string> = {};
  let items = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const output = await client.send(new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: CONFIG_ITEM.pk } },
      ConsistentRead: true,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }));
    for (const item of output.Items ?? []) {
      items += 1;
      Object.assign(variables, partVariables(item[CONFIG_ITEM.variables]?.S, `${where}, sk ${item.sk?.S ?? '?'},`));
    }
    start = output.LastEvaluatedKey;
  } while (start !== undefined);
  if (items === 0) {
    throw new ConfigurationError(`${where} are missing, though ${ENV.configVersion} is ${version}: the JobSystem construct writes them at deploy, before its functions are updated; deploy the stack again`);
  }
  // A newer document than this function's version is the stack's current configuration (a worker
  // in a stack deployed earlier sees it); it is used as it is.
  return variables;
}

function partVariables(raw: string | undefined, where: string): Record<string, string> {
  let variables: unknown;
  try {
    variables = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`${where} must hold a JSON object in ${CONFIG_ITEM.variables}, but it is not JSON`);
  }
  if (!isRecord(variables) || !Object.values(variables).every((value) => typeof value === 'string')) {
    throw new ConfigurationError(`${where} must hold a JSON object of variable name to string in ${CONFIG_ITEM.variables}`);
  }
  return variables as Record<string, string>;
}

function definedOnly(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}
