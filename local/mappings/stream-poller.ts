/**
 * Runs one DynamoDB stream event source mapping: reads every shard of the table's stream in order
 * (DescribeStream, GetShardIterator, GetRecords), invokes the function with batches of records,
 * and on failure retries the batch as Lambda does — from the first failed record with
 * ReportBatchItemFailures, halving the batch with BisectBatchOnFunctionError, until
 * MaximumRetryAttempts or MaximumRecordAgeInSeconds give up on it (then an OnFailure queue, if
 * any, gets a record of what was skipped).
 */
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient, type Shard } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import type { FunctionPool } from '../host/function-pool.js';
import { RUNTIME_SOURCE, type LogSink } from '../log.js';
import type { MappingSpec } from '../resources/event-source-mapping.js';
import { matchesAnyFilter } from './filter.js';
import { Gate } from './gate.js';
import { failedItems } from './sqs-event.js';
import { sequenceNumber, streamRecord } from './stream-event.js';

/** What a stream poller needs. */
export interface StreamPollerOptions {
  readonly mapping: MappingSpec;
  readonly tableName: string;
  readonly pool: FunctionPool;
  readonly streams: DynamoDBStreamsClient;
  readonly sqs: SQSClient;
  /** Queue URL for a queue ARN (OnFailure destinations). */
  readonly queueUrl: (arn: string) => string | undefined;
  readonly log: LogSink;
}

/** Lambda polls a shard about four times a second. */
const POLL_INTERVAL_MS = 250;
/** Shards appear when DynamoDB rolls them over; look for new ones this often. */
const DESCRIBE_INTERVAL_MS = 2_000;

interface ShardState {
  readonly shardId: string;
  iterator: string | undefined;
  /** Sequence number of the last record read, to get a fresh iterator from if one fails. */
  lastRead: string | undefined;
  readonly pending: DynamoDBRecord[];
  attempts: number;
  batchLimit: number;
  done: boolean;
}

/** Polls one table stream for one function. */
export class StreamPoller {
  readonly mapping: MappingSpec;
  private readonly options: StreamPollerOptions;
  private readonly enabled: Gate;
  private readonly shards = new Map<string, ShardState>();
  private readonly filters: readonly unknown[];
  private running = false;
  private loop: Promise<void> | undefined;
  private lastDescribe = 0;
  private readonly wakeup = new Gate(false);

  constructor(options: StreamPollerOptions) {
    this.options = options;
    this.mapping = options.mapping;
    this.enabled = new Gate(options.mapping.enabled);
    this.filters = options.mapping.filterPatterns.map((pattern): unknown => JSON.parse(pattern));
  }

  /** Whether the mapping is enabled now. */
  get isEnabled(): boolean {
    return this.enabled.isOpen;
  }

  /**
   * Starts reading. Resolves once the shards' starting positions are fixed, so that with
   * `LATEST` nothing written after this returns is missed.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.discoverShards(true);
    this.loop = this.run();
  }

  /** Enables or disables the mapping. */
  setEnabled(enabled: boolean): void {
    this.enabled.set(enabled);
  }

