/**
 * Lambda's on-failure record for a stream event source: what an event source mapping on a
 * DynamoDB stream (Hopper's batch function on the state table's stream) sends to its OnFailure
 * destination when it gives up on a range of stream records. It holds no job, only where the
 * records were (shard and sequence numbers) and why the mapping gave up:
 *
 * ```json
 * { "requestContext": { "requestId": "…", "functionArn": "…", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11 },
 *   "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
 *   "version": "1.0", "timestamp": "2026-11-22T12:00:00.000Z",
 *   "DDBStreamBatchInfo": { "shardId": "…", "startSequenceNumber": "…", "endSequenceNumber": "…",
 *     "approximateArrivalOfFirstRecord": "…", "approximateArrivalOfLastRecord": "…", "batchSize": 1, "streamArn": "…" } }
 * ```
 *
 * Hopper's retries DLQ is that destination, so these records sit next to jobs the retry function
 * gave up on; they are recognised by this shape and kept apart (docs/operations.md).
 */
import { isRecord } from '../job/model.js';

/** What a stream failure record says. */
export interface StreamFailure {
  /** `DDBStreamBatchInfo` (DynamoDB) or `KinesisBatchInfo`. */
  readonly source: 'dynamodb' | 'kinesis';
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number | undefined;
  readonly streamArn: string | undefined;
  /** Why the mapping gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, …). */
  readonly condition: string | undefined;
  /** The function that failed on the records. */
  readonly functionArn: string | undefined;
}

/** The stream failure record in `body`, or undefined when the body is something else (a job, an envelope). */
export function parseStreamFailure(body: string): StreamFailure | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !isRecord(parsed.requestContext)) return undefined;
  const [source, info] = isRecord(parsed.DDBStreamBatchInfo) ? ['dynamodb' as const, parsed.DDBStreamBatchInfo] : isRecord(parsed.KinesisBatchInfo) ? ['kinesis' as const, parsed.KinesisBatchInfo] : [undefined, undefined];
  if (source === undefined || info === undefined) return undefined;
  const { shardId, startSequenceNumber, endSequenceNumber } = info;
  if (typeof shardId !== 'string' || typeof startSequenceNumber !== 'string' || typeof endSequenceNumber !== 'string') return undefined;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return {
    source,
    shardId,
    startSequenceNumber,
    endSequenceNumber,
    batchSize: typeof info.batchSize === 'number' ? info.batchSize : undefined,
    streamArn: text(info.streamArn),
    condition: text(parsed.requestContext.condition),
    functionArn: text(parsed.requestContext.functionArn),
  };
}

/** One line for logs and answers: `shard s, sequence numbers a to b (RetryAttemptsExhausted)`. */
export function describeStreamFailure(failure: StreamFailure): string {
  return `shard ${failure.shardId}, sequence numbers ${failure.startSequenceNumber} to ${failure.endSequenceNumber}${failure.condition === undefined ? '' : ` (${failure.condition})`}`;
}
