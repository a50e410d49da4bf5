import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import {
  configuredVariables, configurationFunctionOf, configurationParts, dependenciesOf, environmentOf, logicalIdOf, newJobSystem, newWorker, partsReadBy, partVariables, roleArnOf,
} from './support.js';

const FOURTEEN_DAYS_IN_SECONDS = 1_209_600;

describe('JobSystem queues', () => {
  it('creates one queue per declared queue, plus the retries queue and its DLQ', () => {
    const { stack } = newJobSystem({ queues: { default: {}, critical: {}, reports: {} } });

    Template.fromStack(stack).resourceCountIs('AWS::SQS::Queue', 5);
  });

  it('declares a single queue called default when no queues are given', () => {
    const { stack, jobs } = newJobSystem();

    expect(jobs.queueNames).toEqual(['default']);
    Template.fromStack(stack).resourceCountIs('AWS::SQS::Queue', 3);
  });

  it('encrypts every queue, keeps messages 14 days and redrives job queues to the retries queue', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: { maxReceiveCount: 7 } } });
    const template = Template.fromStack(stack);

    for (const [name, maxReceiveCount] of [['default', 5], ['critical', 7]] as const) {
      const queues = template.findResources('AWS::SQS::Queue', {
        Properties: {
          SqsManagedSseEnabled: true,
          MessageRetentionPeriod: FOURTEEN_DAYS_IN_SECONDS,
          RedrivePolicy: { deadLetterTargetArn: stack.resolve(jobs.retriesQueue.queueArn), maxReceiveCount },
        },
      });
      expect(Object.keys(queues), name).toEqual([logicalIdOf(stack, jobs.queue(name).queueArn)]);
    }
  });

  it('redrives the retries queue to the retries DLQ after 5 tries of the retry function on top of what a crashed job brings (10 receives)', () => {
    const { stack, jobs } = newJobSystem();
    const template = Template.fromStack(stack);
    const retries = template.findResources('AWS::SQS::Queue', {
      Properties: {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: FOURTEEN_DAYS_IN_SECONDS,
        VisibilityTimeout: 180,
        // 5 tries of the retry function, plus the 5 receives a crashed job may bring from its queue.
        RedrivePolicy: { deadLetterTargetArn: stack.resolve(jobs.retriesDeadLetterQueue.queueArn), maxReceiveCount: 10 },
      },
    });

    expect(Object.keys(retries)).toEqual([logicalIdOf(stack, jobs.retriesQueue.queueArn)]);
  });

  it("counts the most receives a crashed job can bring from its queue into the retries queue's maxReceiveCount, and tells the retry function each queue's through the configuration document", () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, small: { maxReceiveCount: 3 }, bulk: { maxReceiveCount: 12 } } });
    const resources = Template.fromStack(stack).toJSON().Resources;
    expect(resources[logicalIdOf(stack, jobs.retriesQueue.queueArn)].Properties.RedrivePolicy.maxReceiveCount).toBe(17);
    expect(JSON.parse(String(partVariables(stack, 'document')[ENV.queueMaxReceives]))).toEqual({ default: 5, small: 3, bulk: 12 });
    expect(partsReadBy(stack, jobs.retryFunction)).toEqual(['document']);
    expect(JSON.parse(String(configuredVariables(stack, jobs.retryFunction)[ENV.queueMaxReceives]))).toEqual({ default: 5, small: 3, bulk: 12 });
  });

  it('gives the retries DLQ encryption, 14 days retention and no redrive of its own', () => {
    const { stack, jobs } = newJobSystem();
    const dlqId = logicalIdOf(stack, jobs.retriesDeadLetterQueue.queueArn);

    expect(Template.fromStack(stack).toJSON().Resources[dlqId].Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: FOURTEEN_DAYS_IN_SECONDS,
    });
  });

  it('denies every request to every queue that does not use TLS', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
    const template = Template.fromStack(stack);

    for (const queue of [jobs.queue('default'), jobs.queue('critical'), jobs.retriesQueue, jobs.retriesDeadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [stack.resolve(queue.queueUrl)],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: stack.resolve(queue.queueArn),
          })]),
        },
      });
    }
  });
});

