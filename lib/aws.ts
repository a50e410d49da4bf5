/**
 * AWS SDK clients configured the same way everywhere. Endpoints come from the standard
 * `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_DYNAMODB` variables (the local runtime sets them);
 * the SQS client is given the endpoint explicitly so that it never dials the host inside a queue
 * URL (emulators use hosts like `sqs.us-east-1.localhost`).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Env } from './env';

/** An SQS client for `env` (endpoint override honoured). */
export function sqsClientFromEnv(env: Env = process.env): SQSClient {
  const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  return new SQSClient(endpoint === undefined ? {} : { endpoint, useQueueUrlAsEndpoint: false });
}

/**
 * A DynamoDB client for `env`. Loaded lazily so that a worker that never touches DynamoDB never
 * loads its SDK.
 */
export async function dynamoClientFromEnv(env: Env = process.env): Promise<DynamoDBClient> {
  const { DynamoDBClient: Client } = await import('@aws-sdk/client-dynamodb');
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  return new Client(endpoint === undefined ? {} : { endpoint });
}