  /** Stops reading; resolves when the current batch (if any) has ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.enabled.wake();
    this.wakeup.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.enabled.wait();
      if (!this.running) break;
      let worked = false;
      try {
        if (Date.now() - this.lastDescribe > DESCRIBE_INTERVAL_MS) await this.discoverShards(false);
        for (const shard of this.shards.values()) {
          if (!this.running || !this.enabled.isOpen) break;
          worked = (await this.step(shard)) || worked;
        }
      } catch (error) {
        if (!this.running) break;
        this.options.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${this.mapping.logicalId}: reading the stream of ${this.options.tableName} failed: ${error instanceof Error ? error.message : String(error)}` });
      }
      if (!worked) await this.sleep(POLL_INTERVAL_MS);
    }
  }

  private async sleep(ms: number): Promise<void> {
    await Promise.race([new Promise((resolve) => setTimeout(resolve, ms)), this.wakeup.wait()]);
  }

  private async discoverShards(initial: boolean): Promise<void> {
    this.lastDescribe = Date.now();
    const shards: Shard[] = [];
    let exclusiveStart: string | undefined;
    do {
      const described = await this.options.streams.send(new DescribeStreamCommand({ StreamArn: this.mapping.eventSourceArn, ExclusiveStartShardId: exclusiveStart }));
      shards.push(...(described.StreamDescription?.Shards ?? []));
      exclusiveStart = described.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStart !== undefined);
    for (const shard of shards) {
      const shardId = shard.ShardId;
      if (shardId === undefined || this.shards.has(shardId)) continue;
      // Shards found later are children of ones already read: read them from their start.
      const type = initial && this.mapping.startingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON';
      const iterator = await this.options.streams.send(new GetShardIteratorCommand({ StreamArn: this.mapping.eventSourceArn, ShardId: shardId, ShardIteratorType: type }));
      this.shards.set(shardId, { shardId, iterator: iterator.ShardIterator, lastRead: undefined, pending: [], attempts: 0, batchLimit: this.mapping.batchSize, done: false });
    }
  }

  /** Reads and processes one batch of a shard; returns whether there was anything to do. */
  private async step(shard: ShardState): Promise<boolean> {
    if (shard.done) return false;
    const { mapping } = this;
    if (shard.pending.length < mapping.batchSize && shard.iterator !== undefined) {
      let page;
      try {
        page = await this.options.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: Math.min(1000, mapping.batchSize) }));
      } catch (error) {
        // An expired or invalid iterator would fail forever: start again after the last record read.
        await this.refreshIterator(shard);
        throw error;
      }
      shard.iterator = page.NextShardIterator;
      for (const record of page.Records ?? []) {
        const converted = streamRecord(record, mapping.eventSourceArn);
        shard.lastRead = sequenceNumber(converted) || shard.lastRead;
        if (matchesAnyFilter(this.filters, converted)) shard.pending.push(converted);
      }
    }
    if (shard.pending.length === 0) {
      if (shard.iterator === undefined) shard.done = true;
      return false;
    }
    this.dropExpired(shard);
    const batch = shard.pending.slice(0, shard.batchLimit);
    if (batch.length === 0) return false;
    const consumed = await this.invoke(shard, batch);
    if (consumed > 0) {
      shard.pending.splice(0, consumed);
      shard.attempts = 0;
      shard.batchLimit = mapping.batchSize;
    }
    return true;
  }

  private async refreshIterator(shard: ShardState): Promise<void> {
    try {
      const fresh = await this.options.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.mapping.eventSourceArn,
          ShardId: shard.shardId,
          ...(shard.lastRead === undefined ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastRead }),
        }),
      );
      shard.iterator = fresh.ShardIterator;
    } catch {
      // The next step tries again.
    }
  }

  /** Invokes the function; returns how many records from the head of the batch are done with. */
  private async invoke(shard: ShardState, batch: readonly DynamoDBRecord[]): Promise<number> {
    const { pool, log } = this.options;
    const mapping = this.mapping;
    const invocation = await pool.invoke({ Records: batch });
    let failedFrom = 0;
    if (invocation.ok) {
      if (!mapping.reportBatchItemFailures) return batch.length;
      const failed = failedItems(invocation.value, new Set(batch.map(sequenceNumber)));
      if (failed !== 'all' && failed.size === 0) return batch.length;
      // Lambda checkpoints before the lowest failed sequence number and retries from there.
      failedFrom = failed === 'all' ? 0 : batch.findIndex((record) => failed.has(sequenceNumber(record)));
      if (failedFrom > 0) return failedFrom;
    } else if (mapping.bisectBatchOnFunctionError && batch.length > 1) {
      shard.batchLimit = Math.ceil(batch.length / 2);
    }
    shard.attempts += 1;
    const reason = invocation.ok ? 'reported failed records' : `${invocation.error.errorType}: ${invocation.error.errorMessage}`;
    if (mapping.maximumRetryAttempts >= 0 && shard.attempts > mapping.maximumRetryAttempts) {
      log({ source: RUNTIME_SOURCE, level: 'warn', message: `${pool.spec.logicalId} gave up on ${batch.length} stream record(s) of ${this.options.tableName} after ${shard.attempts} attempts (${reason})` });
      await this.sendToOnFailure(shard.shardId, batch, 'RetryAttemptsExhausted');
      return batch.length;
    }
    log({ source: RUNTIME_SOURCE, level: 'warn', message: `${pool.spec.logicalId} failed on ${batch.length} stream record(s) of ${this.options.tableName} (${reason}); retrying` });
    // Exponential backoff, as Lambda retries stream batches, capped to keep local runs lively.
    await this.sleep(Math.min(200 * 2 ** (shard.attempts - 1), 5_000));
    return 0;
  }

  private dropExpired(shard: ShardState): void {
    const maxAge = this.mapping.maximumRecordAgeSeconds;
    if (maxAge < 0) return;
    const oldest = Date.now() / 1000 - maxAge;
    let expired = 0;
    while (expired < shard.pending.length && (shard.pending[expired]?.dynamodb?.ApproximateCreationDateTime ?? Number.POSITIVE_INFINITY) < oldest) expired += 1;
    if (expired === 0) return;
    const dropped = shard.pending.splice(0, expired);
    void this.sendToOnFailure(shard.shardId, dropped, 'RecordAgeExceeded');
  }

  private async sendToOnFailure(shardId: string, records: readonly DynamoDBRecord[], condition: string): Promise<void> {
    const destination = this.mapping.onFailureDestination;
    if (destination === undefined || records.length === 0) return;
    const queueUrl = this.options.queueUrl(destination);
    if (queueUrl === undefined) return;
    const first = records[0];
    const last = records[records.length - 1];
    // The shape of Lambda's on-failure record for stream sources.
    const body = {
      requestContext: { requestId: '', functionArn: this.options.pool.spec.arn, condition, approximateInvokeCount: this.mapping.maximumRetryAttempts + 1 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: first === undefined ? '' : sequenceNumber(first),
        endSequenceNumber: last === undefined ? '' : sequenceNumber(last),
        approximateArrivalOfFirstRecord: new Date((first?.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000).toISOString(),
        approximateArrivalOfLastRecord: new Date((last?.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000).toISOString(),
        batchSize: records.length,
        streamArn: this.mapping.eventSourceArn,
      },
    };
    try {
      await this.options.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
    } catch (error) {
      this.options.log({ source: RUNTIME_SOURCE, level: 'warn', message: `${this.mapping.logicalId}: could not send to its OnFailure queue: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
}