describe('JobSystem visibility timeout', () => {
  const visibilityOf = (props: { workerTimeout?: Duration; explicit?: Duration; attach?: boolean; queueWindow?: Duration; workerWindow?: Duration }): unknown => {
    const { stack, jobs } = newJobSystem({
      queues: {
        default: {
          ...(props.explicit === undefined ? {} : { visibilityTimeout: props.explicit }),
          ...(props.queueWindow === undefined ? {} : { maxBatchingWindow: props.queueWindow }),
        },
      },
    });
    if (props.attach !== false) {
      jobs.addWorker(newWorker(stack, 'Worker', props.workerTimeout), { queues: ['default'], ...(props.workerWindow === undefined ? {} : { maxBatchingWindow: props.workerWindow }) });
    }
    const id = logicalIdOf(stack, jobs.queue('default').queueArn);
    return Template.fromStack(stack).toJSON().Resources[id].Properties.VisibilityTimeout;
  };

  it('is 6 × the timeout of the queue worker', () => {
    expect(visibilityOf({ workerTimeout: Duration.seconds(60) })).toBe(360);
  });

  it('follows a worker added after the queue was created (computed at synth time)', () => {
    expect(visibilityOf({ workerTimeout: Duration.minutes(15) })).toBe(5400);
  });

  it('is at least 30 seconds (a worker with Lambda\'s default 3 s timeout)', () => {
    expect(visibilityOf({})).toBe(30);
  });

  it('is 30 seconds for a queue without a worker', () => {
    expect(visibilityOf({ attach: false })).toBe(30);
  });

  it("adds the queue's batching window (a record waits that long before its invocation starts)", () => {
    expect(visibilityOf({ workerTimeout: Duration.seconds(60), queueWindow: Duration.seconds(300) })).toBe(660);
  });

  it("adds the worker's batching window, which wins over the queue's", () => {
    expect(visibilityOf({ workerTimeout: Duration.seconds(60), queueWindow: Duration.seconds(300), workerWindow: Duration.seconds(20) })).toBe(380);
  });

  it('keeps an explicit visibility timeout', () => {
    expect(visibilityOf({ workerTimeout: Duration.seconds(60), explicit: Duration.minutes(10) })).toBe(600);
  });
});

describe('JobSystem state table', () => {
  it('is on-demand, with PITR, TTL on ttl, a NEW_AND_OLD_IMAGES stream, AWS-managed encryption, pk/sk strings', () => {
    const { stack, jobs } = newJobSystem();
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'rpk', AttributeType: 'S' }, { AttributeName: 'rsk', AttributeType: 'S' },
        ],
        // Recent batches: sparse, keys and projection set once per batch (lib/storage/keys.ts).
        GlobalSecondaryIndexes: [{
          IndexName: 'recent',
          KeySchema: [{ AttributeName: 'rpk', KeyType: 'HASH' }, { AttributeName: 'rsk', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['bid', 'description', 'parent'] },
        }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        SSESpecification: { SSEEnabled: true },
      },
    }))).toEqual([logicalIdOf(stack, jobs.stateTable.tableArn)]);
  });

  it('takes its removal policy from the props', () => {
    const { stack, jobs } = newJobSystem({ removalPolicy: RemovalPolicy.DESTROY });

    expect(Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack, jobs.stateTable.tableArn)]).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
});

describe('JobSystem limits table', () => {
  it('is on-demand, with PITR, TTL on ttl, AWS-managed encryption, pk/sk strings and no stream, deleted with the stack', () => {
    const { stack, jobs } = newJobSystem();

    expect(Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack, jobs.limitsTable.tableArn)]).toEqual({
      Type: 'AWS::DynamoDB::Table',
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it('is named in the environment of workers', () => {
    const { stack, jobs } = newJobSystem();
    const worker = newWorker(stack, 'Worker', Duration.seconds(10));
    jobs.addWorker(worker, { queues: ['default'] });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Role: roleArnOf(stack, worker),
      Environment: { Variables: Match.objectLike({ [ENV.limitsTable]: stack.resolve(jobs.limitsTable.tableName), [ENV.stats]: 'on' }) },
    });
  });
});

