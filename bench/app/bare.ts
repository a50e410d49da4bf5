/**
 * The bare handler Hopper's worker is compared with: parses each record's body and acknowledges the
 * batch, as the least a JSON job consumer can do.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  let parsed = 0;
  for (const record of event.Records) if (JSON.parse(record.body) !== undefined) parsed += 1;
  if (parsed !== event.Records.length) throw new Error('a record had no body');
  return { batchItemFailures: [] };
};
