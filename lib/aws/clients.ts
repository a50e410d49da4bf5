/**
 * AWS SDK clients configured the same way everywhere, from a function's configuration
 * (../config/hopper-config.ts, read from `process.env` or a test's environment). Endpoints come
 * from the standard `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_DYNAMODB` variables (the local runtime
 * sets them); the SQS client is given the endpoint explicitly so that it never dials the host inside
 * a queue URL (emulators use hosts like `sqs.us-east-1.localhost`). Region and static credentials
 * come from the same environment, so a client built for a test's environment talks as that environment.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HopperConfig } from '../config/hopper-config.js';

/**
 * A middleware added to every AWS client Hopper builds, in the shape of the SDK's
 * `middlewareStack.add(middleware, options)`. For instrumentation that must see every request of a
 * function without changing its code: request counting, tracing, fault injection in tests.
 */
export interface AwsClientMiddleware {
  readonly name: string;
  readonly step: 'initialize' | 'serialize' | 'build' | 'finalizeRequest' | 'deserialize';
  /** The SDK middleware function (`(next, context) => (args) => Promise<output>`). */
  readonly middleware: (next: (args: unknown) => Promise<unknown>, context: Readonly<Record<string, unknown>>) => (args: unknown) => Promise<unknown>;
}

// Kept on globalThis under a registered symbol, so that a module loaded before the handler (with
// `node --import`) can register middleware without importing this bundle's copy of the SDK.
const REGISTRY = Symbol.for('hopper.aws.clientMiddleware');
type Registry = AwsClientMiddleware[];

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  holder[REGISTRY] ??= [];
  return holder[REGISTRY];
}

/**
 * Adds `middleware` to every AWS client built from now on by this process.
 *
 * @returns a function that stops adding it to clients built later
 */
export function registerAwsClientMiddleware(middleware: AwsClientMiddleware): () => void {
  registry().push(middleware);
  return () => {
    const entries = registry();
    const index = entries.indexOf(middleware);
    if (index >= 0) entries.splice(index, 1);
  };
}

/** Applies the registered middleware to a client (any SDK v3 client). */
export function instrument<T extends { middlewareStack: object }>(client: T): T {
  // The stack's `add` is overloaded per step; one loose signature covers them all.
  const stack = client.middlewareStack as { add(middleware: AwsClientMiddleware['middleware'], options: { name: string; step: AwsClientMiddleware['step'] }): void };
  for (const entry of registry()) stack.add(entry.middleware, { name: entry.name, step: entry.step });
  return client;
}

/** An SQS client as Hopper uses it: commands in, outputs out. */
export type SqsClient = Pick<SQSClient, 'send' | 'destroy'>;

/**
 * An SQS client for `config` (endpoint override honoured), built on its first request, so that a
 * function that never calls SQS (a worker whose jobs all succeed) never loads the SQS SDK: that
 * is most of a worker's cold start.
 */
export function sqsClientOf(settings: HopperConfig): SqsClient {
  const clientConfig = settings.clientConfig('sqs');
  const config = { ...clientConfig, ...(clientConfig.endpoint === undefined ? {} : { useQueueUrlAsEndpoint: false }) };
  let built: SQSClient | undefined;
  let building: Promise<SQSClient> | undefined;
  const client = (): Promise<SQSClient> => {
    building ??= import('@aws-sdk/client-sqs').then(({ SQSClient: Client }) => (built = instrument(new Client(config))));
    return building;
  };
  const send = (command: Parameters<SQSClient['send']>[0]) => client().then((sqs) => sqs.send(command));
  return { send: send as SQSClient['send'], destroy: () => built?.destroy() };
}

/**
 * A DynamoDB client for `config`. Loaded lazily so that a worker that never touches DynamoDB never
 * loads its SDK.
 */
export async function dynamoClientOf(config: HopperConfig): Promise<DynamoDBClient> {
  const { DynamoDBClient: Client } = await import('@aws-sdk/client-dynamodb');
  return instrument(new Client(config.clientConfig('dynamodb')));
}
