/**
 * The AWS-backed parts of the API's context: SQS (enqueue, queue attributes), Lambda (the queues'
 * event source mappings), and DynamoDB (the state table's sets and stats, the limits table).
 */
import type { AnyMiddleware } from '../middleware/chain.js';
import { listRecentBatches } from '../batch/recent.js';
import { listBatchMembers } from '../batch/members.js';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClientOf, instrument, sqsClientOf, type SqsClient } from '../aws/clients.js';
import { ScheduledJobs } from '../admin/scheduled.js';
import { BATCH_STORE_DEFAULTS, BatchStore, readBatches } from '../batch/store.js';
import { batchStatus } from '../batch/status.js';
import { FlowStore } from '../flow/store.js';
import { flowView } from '../flow/status.js';
import { retryFailedFlow } from '../flow/retry.js';
import { Client } from '../client/client.js';
import type { HopperConfig } from '../config/hopper-config.js';
import { redrive } from '../admin/redrive.js';
import { CronStore } from '../storage/cron-store.js';
import { JobStates } from '../storage/job-states.js';
import { Iterations } from '../storage/iterations.js';
import { setPartitionKey, setPartitionKeys, shardCandidates, type ItemKey, type SortedSetName } from '../storage/keys.js';
import { DynamoTenantOverrides } from '../limiters/tenant-overrides.js';
import { DynamoLimiterStore } from '../limiters/dynamo/store.js';
import { dynamoStatsTable, readQueueReports } from '../stats/read.js';
import { fromItem, type SetEntry } from '../storage/set-items.js';
import { StateTable } from '../storage/state-table.js';
import type { Logger } from '../observability/logger.js';
import { metricsOf } from '../observability/emf.js';
import type { ApiConfig } from './config.js';
import type { ApiContext, LimitsReader, SetStore } from './context.js';
import { MAPPING_BUSY_RETRY_AFTER_SECONDS, MappingBusyError, QueueState, type QueueBackend } from './queue-state.js';

/** A Lambda client for `config` (`AWS_ENDPOINT_URL_LAMBDA` honoured, as the local runtime sets it). */
export function lambdaClientOf(config: HopperConfig): LambdaClient {
  return instrument(new LambdaClient(config.clientConfig('lambda')));
}

/** Queue counts from SQS and mapping states from Lambda. */
export function awsQueueBackend(sqs: SqsClient, lambda: LambdaClient, reports: QueueBackend['reports']): QueueBackend {
  return {
    async counts(queueUrl) {
      const output = await sqs.send(new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }));
      const count = (name: QueueAttributeName): number => Number(output.Attributes?.[name] ?? '0');
      return { visible: count('ApproximateNumberOfMessages'), inFlight: count('ApproximateNumberOfMessagesNotVisible'), delayed: count('ApproximateNumberOfMessagesDelayed') };
    },
    async mappingState(uuid) {
      const output = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return output.State ?? 'Unknown';
    },
    async setMappingEnabled(uuid, enabled) {
      try {
        const output = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }));
        return output.State ?? (enabled ? 'Enabling' : 'Disabling');
      } catch (error) {
        // Lambda refuses an update while the mapping is still enabling, disabling or updating.
        if (error instanceof Error && (error.name === 'ResourceInUseException' || error.name === 'ResourceConflictException')) throw new MappingBusyError(uuid, MAPPING_BUSY_RETRY_AFTER_SECONDS, { cause: error });
        throw error;
      }
    },
    reports,
    async mappingConcurrency(uuid) {
      const output = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return output.ScalingConfig?.MaximumConcurrency;
    },
  };
}

/** The sets of `table`, with a single-entry read (a Query on the exact key). */
export function awsSetStore(table: StateTable, dynamo: DynamoDBClient): SetStore {
  return {
    readSetRange: (set, options) => table.readSetRange(set, options),
    deleteSetEntry: (set, key) => table.deleteSetEntry(set, key),
    async getSetEntry(set: SortedSetName, key: ItemKey): Promise<SetEntry | undefined> {
      const output = await dynamo.send(new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': { S: key.pk }, ':sk': { S: key.sk } },
      }));
      const [item] = output.Items ?? [];
      return item === undefined ? undefined : fromItem(set, item);
    },
    async findJob(set, jid, maxPages) {
      // The jid's shard only (and its shard under the set's former count, which may still hold it),
      // filtered on the entry's `jid` attribute (a filter cannot name a key attribute); the read
      // still bills every item of the shard it goes through.
      const entries: SetEntry[] = [];
      let complete = true;
      for (const shard of shardCandidates(set, jid)) {
        let start: Record<string, AttributeValue> | undefined;
        for (let page = 0; page < maxPages; page += 1) {
          const output = await dynamo.send(new QueryCommand({
            TableName: table.tableName,
            KeyConditionExpression: 'pk = :pk',
            FilterExpression: '#jid = :jid',
            ExpressionAttributeNames: { '#jid': 'jid' },
            ExpressionAttributeValues: { ':pk': { S: setPartitionKey(set, shard) }, ':jid': { S: jid } },
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }));
          for (const item of output.Items ?? []) {
            const entry = fromItem(set, item);
            if (entry?.jid === jid) entries.push(entry);
          }
          start = output.LastEvaluatedKey;
          if (start === undefined) break;
        }
        if (start !== undefined) complete = false;
      }
      return { entries, complete };
    },
    async countSet(set, maxPagesPerShard) {
      const shards = await Promise.all(setPartitionKeys(set).map(async (pk) => {
        let count = 0;
        let start: Record<string, AttributeValue> | undefined;
        for (let page = 0; page < maxPagesPerShard; page += 1) {
          const output = await dynamo.send(new QueryCommand({
            TableName: table.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: pk } },
            Select: 'COUNT',
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }));
          count += output.Count ?? 0;
          start = output.LastEvaluatedKey;
          if (start === undefined) return { count, capped: false };
        }
        return { count, capped: true };
      }));
      return { count: shards.reduce((sum, shard) => sum + shard.count, 0), capped: shards.some((shard) => shard.capped) };
    },
  };
}

