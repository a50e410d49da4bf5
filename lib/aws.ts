/**
 * AWS SDK clients configured the same way everywhere, from an environment (normally
 * `process.env`). Endpoints come from the standard `AWS_ENDPOINT_URL_SQS` /
 * `AWS_ENDPOINT_URL_DYNAMODB` variables (the local runtime sets them); the SQS client is given the
 * endpoint explicitly so that it never dials the host inside a queue URL (emulators use hosts like
 * `sqs.us-east-1.localhost`). Region and static credentials are taken from the same environment, so
 * a client built for an environment other than `process.env` (a test's) talks as that environment.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Env } from './env';

/** Client settings shared by every service: region and static credentials, when `env` has them. */
export function awsConfigFromEnv(env: Env): { region?: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return {
    ...(region === undefined ? {} : { region }),
    ...(accessKeyId === undefined || secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) } }),
  };
}

/** An SQS client for `env` (endpoint override honoured). */
export function sqsClientFromEnv(env: Env = process.env): SQSClient {
  const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  return new SQSClient({ ...awsConfigFromEnv(env), ...(endpoint === undefined ? {} : { endpoint, useQueueUrlAsEndpoint: false }) });
}

/**
 * A DynamoDB client for `env`. Loaded lazily so that a worker that never touches DynamoDB never
 * loads its SDK.
 */
export async function dynamoClientFromEnv(env: Env = process.env): Promise<DynamoDBClient> {
  const { DynamoDBClient: Client } = await import('@aws-sdk/client-dynamodb');
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  return new Client({ ...awsConfigFromEnv(env), ...(endpoint === undefined ? {} : { endpoint }) });
}