describe('JobSystem retry function', () => {
  it('runs the newest Node.js on arm64 with an ESM bundle entry', () => {
    const { stack, jobs } = newJobSystem();

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Role: roleArnOf(stack, jobs.retryFunction),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 30,
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
  });

  it('gets the Hopper variables: the fixed ones in its environment, the queue URLs in the configuration document it reads', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
    const queueUrls = {
      'Fn::Join': ['', [
        '{"default":"', stack.resolve(jobs.queue('default').queueUrl),
        '","critical":"', stack.resolve(jobs.queue('critical').queueUrl), '"}',
      ]],
    };

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Role: roleArnOf(stack, jobs.retryFunction),
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          [ENV.stateTable]: stack.resolve(jobs.stateTable.tableName),
          [ENV.retriesQueueUrl]: stack.resolve(jobs.retriesQueue.queueUrl),
          [ENV.configVersion]: configurationParts(stack).document.version,
          [ENV.defaultRetry]: '25',
          [ENV.deadTtlDays]: '180',
        },
      },
    });
    expect(environmentOf(jobs.retryFunction)).not.toHaveProperty(ENV.queueUrls);
    expect(partsReadBy(stack, jobs.retryFunction)).toEqual(['document']);
    expect(configuredVariables(stack, jobs.retryFunction)).toMatchObject({ [ENV.queueUrls]: queueUrls, [ENV.stateTable]: stack.resolve(jobs.stateTable.tableName) });
  });

  it('passes retry.maxRetries and deadSetRetention through the environment', () => {
    const { stack, jobs } = newJobSystem({ retry: { maxRetries: 5 }, deadSetRetention: Duration.days(30) });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Role: roleArnOf(stack, jobs.retryFunction),
      Environment: { Variables: Match.objectLike({ [ENV.defaultRetry]: '5', [ENV.deadTtlDays]: '30' }) },
    });
  });

  it('consumes the retries queue in batches of 10 with partial batch failures and at most 10 at once', () => {
    const { stack, jobs } = newJobSystem();

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.retriesQueue.queueArn),
      FunctionName: stack.resolve(jobs.retryFunction.functionName),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('takes its concurrency cap from retry.maxConcurrency', () => {
    const { stack, jobs } = newJobSystem({ retry: { maxConcurrency: 3 } });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.retriesQueue.queueArn),
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });

  it('writes to its own log group, kept one month unless told otherwise', () => {
    const defaults = newJobSystem();
    const custom = newJobSystem({ logRetention: logs.RetentionDays.ONE_WEEK });

    Template.fromStack(defaults.stack).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    Template.fromStack(custom.stack).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });
});

describe('JobSystem batch function', () => {
  it('runs the newest Node.js on arm64 with the Hopper environment and a 60 s timeout', () => {
    const { stack, jobs } = newJobSystem();

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Role: roleArnOf(stack, jobs.batchFunction),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 60,
      Environment: { Variables: Match.objectLike({ [ENV.stateTable]: stack.resolve(jobs.stateTable.tableName), [ENV.defaultRetry]: '25' }) },
    });
  });

  it('reads the state table stream from the oldest record, batch items, tallied job items and flow items only, retrying a failing record from itself', () => {
    const { stack, jobs } = newJobSystem();

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.stateTable.tableStreamArn),
      FunctionName: stack.resolve(jobs.batchFunction.functionName),
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { pk: { S: [{ prefix: 'batch#' }] }, sk: { S: ['batch'] } } } }) },
          { Pattern: JSON.stringify({ eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { pk: { S: [{ prefix: 'batch#' }] }, sk: { S: [{ prefix: 'job#' }] } }, NewImage: { tally: { N: [{ exists: true }] } } } }) },
          { Pattern: JSON.stringify({ eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { pk: { S: [{ prefix: 'flow#' }] }, sk: { S: ['flow'] } } } }) },
        ],
      },
      DestinationConfig: { OnFailure: { Destination: stack.resolve(jobs.retriesDeadLetterQueue.queueArn) } },
    });
  });

  it('is the only consumer of the state table stream', () => {
    const { stack, jobs } = newJobSystem();
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['default'] });

    Template.fromStack(stack).resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', { EventSourceArn: stack.resolve(jobs.stateTable.tableStreamArn) }, 1);
  });
});