/** The limits table, read a partition at a time. */
export function awsLimitsReader(dynamo: DynamoDBClient, tableName: string): LimitsReader {
  return {
    async queryPartition(pk) {
      const output = await dynamo.send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } } }));
      return output.Items ?? [];
    },
  };
}

/** The API's context for the JobSystem `hopper` describes. */
export async function awsApiContext(hopper: HopperConfig, config: ApiConfig, logger: Logger, now: () => number, middleware?: AnyMiddleware): Promise<ApiContext> {
  const stateTableName = hopper.stateTable;
  const limitsTableName = hopper.limitsTable;
  const sqs = sqsClientOf(hopper);
  const dynamo = await dynamoClientOf(hopper);
  const lambda = lambdaClientOf(hopper);
  const stateTable = new StateTable(dynamo, stateTableName);
  const stats = dynamoStatsTable(dynamo, stateTableName);
  const clock = (): Date => new Date(now());
  const batchStore = new BatchStore({ tableName: stateTableName, client: dynamo, now: clock });
  const flowStore = new FlowStore({ tableName: stateTableName, client: dynamo, now: clock });
  const redriveTo = config.redrive;
  return {
    config,
    now,
    client: new Client({ queueUrls: config.queueUrls, queueTiers: config.queueTiers, sqs, scheduledSet: stateTable, env: hopper.env, now: () => new Date(now()), ...(middleware === undefined ? {} : { middleware, via: 'api' }) }),
    queues: new QueueState(awsQueueBackend(sqs, lambda, (nowMs) => readQueueReports(stats, nowMs)), now),
    sets: awsSetStore(stateTable, dynamo),
    waiting: new ScheduledJobs({
      table: stateTable, sqs, queueUrls: config.queueUrls, queueTiers: config.queueTiers, clock, logger,
      ...(middleware === undefined ? {} : { middleware }),
      deadTtlDays: hopper.deadTtlDays,
    }),
    batches: {
      async getBatch(bid) {
        const state = await batchStore.get(bid);
        return state === undefined ? undefined : batchStatus(state);
      },
      async getBatches(bids) {
        const states = await readBatches(dynamo, stateTableName, bids);
        return new Map([...states].map(([bid, state]) => [bid, batchStatus(state)]));
      },
      listRecent: (options) => listRecentBatches(dynamo, stateTableName, { ...options, nowMs: now(), retentionDays: BATCH_STORE_DEFAULTS.retentionDays }),
      listJobs: (bid, options) => listBatchMembers(dynamo, stateTableName, bid, options),
    },
    flows: {
      get: async (id) => {
        const state = await flowStore.get(id);
        return state === undefined ? undefined : flowView(state);
      },
      retry: async (id) => flowView(await retryFailedFlow(flowStore, id, clock)),
    },
    jobStates: new JobStates({ tableName: stateTableName, client: dynamo, now: clock }),
    // Read only: its retention does not matter here.
    iterations: new Iterations({ tableName: stateTableName, client: dynamo, now: clock, ttlDays: 1 }),
    cronRuns: new CronStore(dynamo, stateTableName),
    stats,
    quotaStore: new DynamoLimiterStore({ tableName: limitsTableName, client: dynamo }),
    limits: awsLimitsReader(dynamo, limitsTableName),
    tenantOverrides: new DynamoTenantOverrides({ tableName: limitsTableName, client: dynamo }),
    ...(redriveTo === undefined ? {} : { deadLetters: { redrive: (limit: number) => redrive(sqs, { ...redriveTo, limit }) } }),
    logger,
    metrics: metricsOf(hopper),
  };
}
