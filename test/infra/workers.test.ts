import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { allows, configReadStatement, configuredVariables, logicalIdOf, newJobSystem, newWorker, partsReadBy, statementsOfDocument } from './support.js';

const LEGACY_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:legacy-worker';
const LEGACY_ROLE_ARN = 'arn:aws:iam::123456789012:role/legacy-worker';

function visibilityOf(template: Template, id: string): unknown {
  return template.toJSON().Resources[id].Properties.VisibilityTimeout;
}

describe('JobSystem.addWorker with any Lambda function', () => {
  it('maps a queue to an alias, and gives the aliased function the Hopper variables and its timeout to the queue', () => {
    const { stack, jobs } = newJobSystem();
    const fn = newWorker(stack, 'Worker', Duration.seconds(60));
    const alias = new lambda.Alias(stack, 'Live', { aliasName: 'live', version: fn.currentVersion });

    jobs.addWorker(alias, { queues: ['default'] });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.queue('default').queueArn),
      FunctionName: stack.resolve(alias.functionName),
    });
    expect(partsReadBy(stack, fn)).toEqual(['document']);
    expect(configuredVariables(stack, fn)[ENV.queueUrls]).toEqual(stack.resolve(jobs.clientEnvironment()[ENV.queueUrls]));
    expect(visibilityOf(template, logicalIdOf(stack, jobs.queue('default').queueArn))).toBe(360);
  });

  it('connects an imported function: rights on its role (reading the configuration document among them), a warning that its environment is set elsewhere', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: { visibilityTimeout: Duration.minutes(5) } } });
    const role = iam.Role.fromRoleArn(stack, 'LegacyRole', LEGACY_ROLE_ARN);
    const legacy = lambda.Function.fromFunctionAttributes(stack, 'Legacy', { functionArn: LEGACY_ARN, role, sameEnvironment: true });

    jobs.addWorker(legacy, { queues: ['default'] });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(jobs.queue('default').queueArn),
      FunctionName: 'legacy-worker',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: ['legacy-worker'] } }))
      .flatMap((policy) => statementsOfDocument(policy.Properties.PolicyDocument));
    expect(allows(statements, 'sqs:ReceiveMessage', stack.resolve(jobs.queue('default').queueArn))).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', stack.resolve(jobs.retriesQueue.queueArn))).toBe(true);
    // It reads the queue URLs and settings from the configuration document, given HOPPER_CONFIG where it is defined.
    expect(statements).toContainEqual(configReadStatement(stack, jobs.stateTable));
    Annotations.fromStack(stack).hasWarning('/Test/Legacy', Match.stringLikeRegexp(
      '^Test/Legacy is not a lambda.Function of this app, so the JobSystem cannot set its environment: give it the variables of jobs.environment \\(HOPPER_STATE_TABLE, HOPPER_RETRIES_QUEUE_URL, HOPPER_DEFAULT_RETRY, HOPPER_DEAD_TTL_DAYS, HOPPER_LIMITS_TABLE, HOPPER_STATS, HOPPER_METRICS_NAMESPACE, HOPPER_CONFIG\\) where it is defined',
    ));
  });

  it('refuses an imported function for a queue whose visibility timeout would follow its unknown timeout', () => {
    const { stack, jobs } = newJobSystem();
    const legacy = lambda.Function.fromFunctionArn(stack, 'Legacy', LEGACY_ARN);

    expect(() => jobs.addWorker(legacy, { queues: ['default'] })).toThrow(
      'the timeout of Test/Legacy is not known at synth time, so the visibility timeout of queue "default" cannot follow it; set queues.default.visibilityTimeout',
    );
  });

  it('sets no warning for a lambda.Function of this app', () => {
    const { stack, jobs } = newJobSystem();

    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['default'] });

    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('cannot set its environment'));
  });
});
