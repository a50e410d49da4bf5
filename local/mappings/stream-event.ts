/**
 * Builds Lambda's DynamoDB stream event records from GetRecords output: binary attribute values
 * as base64 strings, `ApproximateCreationDateTime` in epoch seconds, and the mapping's stream ARN
 * and region.
 */
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { LOCAL_IDENTITY } from '../emulators.js';

/** A JSON-safe copy: bytes become base64, dates epoch seconds, undefined members are dropped. */
function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined && key !== '$unknown') copy[key] = jsonSafe(item);
    return copy;
  }
  return value;
}

/** The Lambda event record for one stream record. */
export function streamRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const dynamodb = jsonSafe(record.dynamodb ?? {});
  const userIdentity = record.userIdentity === undefined ? {} : { userIdentity: jsonSafe(record.userIdentity) };
  return {
    eventID: record.eventID ?? '',
    ...(record.eventName === undefined ? {} : { eventName: record.eventName }),
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: LOCAL_IDENTITY.region,
    // jsonSafe keeps the StreamRecord's shape; only leaf types change to their JSON forms.
    dynamodb: typeof dynamodb === 'object' && dynamodb !== null ? dynamodb : {},
    eventSourceARN: streamArn,
    ...userIdentity,
  };
}

/** Sequence number of a record ('' when missing). */
export function sequenceNumber(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? '';
}
