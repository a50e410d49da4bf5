/**
 * A pump for the state table's stream on DynamoDB Local that calls a handler the way a Lambda
 * DynamoDB event source mapping does: records in order per shard, in batches, filtered (records
 * that do not match the filter are dropped, as Lambda drops them), and with partial batch failures
 * (`batchItemFailures`: the batch is retried from the first failed record; a handler that throws
 * gets the whole batch again). It can also deliver a batch a second time after it succeeded, as
 * Lambda does when an invocation times out after its work was done.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type AttributeValue,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaAttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { LOCAL_IDENTITY } from '../../../local/emulators.js';
import type { Harness } from './harness.js';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;

export interface StreamPumpOptions {
  /** Records per invocation. @default 100 */
  readonly batchSize?: number;
  /** Which records reach the handler (the mapping's filter criteria). @default - every record */
  readonly filter?: (record: DynamoDBRecord) => boolean;
  /** Asked after each successful batch: true delivers the same batch once more. @default - never */
  readonly redeliver?: () => boolean;
}

/** What one pump round did. */
export interface StreamRound {
  /** Records handed to the handler (redeliveries included). */
  readonly delivered: number;
  /** Records read from the stream in this round (before filtering). */
  readonly read: number;
  /** Invocations that reported a failure or threw. */
  readonly failedInvocations: number;
}

interface ShardState {
  readonly shardId: string;
  readonly parentId: string | undefined;
  iterator: string | undefined;
  /** Read but not yet processed, in order. */
  buffer: DynamoDBRecord[];
  /** True once the shard is closed and fully read. */
  finished: boolean;
}

/** Reads the stream of the harness's state table from its oldest record. */
export class StreamPump {
  private readonly client: DynamoDBStreamsClient;
  private readonly shards = new Map<string, ShardState>();
  private streamArn: string | undefined;

  constructor(private readonly harness: Harness, private readonly options: StreamPumpOptions = {}) {
    this.client = new DynamoDBStreamsClient({
      endpoint: harness.emulators.endpoints.dynamodb,
      region: LOCAL_IDENTITY.region,
      credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    });
  }

  /** Reads what is new on every shard and hands it to `handler`, batch by batch. */
  async pumpOnce(handler: StreamHandler): Promise<StreamRound> {
    await this.refreshShards();
    let delivered = 0;
    let read = 0;
    let failedInvocations = 0;
    for (const shard of this.shards.values()) {
      if (shard.finished || !this.parentFinished(shard)) continue;
      read += await this.fill(shard);
      shard.buffer = shard.buffer.filter((record) => this.options.filter?.(record) ?? true);
      while (shard.buffer.length > 0) {
        const batch = shard.buffer.slice(0, this.options.batchSize ?? 100);
        delivered += batch.length;
        const failedAt = await invoke(handler, batch);
        if (failedAt !== undefined) {
          failedInvocations += 1;
          shard.buffer = shard.buffer.slice(failedAt);
          break;
        }
        shard.buffer = shard.buffer.slice(batch.length);
        if (this.options.redeliver?.() === true) {
          delivered += batch.length;
          await invoke(handler, batch);
        }
      }
      if (shard.iterator === undefined && shard.buffer.length === 0) shard.finished = true;
    }
    return { delivered, read, failedInvocations };
  }

  /** Pumps until a round reads nothing and leaves nothing to retry (or `maxRounds`). */
  async pumpUntilQuiet(handler: StreamHandler, maxRounds = 100): Promise<StreamRound> {
    const total = { delivered: 0, read: 0, failedInvocations: 0 };
    for (let round = 0; round < maxRounds; round += 1) {
      const result = await this.pumpOnce(handler);
      total.delivered += result.delivered;
      total.read += result.read;
      total.failedInvocations += result.failedInvocations;
      const buffered = [...this.shards.values()].some((shard) => shard.buffer.length > 0);
      if (result.read === 0 && !buffered) break;
    }
    return total;
  }

  stop(): void {
    this.client.destroy();
  }

  private parentFinished(shard: ShardState): boolean {
    const parent = shard.parentId === undefined ? undefined : this.shards.get(shard.parentId);
    return parent === undefined || parent.finished;
  }

  private async refreshShards(): Promise<void> {
    if (this.streamArn === undefined) {
      const table = await this.harness.dynamo.send(new DescribeTableCommand({ TableName: this.harness.stateTable }));
      this.streamArn = table.Table?.LatestStreamArn;
      if (this.streamArn === undefined) throw new Error(`table ${this.harness.stateTable} has no stream`);
    }
    let start: string | undefined;
    do {
      const described = await this.client.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ...(start === undefined ? {} : { ExclusiveStartShardId: start }) }));
      for (const shard of described.StreamDescription?.Shards ?? []) {
        const shardId = shard.ShardId;
        if (shardId === undefined || this.shards.has(shardId)) continue;
        const iterator = await this.client.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
        this.shards.set(shardId, { shardId, parentId: shard.ParentShardId, iterator: iterator.ShardIterator, buffer: [], finished: false });
      }
      start = described.StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
  }

  /** Reads everything available on `shard` into its buffer; returns how many records were read. */
  private async fill(shard: ShardState): Promise<number> {
    let read = 0;
    while (shard.iterator !== undefined) {
      const output = await this.client.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }));
      const records = output.Records ?? [];
      shard.iterator = output.NextShardIterator;
      shard.buffer.push(...records.map(toLambdaRecord));
      read += records.length;
      if (records.length === 0) break;
    }
    return read;
  }
}

/** Calls the handler; returns the index of the first failed record, or undefined when all succeeded. */
async function invoke(handler: StreamHandler, batch: readonly DynamoDBRecord[]): Promise<number | undefined> {
  let response: DynamoDBBatchResponse | void;
  try {
    response = await handler({ Records: [...batch] });
  } catch {
    return 0;
  }
  const failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
  if (failed.size === 0) return undefined;
  const index = batch.findIndex((record) => failed.has(record.dynamodb?.SequenceNumber ?? ''));
  return index < 0 ? 0 : index;
}

function toLambdaRecord(record: _Record): DynamoDBRecord {
  const stream = record.dynamodb;
  return {
    ...(record.eventID === undefined ? {} : { eventID: record.eventID }),
    ...(record.eventName === undefined ? {} : { eventName: record.eventName }),
    eventSource: 'aws:dynamodb',
    eventVersion: record.eventVersion ?? '1.1',
    awsRegion: LOCAL_IDENTITY.region,
    dynamodb: {
      ...(stream?.Keys === undefined ? {} : { Keys: toImage(stream.Keys) }),
      ...(stream?.NewImage === undefined ? {} : { NewImage: toImage(stream.NewImage) }),
      ...(stream?.OldImage === undefined ? {} : { OldImage: toImage(stream.OldImage) }),
      ...(stream?.SequenceNumber === undefined ? {} : { SequenceNumber: stream.SequenceNumber }),
      ...(stream?.SizeBytes === undefined ? {} : { SizeBytes: stream.SizeBytes }),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

function toImage(image: Record<string, AttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toAttribute(value)]));
}

function toAttribute(value: AttributeValue): LambdaAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((entry) => Buffer.from(entry).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toAttribute) };
  if (value.M !== undefined) return { M: toImage(value.M) };
  return { NULL: true };
}
