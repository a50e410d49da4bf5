/**
 * The custom resource that writes the configuration document (./document.ts) at deploy. CloudFormation
 * invokes it on create, update and delete with the resource's properties — `TableName`, `Part`
 * (the item's sort key), `Version` and `Variables` (variable name → value, references resolved) — and waits for the answer PUT to
 * the pre-signed `ResponseURL`. Every failure is answered FAILED with its reason, so a deploy rolls
 * back at once instead of waiting an hour for an answer that never comes.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dynamoClientOf } from '../aws/clients.js';
import { HopperConfig } from './hopper-config.js';
import { loadDynamoSdk, type StateCommands } from '../aws/dynamo.js';
import { withAttempts } from '../common/attempts.js';
import { ConfigurationError } from '../errors/base.js';
import { isRecord } from '../job/model.js';
import { CONFIG_ITEM } from './document.js';
import type { Env } from './env.js';

/** A CloudFormation custom resource request (the fields Hopper reads). */
export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Readonly<Record<string, unknown>>;
}

/** The answer CloudFormation reads from the response URL. */
export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
}

/** Options of {@link createConfigWriter}. */
export interface ConfigWriterOptions {
  /** @default process.env */
  readonly env?: Env;
  /** @default a DynamoDB client for `env` */
  readonly dynamo?: StateCommands;
  /** Sends the answer. @default an HTTP(S) PUT of the JSON body, as CloudFormation's own helper does */
  readonly respond?: (url: string, body: string) => Promise<void>;
  /** Waits between tries of the write. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Tries of the write: 5, 0.25 s apart and doubling (under 4 s in all, of the function's 30). */
const WRITE_ATTEMPTS = { attempts: 5, firstDelayMs: 250 } as const;

/** Errors no second try can change: a refusal of the request itself. */
function isFinalWriteError(error: unknown): boolean {
  return error instanceof Error && ['AccessDeniedException', 'ValidationException', 'ResourceNotFoundException', 'ItemCollectionSizeLimitExceededException'].includes(error.name);
}

/** The document the resource's properties describe. */
interface DocumentProperties {
  readonly table: string;
  readonly part: string;
  readonly version: string;
  readonly variables: Readonly<Record<string, string>>;
}

/**
 * Creates the custom resource's handler.
 *
 * @example
 * export const handler = createConfigWriter();
 */
export function createConfigWriter(options: ConfigWriterOptions = {}): (event: CustomResourceEvent) => Promise<CustomResourceResponse> {
  const env = options.env ?? process.env;
  let client: Promise<StateCommands> | undefined;
  const dynamo = (): Promise<StateCommands> => (client ??= options.dynamo === undefined ? dynamoClientOf(HopperConfig.of(env)) : Promise.resolve(options.dynamo));
  const respond = options.respond ?? putResponse;

  return async (event) => {
    let status: CustomResourceResponse['Status'] = 'SUCCESS';
    let reason: string | undefined;
    let physicalId = event.PhysicalResourceId ?? `${event.LogicalResourceId}-${event.RequestId}`;
    try {
      const document = documentProperties(event.ResourceProperties);
      // One resource per table: a new table (a replaced one) is a new resource, and CloudFormation
      // deletes the old one, whose item goes with its table.
      physicalId = `${document.table}/${CONFIG_ITEM.pk}/${document.part}`;
      const [sdk, db] = await Promise.all([loadDynamoSdk(), dynamo()]);
      const Key = { pk: { S: CONFIG_ITEM.pk }, sk: { S: document.part } };
      // A transient error is tried again rather than failing the whole deploy.
      await withAttempts(async () => {
        if (event.RequestType === 'Delete') {
          try {
            await db.send(new sdk.DeleteItemCommand({ TableName: document.table, Key }));
          } catch (error) {
            // The table went first (its own delete, or a failed create): nothing is left to remove.
            if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
          }
        } else {
          await db.send(new sdk.PutItemCommand({
            TableName: document.table,
            Item: { ...Key, [CONFIG_ITEM.version]: { S: document.version }, [CONFIG_ITEM.variables]: { S: JSON.stringify(document.variables) } },
          }));
        }
      }, { ...WRITE_ATTEMPTS, isFinal: isFinalWriteError, ...(options.sleep === undefined ? {} : { sleep: options.sleep }) });
    } catch (error) {
      status = 'FAILED';
      reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    const response: CustomResourceResponse = {
      Status: status,
      ...(reason === undefined ? {} : { Reason: reason.slice(0, 1000) }),
      PhysicalResourceId: physicalId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
    };
    await respond(event.ResponseURL, JSON.stringify(response));
    return response;
  };
}

/** Reads `TableName`, `Part`, `Version` and `Variables` from a request's properties. */
function documentProperties(properties: Readonly<Record<string, unknown>>): DocumentProperties {
  const { TableName: table, Part: part, Version: version, Variables: variables } = properties;
  if (typeof table !== 'string' || table === '') throw new ConfigurationError('the configuration resource needs TableName, the state table\'s name');
  const parts: readonly string[] = Object.values(CONFIG_ITEM.parts);
  if (typeof part !== 'string' || !parts.includes(part)) throw new ConfigurationError(`the configuration resource needs Part, one of ${parts.join(', ')}, but ${JSON.stringify(part)} was provided`);
  if (typeof version !== 'string' || version === '') throw new ConfigurationError('the configuration resource needs Version, the document\'s version');
  if (!isRecord(variables)) throw new ConfigurationError('the configuration resource needs Variables, an object of variable name to value');
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value !== 'string') throw new ConfigurationError(`Variables.${name} must be a string, but it is ${typeof value}`);
    values[name] = value;
  }
  return { table, part, version, variables: values };
}

/** PUTs `body` to a pre-signed URL with no content type, as CloudFormation's signature expects. */
function putResponse(url: string, body: string): Promise<void> {
  const target = new URL(url);
  const send = target.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`the response URL answered ${status}`));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
