/**
 * Where planned queues and tables are created: in the emulators, or nowhere (a dry run that
 * validates the template and predicts the values references resolve to).
 */
import { CreateTableCommand, UpdateTimeToLiveCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_IDENTITY } from '../emulators.js';
import { TemplateError } from '../template/model.js';
import type { ResourceBackend } from './plan.js';
import type { QueueSpec } from './queue.js';
import type { TableSpec } from './table.js';

/** A backend that creates nothing: queue URLs and stream ARNs are stand-ins. */
export function dryBackend(): ResourceBackend {
  return {
    createQueue: async (spec) => `http://127.0.0.1/${LOCAL_IDENTITY.accountId}/${spec.name}`,
    createTable: async (spec) => (spec.create.StreamSpecification === undefined ? undefined : `${spec.arn}/stream/dry-run`),
    functionUrlPort: () => 0,
  };
}

/** A backend that creates queues in fauxqs and tables in DynamoDB Local. */
export function emulatorBackend(sqs: SQSClient, dynamodb: DynamoDBClient, urlPorts: ReadonlyMap<string, number>): ResourceBackend {
  const wrap = async <T>(spec: QueueSpec | TableSpec, type: string, action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      throw new TemplateError(spec.logicalId, type, `the emulator refused it: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
  return {
    createQueue: (spec) =>
      wrap(spec, 'AWS::SQS::Queue', async () => {
        const created = await sqs.send(new CreateQueueCommand({ QueueName: spec.name, Attributes: { ...spec.attributes } }));
        if (created.QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
        return created.QueueUrl;
      }),
    createTable: (spec) =>
      wrap(spec, 'AWS::DynamoDB::Table', async () => {
        const created = await dynamodb.send(new CreateTableCommand(spec.create));
        if (spec.ttlAttribute !== undefined) {
          await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: spec.name, TimeToLiveSpecification: { Enabled: true, AttributeName: spec.ttlAttribute } }));
        }
        return created.TableDescription?.LatestStreamArn;
      }),
    functionUrlPort: (logicalId) => urlPorts.get(logicalId) ?? 0,
  };
}
