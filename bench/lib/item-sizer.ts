/**
 * Reads an item's size for the meter (./meter.ts) with a DynamoDB client no meter counts: a
 * consistent GetItem of its key, sized by DynamoDB's rules (local/dynamodb/billing.ts).
 */
import { GetItemCommand, type AttributeValue, type DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Env } from '../../lib/config/env.js';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { itemBytes } from '../../local/dynamodb/billing.js';

/** A client configuration for `env` (its DynamoDB endpoint honoured). */
export function dynamoConfig(env: Env): DynamoDBClientConfig {
  return HopperConfig.of(env).clientConfig('dynamodb');
}

/** The size of the item of `key` in `table`, 0 when there is none (or it cannot be read). */
export async function itemSize(client: DynamoDBClient, table: string, key: Readonly<Record<string, unknown>>): Promise<number> {
  try {
    const output = await client.send(new GetItemCommand({ TableName: table, Key: key as Record<string, AttributeValue>, ConsistentRead: true }));
    return itemBytes(output.Item);
  } catch {
    return 0;
  }
}
