/**
 * A queue's priority tiers at synth: one SQS queue per tier (the default tier keeps the queue's own
 * `Queue-<name>`), one mapping per tier sharing the queue's maxConcurrency, the tier layout in the
 * configuration document, the governor with its schedule and only the rights it needs, and the
 * options checked with errors naming them.
 */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { tieredConcurrencyPlan } from '../../infra/queue-tiers.js';
import { actionsOf, configuredVariables, newJobSystem, newWorker, resourcesOf, roleRefOf, statementsOfRole } from './support.js';

const TIERS = { critical: { targetAge: Duration.seconds(5) }, default: { targetAge: Duration.minutes(1) }, bulk: { targetAge: Duration.hours(1) } } as const;

/** A resolved `Fn::Join` of JSON as text, every reference written `"ref"`. */
function joined(value: unknown): unknown {
  const text = (part: unknown): string => (typeof part === 'string' ? part : '"ref"');
  if (typeof value === 'object' && value !== null && 'Fn::Join' in value) {
    const join: unknown = value['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) return JSON.parse(join[1].map(text).join(String(join[0])).replace(/""ref""/g, '"ref"'));
  }
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function tieredSystem() {
  const { stack, jobs } = newJobSystem({ queues: { email: { maxConcurrency: 60, tiers: TIERS }, plain: {} } });
  const worker = newWorker(stack, 'Worker', Duration.seconds(30));
  const mappings = jobs.addWorker(worker, { queues: ['email', 'plain'] });
  return { stack, jobs, worker, mappings, template: Template.fromStack(stack) };
}

describe('priority tiers', () => {
  it('makes one queue per tier, the default tier keeping Queue-<name>, each redriven to the retries queue', () => {
    const { stack, jobs, template } = tieredSystem();
    const idOf = (queue: { node: { path: string } }) => queue.node.path.split('/').slice(-1)[0];
    expect(Object.fromEntries(Object.entries(jobs.tierQueues.email ?? {}).map(([tier, queue]) => [tier, idOf(queue)])))
      .toEqual({ critical: 'Queue-email.critical', default: 'Queue-email', bulk: 'Queue-email.bulk' });
    expect(jobs.tierQueues.email?.default).toBe(jobs.queues.email);
    // email's three, plain, the retries queue and its DLQ.
    template.resourceCountIs('AWS::SQS::Queue', 6);
    const retries = stack.resolve((jobs.retriesQueue.node.defaultChild as unknown as { attrArn: string }).attrArn);
    for (const queue of Object.values(jobs.tierQueues.email ?? {})) {
      const logicalId = stack.getLogicalId(queue.node.defaultChild as never);
      expect(template.toJSON().Resources[logicalId].Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: retries, maxReceiveCount: 5 });
    }
  });

  it("maps each tier to the worker, the queue's 60 jobs as 12 invocations of 5, started as an idle queue's governor leaves them", () => {
    const { mappings, template } = tieredSystem();
    expect(mappings).toHaveLength(4);
    const scaling = Object.values(template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: Match.stringLikeRegexp('^Worker') } } })).map((resource) => [resource.Properties.BatchSize, resource.Properties.ScalingConfig?.MaximumConcurrency ?? null]);
    expect(scaling.sort()).toEqual([[10, null], [5, 2], [5, 2], [5, 8]]);
  });

  it('puts the tier layout in the document and the tier mappings where the governor and the API read them', () => {
    const { stack, jobs, worker } = tieredSystem();
    const tiers = joined(configuredVariables(stack, worker)[ENV.queueTiers]);
    expect(tiers).toEqual({ email: { defaultTier: 'default', tiers: [
      { name: 'critical', url: 'ref', targetSeconds: 5 }, { name: 'default', url: 'ref', targetSeconds: 60 }, { name: 'bulk', url: 'ref', targetSeconds: 3600 },
    ] } });
    const governor = jobs.governor?.function;
    if (governor === undefined) throw new Error('no governor');
    const mappings = joined(configuredVariables(stack, governor)[ENV.tierMappings]);
    expect(mappings).toEqual({ email: { invocations: 12, perInvocation: 5, mappings: { critical: 'ref', default: 'ref', bulk: 'ref' } } });
    expect(configuredVariables(stack, jobs.apiFunction)[ENV.tierMappings]).toBeDefined();
  });

  it('runs the governor every minute with the rights it needs and no more', () => {
    const { stack, jobs, template } = tieredSystem();
    const governor = jobs.governor?.function;
    if (governor === undefined) throw new Error('no governor');
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)', Target: Match.objectLike({ Arn: stack.resolve(governor.functionArn) }) });
    template.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('tier governor'), ReservedConcurrentExecutions: 1, Timeout: 75 });
    const statements = statementsOfRole(template, roleRefOf(stack, governor)).filter((statement) => !actionsOf(statement).some((action) => action.startsWith('logs:')));
    const granted = statements.map((statement) => ({ actions: actionsOf(statement), resources: resourcesOf(statement).length }));
    expect(granted).toEqual(expect.arrayContaining([
      { actions: ['sqs:GetQueueAttributes'], resources: 3 },
      { actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'], resources: 3 },
    ]));
    expect(statements.flatMap(actionsOf).filter((action) => !['sqs:GetQueueAttributes', 'lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping', 'dynamodb:Query'].includes(action))).toEqual([]);
  });

  it('alarms on each tier whose oldest message is twice its targetAge old, a minute at least', () => {
    const { jobs, template } = tieredSystem();
    expect([...jobs.alarms.keys()].filter((id) => id.startsWith('TierAge-'))).toEqual(['TierAge-email.critical', 'TierAge-email.default', 'TierAge-email.bulk']);
    const tierAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((resource) => resource.Properties)
      .filter((properties) => String(properties.AlarmDescription).includes('twice its targetAge'))
      .map((properties) => [properties.AlarmDescription, properties.Threshold, properties.MetricName]);
    expect(tierAlarms).toEqual([
      ['Hopper: Oldest message of tier critical of queue email is at least 60 s old, twice its targetAge', 60, 'ApproximateAgeOfOldestMessage'],
      ['Hopper: Oldest message of tier default of queue email is at least 120 s old, twice its targetAge', 120, 'ApproximateAgeOfOldestMessage'],
      ['Hopper: Oldest message of tier bulk of queue email is at least 7200 s old, twice its targetAge', 7200, 'ApproximateAgeOfOldestMessage'],
    ]);
  });

  it('makes no governor when no queue has tiers', () => {
    const { jobs } = newJobSystem({ queues: { plain: {} } });
    expect(jobs.governor).toBeUndefined();
  });

  it.each([
    [{ maxConcurrency: 5, tiers: TIERS }, 'queues.email.maxConcurrency must be at least 6 with 3 tiers'],
    [{ tiers: TIERS }, 'queues.email.maxConcurrency must be at least 6 with 3 tiers (each tier\'s mapping runs at least 2 invocations; the governor shares the total between them), but none was provided'],
    [{ maxConcurrency: 10, tiers: { only: { targetAge: Duration.seconds(5) } } }, 'queues.email.tiers must declare from 2 to 10 tiers, but 1 were provided'],
    [{ maxConcurrency: 10, tiers: { 'a.b': { targetAge: Duration.seconds(5) }, c: { targetAge: Duration.seconds(5) } } }, 'queues.email.tiers: tier name "a.b" is invalid'],
    [{ maxConcurrency: 10, tiers: { a: { targetAge: Duration.millis(10) }, b: { targetAge: Duration.seconds(5) } } }, 'queues.email.tiers.a.targetAge must be between 1 second and 14 days'],
  ])('refuses %j with a clear error', (options, message) => {
    expect(() => newJobSystem({ queues: { email: options } })).toThrow(message);
  });

  it('refuses tiers with nested stacks', () => {
    expect(() => newJobSystem({ nestedStacks: true, queues: { email: { maxConcurrency: 60, tiers: TIERS } } })).toThrow('queues.email.tiers cannot be combined with nestedStacks yet');
  });
});

describe('tieredConcurrencyPlan', () => {
  it.each([
    [60, 10, 3, { batchSize: 5, maxInvocations: 12, worker: { jobs: 60, perInvocation: 5 } }],
    [6, 10, 3, { batchSize: 1, maxInvocations: 6, worker: { jobs: 6, perInvocation: 1 } }],
    [9, 10, 3, { batchSize: 1, maxInvocations: 9, worker: { jobs: 9, perInvocation: 1 } }],
    [10_000, 10, 3, { batchSize: 10, maxInvocations: 1000, worker: { jobs: 10_000, perInvocation: 10 } }],
  ])('spreads %i jobs (batch %i, %i tiers) with room for the governor', (maxConcurrency, batchSize, tiers, expected) => {
    expect(tieredConcurrencyPlan({ maxConcurrency, batchSize }, tiers)).toEqual(expected);
  });
});