describe('JobSystem.addWorker', () => {
  it('maps each queue to the worker with partial batch failures, and a queue\'s maxConcurrency of 50 jobs to 5 invocations of 10', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: { maxConcurrency: 50 } } });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['default', 'critical'] });
    const template = Template.fromStack(stack);

    template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', { FunctionName: stack.resolve(worker.functionName) }, 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.queue('default').queueArn),
      FunctionName: stack.resolve(worker.functionName),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: Match.absent(),
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.queue('critical').queueArn),
      FunctionName: stack.resolve(worker.functionName),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    expect(configuredVariables(stack, worker)).toMatchObject({ [ENV.queueConcurrency]: '{"critical":{"jobs":50,"perInvocation":10}}' });
  });

  it.each([
    ['a cap of 3 jobs: 3 invocations of 1', { maxConcurrency: 3 }, { BatchSize: 1, ScalingConfig: { MaximumConcurrency: 3 } }, { jobs: 3, perInvocation: 1 }],
    ['a cap of 1 job: the mapping\'s least, 2 invocations of 1, and a lease per job for the worker\'s timeout', { maxConcurrency: 1 }, { BatchSize: 1, ScalingConfig: { MaximumConcurrency: 2 } }, { jobs: 1, perInvocation: 1, leaseSeconds: 3 }],
    ['a cap of 25 with batches of 10: 5 invocations of 5', { maxConcurrency: 25, batchSize: 10 }, { BatchSize: 5, ScalingConfig: { MaximumConcurrency: 5 } }, { jobs: 25, perInvocation: 5 }],
    ['no cap: the batch size asked for, no mapping limit', { batchSize: 4 }, { BatchSize: 4, ScalingConfig: Match.absent() }, undefined],
  ])('sets the mapping and the worker from %s', (_label, queue, mapping, worker) => {
    const { stack, jobs } = newJobSystem({ queues: { capped: queue } });
    const fn = newWorker(stack, 'Worker');
    jobs.addWorker(fn, { queues: ['capped'] });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: stack.resolve(jobs.queue('capped').queueArn), ...mapping });
    expect(JSON.parse(String(configuredVariables(stack, fn)[ENV.queueConcurrency]))).toEqual(worker === undefined ? {} : { capped: worker });
  });

  it('takes batch size, batching window and max concurrency from the queue options', () => {
    const { stack, jobs } = newJobSystem({ queues: { bulk: { batchSize: 4, maxBatchingWindow: Duration.seconds(5), maxConcurrency: 8 } } });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['bulk'] });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.queue('bulk').queueArn),
      BatchSize: 4,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('lets the worker options override the queue options', () => {
    const { stack, jobs } = newJobSystem({ queues: { bulk: { batchSize: 4, maxConcurrency: 7 } } });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['bulk'], batchSize: 2, maxConcurrency: 20, maxBatchingWindow: Duration.seconds(1) });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.queue('bulk').queueArn),
      BatchSize: 2,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('gives the worker the same Hopper variables as the retry function: the same environment, and the same configuration document', () => {
    const { stack, jobs } = newJobSystem({ retry: { maxRetries: 8 } });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['default'] });

    const expected = {
      [ENV.stateTable]: stack.resolve(jobs.stateTable.tableName),
      [ENV.retriesQueueUrl]: stack.resolve(jobs.retriesQueue.queueUrl),
      [ENV.configVersion]: configurationParts(stack).document.version,
      [ENV.defaultRetry]: '8',
      [ENV.deadTtlDays]: '180',
    };
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Role: roleArnOf(stack, worker), Environment: { Variables: expected } });
    expect(environmentOf(worker)).not.toHaveProperty(ENV.queueUrls);
    expect(partsReadBy(stack, worker)).toEqual(['document']);
    const { NODE_OPTIONS: _nodeOptions, ...retryVariables } = configuredVariables(stack, jobs.retryFunction);
    expect(configuredVariables(stack, worker)).toEqual(retryVariables);
    expect(retryVariables[ENV.queueUrls]).toEqual(stack.resolve(jobs.clientEnvironment()[ENV.queueUrls]));
  });

  it('returns one event source mapping per queue, in the order given', () => {
    const { stack, jobs } = newJobSystem({ queues: { a: {}, b: {} } });

    const sources = jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['b', 'a'] });

    expect(sources.map((source) => stack.resolve((source.node.defaultChild as lambda.CfnEventSourceMapping).eventSourceArn))).toEqual([
      stack.resolve(jobs.queue('b').queueArn),
      stack.resolve(jobs.queue('a').queueArn),
    ]);
  });
});

