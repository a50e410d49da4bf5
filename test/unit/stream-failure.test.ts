/**
 * Lambda's OnFailure record of a stream event source is recognised by its shape: it holds no job,
 * only the shard and sequence numbers of the records the batch function gave up on.
 */
import { describe, expect, it } from 'vitest';
import { describeStreamFailure, parseStreamFailure } from '../../lib/aws/stream-failure.js';

/** The record AWS documents for a DynamoDB stream mapping's OnFailure destination. */
const AWS_SAMPLE = {
  requestContext: { requestId: '316aa6d0-8154-xmpl-9af7-85d5f4a6bc81', functionArn: 'arn:aws:lambda:us-east-2:123456789012:function:myfunction', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1 },
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  version: '1.0',
  timestamp: '2019-11-14T00:13:49.717Z',
  DDBStreamBatchInfo: {
    shardId: 'shardId-00000001573689847184-864758bb',
    startSequenceNumber: '800000000003126276362',
    endSequenceNumber: '800000000003126276362',
    approximateArrivalOfFirstRecord: '2019-11-14T00:13:19Z',
    approximateArrivalOfLastRecord: '2019-11-14T00:13:19Z',
    batchSize: 1,
    streamArn: 'arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388',
  },
};

describe('parseStreamFailure', () => {
  it('reads the shard, the sequence numbers and why the mapping gave up', () => {
    const failure = parseStreamFailure(JSON.stringify(AWS_SAMPLE));

    expect(failure).toEqual({
      source: 'dynamodb',
      shardId: 'shardId-00000001573689847184-864758bb',
      startSequenceNumber: '800000000003126276362',
      endSequenceNumber: '800000000003126276362',
      batchSize: 1,
      streamArn: 'arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388',
      condition: 'RetryAttemptsExhausted',
      functionArn: 'arn:aws:lambda:us-east-2:123456789012:function:myfunction',
    });
    expect(failure === undefined ? '' : describeStreamFailure(failure)).toBe('shard shardId-00000001573689847184-864758bb, sequence numbers 800000000003126276362 to 800000000003126276362 (RetryAttemptsExhausted)');
  });

  it.each([
    ['a job', JSON.stringify({ jobtype: 'A', args: [] })],
    ['a failure envelope', JSON.stringify({ hopper: 'failure', queue: 'default', job: { jobtype: 'A' } })],
    ['a job whose args look like batch info', JSON.stringify({ jobtype: 'A', args: [], DDBStreamBatchInfo: { shardId: 's', startSequenceNumber: '1', endSequenceNumber: '2' } })],
    ['batch info without sequence numbers', JSON.stringify({ ...AWS_SAMPLE, DDBStreamBatchInfo: { shardId: 's' } })],
    ['text that is not JSON', 'not json'],
  ])('is undefined for %s', (_what, body) => {
    expect(parseStreamFailure(body)).toBeUndefined();
  });
});
