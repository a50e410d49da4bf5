/**
 * The governor's ports on AWS: SQS GetQueueAttributes for a tier's backlog, Lambda's
 * Get/UpdateEventSourceMapping for its mapping's MaximumConcurrency (ScalingConfig), and one Query
 * of the stats rollups for the tiers' reported waits. Loaded by the handler on first use.
 */
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { dynamoClientOf, instrument, sqsClientOf } from '../aws/clients.js';
import type { HopperConfig } from '../config/hopper-config.js';
import { dynamoStatsTable, readQueueReports } from '../stats/read.js';
import type { GovernorPorts } from './round.js';

/** Lambda refuses an update while the mapping is still changing. */
const BUSY_ERRORS: ReadonlySet<string> = new Set(['ResourceInUseException', 'ResourceConflictException']);

/** The ports for the JobSystem `config` describes. */
export async function awsGovernorPorts(config: HopperConfig): Promise<GovernorPorts> {
  const sqs = sqsClientOf(config);
  const lambda = instrument(new LambdaClient(config.clientConfig('lambda')));
  const stats = dynamoStatsTable(await dynamoClientOf(config), config.stateTable);
  return {
    async backlog(queueUrl) {
      const output = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return Number(output.Attributes?.ApproximateNumberOfMessages ?? '0');
    },
    async concurrency(uuid) {
      const output = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return output.ScalingConfig?.MaximumConcurrency;
    },
    async setConcurrency(uuid, value) {
      try {
        await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, ScalingConfig: { MaximumConcurrency: value } }));
        return true;
      } catch (error) {
        if (error instanceof Error && BUSY_ERRORS.has(error.name)) return false;
        throw error;
      }
    },
    reports: (nowMs) => readQueueReports(stats, nowMs),
  };
}