describe('JobSystem configuration document', () => {
  it('names the queues with listScheduled in the document (HOPPER_LISTED_QUEUES) and in clientEnvironment, and nothing without one', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, reports: { listScheduled: true }, exports: { listScheduled: true } } });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['default', 'reports', 'exports'] });
    expect(configurationParts(stack).document.variables[ENV.listedQueues]).toBe('["reports","exports"]');
    expect(jobs.clientEnvironment()[ENV.listedQueues]).toBe('["reports","exports"]');

    const plain = newJobSystem({ queues: { default: {} } });
    plain.jobs.addWorker(newWorker(plain.stack, 'Worker'), { queues: ['default'] });
    expect(configurationParts(plain.stack).document.variables).not.toHaveProperty(ENV.listedQueues);
    expect(plain.jobs.clientEnvironment()).not.toHaveProperty(ENV.listedQueues);
  });

  it('is written into the state table by its own function: a document part and a mappings part, each versioned by a digest of its variables', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
    const worker = newWorker(stack, 'Worker');
    jobs.addWorker(worker, { queues: ['default'] });
    const parts = configurationParts(stack);

    for (const [name, part] of Object.entries(parts)) {
      expect(part.properties, name).toEqual({
        ServiceToken: stack.resolve(configurationFunctionOf(jobs).functionArn),
        ServiceTimeout: '300',
        TableName: stack.resolve(jobs.stateTable.tableName),
        Part: name,
        Version: expect.stringMatching(/^[0-9a-f]{16}$/),
        Variables: part.variables,
      });
    }
    expect(Object.keys(parts.document.variables).sort()).toEqual([ENV.queueConcurrency, ENV.queueMaxReceives, ENV.queueUrls, ENV.queueVisibility]);
    expect(Object.keys(parts.mappings.variables)).toEqual([ENV.queueMappings]);
    // Each function that reads a part is updated after it; only the API reads the mappings.
    for (const fn of [jobs.retryFunction, jobs.batchFunction, jobs.scheduler.sweepFunction, worker]) {
      expect(partsReadBy(stack, fn), fn.node.path).toEqual(['document']);
      expect(dependenciesOf(fn), fn.node.path).not.toContain(parts.mappings.logicalId);
    }
    expect(partsReadBy(stack, jobs.apiFunction)).toEqual(['document', 'mappings']);
  });

  it('changes the version every configured function names when the document changes, and only then', () => {
    const versionsOf = (queues: Record<string, object>) => {
      const { stack, jobs } = newJobSystem({ queues });
      const worker = newWorker(stack, 'Worker');
      jobs.addWorker(worker, { queues: ['default'] });
      return [jobs.retryFunction, jobs.batchFunction, jobs.scheduler.sweepFunction, jobs.apiFunction, worker].map((fn) => environmentOf(fn)[ENV.configVersion]);
    };

    const one = versionsOf({ default: {} });
    const digest = expect.stringMatching(/^[0-9a-f]{16}$/);
    // The API names the document's version and the mappings'.
    expect(one).toEqual([digest, digest, digest, expect.stringMatching(/^[0-9a-f]{16}\.[0-9a-f]{16}$/), digest]);
    expect(versionsOf({ default: {} })).toEqual(one);
    const two = versionsOf({ default: {}, critical: {} });
    for (const [index, version] of two.entries()) expect(version).not.toEqual(one[index]);
  });
});

describe('JobSystem outputs', () => {
  it('names its outputs after the construct id', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });
    const template = Template.fromStack(stack);

    template.hasOutput('JobsQueueUrls', { Value: stack.resolve(jobs.clientEnvironment()[ENV.queueUrls]) });
    expect(template.toJSON().Outputs.JobsQueueUrls.Value).toEqual(partVariables(stack, 'document')[ENV.queueUrls]);
    template.hasOutput('JobsStateTableName', { Value: stack.resolve(jobs.stateTable.tableName) });
    template.hasOutput('JobsRetriesQueueUrl', { Value: stack.resolve(jobs.retriesQueue.queueUrl) });
    template.hasOutput('JobsRetriesDlqUrl', { Value: stack.resolve(jobs.retriesDeadLetterQueue.queueUrl) });
    template.hasOutput('JobsLimitsTableName', { Value: stack.resolve(jobs.limitsTable.tableName) });
    template.hasOutput('JobsApiUrl', { Value: stack.resolve(jobs.apiUrl.url) });
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(['JobsApiUrl', 'JobsLimitsTableName', 'JobsQueueUrls', 'JobsRetriesDlqUrl', 'JobsRetriesQueueUrl', 'JobsStateTableName']);
  });
});

describe('JobSystem metrics', () => {
  it('measures queue latency as the maximum age of the oldest message', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {} } });

    const metric = jobs.metricQueueLatency('critical');

    expect(metric.namespace).toBe('AWS/SQS');
    expect(metric.metricName).toBe('ApproximateAgeOfOldestMessage');
    expect(metric.statistic).toBe('Maximum');
    expect(stack.resolve(metric.dimensions)).toEqual({ QueueName: stack.resolve(jobs.queue('critical').queueName) });
  });

  it('measures queue depth as the visible messages, with overridable options', () => {
    const { stack, jobs } = newJobSystem();

    const metric = jobs.metricQueueDepth('default', { period: Duration.minutes(1) });

    expect(metric.metricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(metric.statistic).toBe('Maximum');
    expect(metric.period.toSeconds()).toBe(60);
    expect(stack.resolve(metric.dimensions)).toEqual({ QueueName: stack.resolve(jobs.queue('default').queueName) });
  });
});
