import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoClientOf, registerAwsClientMiddleware, sqsClientOf, type AwsClientMiddleware } from '../../lib/aws/clients.js';

const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' };

/** Answers every request itself and remembers which commands it saw. */
function answering(seen: string[]): AwsClientMiddleware {
  return {
    name: 'test-answer',
    step: 'initialize',
    middleware: (_next, context) => async () => {
      seen.push(String(context.commandName));
      return { output: { $metadata: {}, QueueUrl: 'http://queue', TableNames: ['t'] } };
    },
  };
}

describe('AWS client middleware registry', () => {
  it('adds registered middleware to the SQS and DynamoDB clients built afterwards', async () => {
    const seen: string[] = [];
    const unregister = registerAwsClientMiddleware(answering(seen));
    try {
      const sqs = sqsClientOf(HopperConfig.of(env));
      const dynamo = await dynamoClientOf(HopperConfig.of(env));
      await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'q' }))).resolves.toMatchObject({ QueueUrl: 'http://queue' });
      await expect(dynamo.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: ['t'] });
      expect(seen).toEqual(['GetQueueUrlCommand', 'ListTablesCommand']);
    } finally {
      unregister();
    }
  });

  it('leaves clients built after unregistering alone', async () => {
    const seen: string[] = [];
    registerAwsClientMiddleware(answering(seen))();
    const sqs = sqsClientOf(HopperConfig.of({ ...env, AWS_MAX_ATTEMPTS: '1' }));
    // Port 9 (discard) refuses the connection: the request really went out, nothing answered it.
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'q' }))).rejects.toThrow();
    expect(seen).toEqual([]);
  });
});
