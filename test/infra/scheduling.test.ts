import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../lib/errors/base.js';
import type { CronDefinition, JobSystemProps } from '../../infra/job-system.js';
import {
  actionsOf, allows, configReadStatement, configuredVariables, configurationParts, environmentOf, newJobSystem, newWorker, partsReadBy, roleRefOf, statementsOfRole,
  type Statement,
} from './support.js';

const NIGHTLY: CronDefinition = { name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'], queue: 'critical' } };

function fixture(props: JobSystemProps = {}) {
  const { stack, jobs } = newJobSystem({ queues: { default: {}, critical: {}, reports: {} }, ...props });
  const template = Template.fromStack(stack);
  const arn = (value: string): unknown => stack.resolve(value);
  const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((resource) => resource.Properties);
  const scheduleFor = (fn: lambda.IFunction) => schedules.filter((schedule) => JSON.stringify(schedule.Target.Arn) === JSON.stringify(arn(fn.functionArn)));
  const statementsOf = (fn: lambda.IFunction): Statement[] => statementsOfRole(template, roleRefOf(stack, fn));
  return { stack, jobs, template, arn, schedules, scheduleFor, statementsOf };
}

function dynamoActions(statements: readonly Statement[]): string[] {
  return statements.flatMap(actionsOf).filter((action) => action.startsWith('dynamodb:')).sort();
}

describe('the scheduler function and its every-minute schedule', () => {
  it('invokes the scheduler function every minute, without a flexible window, through the scheduler role', () => {
    const { jobs, scheduleFor, arn } = fixture();

    expect(scheduleFor(jobs.scheduler.sweepFunction)).toEqual([{
      ScheduleExpression: 'rate(1 minute)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Description: 'Hopper: move due scheduled jobs and retries onto their queues',
      Target: {
        Arn: arn(jobs.scheduler.sweepFunction.functionArn),
        RoleArn: arn(jobs.scheduler.role.roleArn),
        RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 185 },
      },
    }]);
  });

  it('gives the scheduler function a 60-second timeout and Hopper\'s variables, the queues\' through the configuration document', () => {
    const { stack, jobs, template, arn } = fixture();
    const functions = template.findResources('AWS::Lambda::Function', { Properties: { Timeout: 60, Description: Match.stringLikeRegexp('^Hopper scheduler:') } });

    expect(Object.keys(functions)).toHaveLength(1);
    const fn = Object.values(functions)[0]?.Properties;
    expect(fn.Environment.Variables).toMatchObject({
      HOPPER_STATE_TABLE: arn(jobs.stateTable.tableName),
      HOPPER_DEAD_TTL_DAYS: '180',
      HOPPER_CONFIG: configurationParts(stack).document.version,
    });
    expect(fn.Environment.Variables).not.toHaveProperty('HOPPER_QUEUE_VISIBILITY');
    expect(fn.Handler).toBe('index.handler');
    expect(partsReadBy(stack, jobs.scheduler.sweepFunction)).toEqual(['document']);
    expect(configuredVariables(stack, jobs.scheduler.sweepFunction)).toMatchObject({
      HOPPER_STATE_TABLE: arn(jobs.stateTable.tableName),
      HOPPER_DEAD_TTL_DAYS: '180',
      HOPPER_QUEUE_VISIBILITY: '{"default":30,"critical":30,"reports":30}',
    });
  });

  it('lets the scheduler function read and batch-delete set entries, write dead entries, read its configuration and send to job queues — nothing else', () => {
    const { stack, jobs, statementsOf, arn } = fixture();
    const statements = statementsOf(jobs.scheduler.sweepFunction);

    // Its Query on the whole table covers the configuration document; the grant every configured function gets is there too.
    expect(dynamoActions(statements)).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Query']);
    expect(statements).toContainEqual(configReadStatement(stack, jobs.stateTable));
    for (const action of dynamoActions(statements)) expect(allows(statements, action, arn(jobs.stateTable.tableArn)), action).toBe(true);
    for (const name of ['default', 'critical', 'reports']) expect(allows(statements, 'sqs:SendMessage', arn(jobs.queue(name).queueArn)), name).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.retriesQueue.queueArn))).toBe(false);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'sqs:SendMessage', 'lambda:InvokeFunction',
    ]));
    // It may invoke its helper, the function itself (no version or alias), and nothing else.
    expect(statements.filter((statement) => actionsOf(statement).includes('lambda:InvokeFunction')).map((statement) => statement.Resource)).toEqual([arn(jobs.scheduler.sweepHelperFunction.functionArn)]);
  });

  it('gives the sweep a helper to share a backlog with: one vCPU of memory, the sweep\'s grants and no more, named in the sweep\'s environment', () => {
    const { stack, jobs, template, statementsOf, arn } = fixture();
    const helper = jobs.scheduler.sweepHelperFunction;
    const properties = template.toJSON().Resources[stack.getLogicalId(helper.node.defaultChild as lambda.CfnFunction)].Properties;

    expect(properties).toMatchObject({ MemorySize: 1_769, Timeout: 60 });
    expect(properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(configuredVariables(stack, jobs.scheduler.sweepFunction)).toMatchObject({ HOPPER_SWEEP_HELPER: arn(helper.functionName) });
    expect(configuredVariables(stack, helper)).not.toHaveProperty('HOPPER_SWEEP_HELPER');
    const statements = statementsOf(helper);
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'sqs:SendMessage',
    ]));
  });

  it('lets only EventBridge Scheduler, for this account\'s default schedule group, assume the scheduler role, which may invoke Hopper\'s functions only', () => {
    const { jobs, template, stack, arn } = fixture({ crons: [NIGHTLY] });
    const roles = template.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'scheduler.amazonaws.com' } }] } } });
    const cronFunction = jobs.scheduler.cronFunction;
    if (cronFunction === undefined) throw new Error('no cron function');

    expect(Object.values(roles).map((role) => role.Properties.AssumeRolePolicyDocument.Statement[0].Condition)).toEqual([{
      StringEquals: {
        'aws:SourceAccount': stack.resolve(stack.account),
        'aws:SourceArn': stack.resolve(stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' })),
      },
    }]);
    const statements = statementsOfRole(template, stack.resolve(jobs.scheduler.role.roleName));
    expect(statements.flatMap((statement) => actionsOf(statement).map((action) => [statement.Effect, action, statement.Resource]))).toEqual([
      ['Allow', 'lambda:InvokeFunction', arn(jobs.scheduler.sweepFunction.functionArn)],
      ['Allow', 'lambda:InvokeFunction', arn(cronFunction.functionArn)],
    ]);
  });

  it('runs one sweep at a time: the scheduler function reserves a concurrency of 1', () => {
    const { jobs, template, stack } = fixture();
    const functions = template.findResources('AWS::Lambda::Function');
    const reserved = Object.entries(functions).flatMap(([id, resource]) => (resource.Properties.ReservedConcurrentExecutions === undefined ? [] : [[id, resource.Properties.ReservedConcurrentExecutions]]));

    expect(reserved).toEqual([[stack.getLogicalId(jobs.scheduler.sweepFunction.node.defaultChild as lambda.CfnFunction), 1]]);
  });

  it('does not retry a failed sweep (the next one does its work), drops a tick that waited a minute, and retries a cron tick twice', () => {
    const { jobs, template, arn } = fixture({ crons: [NIGHTLY] });
    const cronFunction = jobs.scheduler.cronFunction;
    if (cronFunction === undefined) throw new Error('no cron function');
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')).map((resource) => resource.Properties);
    const configOf = (fn: lambda.IFunction) => configs.filter((config) => JSON.stringify(config.FunctionName) === JSON.stringify(arn(fn.functionName)));

    expect(configOf(jobs.scheduler.sweepFunction)).toEqual([{ FunctionName: arn(jobs.scheduler.sweepFunction.functionName), Qualifier: '$LATEST', MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 }]);
    expect(configOf(cronFunction)).toEqual([{ FunctionName: arn(cronFunction.functionName), Qualifier: '$LATEST', MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21_600 }]);
  });

  it('has no cron function and one schedule when no cron is declared', () => {
    const { jobs, schedules } = fixture();

    expect(jobs.scheduler.cronFunction).toBeUndefined();
    expect(schedules).toHaveLength(1);
  });
});

describe('crons', () => {
  const crons: CronDefinition[] = [
    NIGHTLY,
    { name: 'every-15', schedule: '*/15 * * * 1-5', job: { jobtype: 'Poll' } },
    { name: 'month-end', schedule: 'cron(0 18 L * ? *)', timezone: 'America/New_York', job: { jobtype: 'Close', queue: 'critical', retry: 3 } },
  ];

  it('creates one schedule per cron, in EventBridge form and in its time zone, with the tick\'s input', () => {
    const { jobs, scheduleFor, arn } = fixture({ crons });
    const cronFunction = jobs.scheduler.cronFunction;
    if (cronFunction === undefined) throw new Error('no cron function');

    const schedules = scheduleFor(cronFunction);
    expect(schedules.map((schedule) => [schedule.ScheduleExpression, schedule.ScheduleExpressionTimezone])).toEqual([
      ['cron(0 3 * * ? *)', 'Europe/Vienna'],
      ['cron(0/15 * ? * 2-6 *)', 'UTC'],
      ['cron(0 18 L * ? *)', 'America/New_York'],
    ]);
    expect(JSON.parse(schedules[0]?.Target.Input)).toEqual({
      hopper: 'cron', cron: 'nightly', scheduled_time: '<aws.scheduler.scheduled-time>', schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna',
      job: { jobtype: 'Report', args: ['daily'], queue: 'critical' },
    });
    expect(schedules[0]?.Target.RoleArn).toEqual(arn(jobs.scheduler.role.roleArn));
    expect(schedules[0]?.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
    expect(schedules[0]?.Description).toBe('Hopper cron "nightly": 0 3 * * * (Europe/Vienna)');
    expect(Object.keys(jobs.scheduler.cronSchedules)).toEqual(['nightly', 'every-15', 'month-end']);
  });

  it('lets the cron function write tick markers and run records, read its configuration and send to the queues its crons use — nothing else', () => {
    const { stack, jobs, statementsOf, arn } = fixture({ crons });
    const cronFunction = jobs.scheduler.cronFunction;
    if (cronFunction === undefined) throw new Error('no cron function');
    const statements = statementsOf(cronFunction);

    expect(dynamoActions(statements)).toEqual(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    // Query only on the configuration document's partition.
    expect(statements.filter((statement) => actionsOf(statement).includes('dynamodb:Query'))).toEqual([configReadStatement(stack, jobs.stateTable)]);
    expect(partsReadBy(stack, cronFunction)).toEqual(['document']);
    expect(allows(statements, 'dynamodb:PutItem', arn(jobs.stateTable.tableArn))).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.queue('critical').queueArn))).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.queue('default').queueArn))).toBe(true);
    expect(allows(statements, 'sqs:SendMessage', arn(jobs.queue('reports').queueArn))).toBe(false);
  });

  it('gives the cron function a 30-second timeout', () => {
    const { template } = fixture({ crons });

    expect(Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Timeout: 30, Description: 'Hopper cron: enqueues a fresh job for each tick of a declared cron, once per tick' } }))).toHaveLength(1);
  });
});

describe('cron validation at synth time names the cron', () => {
  const valid = (fields: Partial<CronDefinition>): CronDefinition => ({ ...NIGHTLY, ...fields });

  it.each([
    [[valid({ timezone: 'Europe/Vienn' })], 'crons[0] ("nightly"): timezone "Europe/Vienn" is not a known IANA time zone'],
    [[valid({}), valid({ name: 'weekly', timezone: 'europe/vienna' })], 'crons[1] ("weekly"): timezone "europe/vienna" is not spelled as IANA spells it (Europe/Vienna)'],
    [[valid({ schedule: '0 3 * *' })], 'crons[0] ("nightly"): schedule "0 3 * *" is invalid: a cron expression must have 5 fields (crontab: minute hour day-of-month month day-of-week) or 6 (EventBridge: … day-of-week year), but 4 were provided'],
    [[valid({ schedule: '0 3 1 * 1' })], 'crons[0] ("nightly"): schedule "0 3 1 * 1" is invalid: a crontab expression that restricts both day-of-month ("1") and day-of-week ("1") runs when either matches, which EventBridge cannot express; set one of them to *'],
    [[valid({ schedule: '0 3 ? * ? *' })], 'crons[0] ("nightly"): schedule "0 3 ? * ? *" is invalid: exactly one of day-of-month and day-of-week must be ?, but "?" and "?" were provided'],
    [[valid({}), valid({})], 'crons[1] ("nightly"): name "nightly" is already used by crons[0]'],
    [[valid({ name: 'nightly report' })], 'crons[0] ("nightly report"): name must be 1 to 64 letters, digits, - or _, starting with a letter or digit, but "nightly report" was provided'],
    [[valid({ job: { jobtype: 'Report', queue: 'bulk' } })], 'crons[0] ("nightly"): job.queue "bulk" is not declared; declared queues: default, critical, reports'],
    [[valid({ job: { jobtype: 'Report', args: ['x'.repeat(9000)] } })], /^crons\[0\] \("nightly"\): job makes a schedule input of \d+ bytes, over the limit of 8192/],
  ])('%#', (crons, message) => {
    expect(() => fixture({ crons })).toThrow(ConfigurationError);
    expect(() => fixture({ crons })).toThrow(message);
  });
});

describe('queue visibility timeouts for the worker\'s heartbeat', () => {
  it('tells every function each queue\'s visibility timeout through the configuration document, following its worker', () => {
    const { stack, jobs } = newJobSystem({ queues: { default: {}, slow: { visibilityTimeout: Duration.minutes(20) } } });
    const worker = newWorker(stack, 'Worker', Duration.seconds(45));
    jobs.addWorker(worker, { queues: ['default'] });

    expect(configurationParts(stack).document.variables.HOPPER_QUEUE_VISIBILITY).toBe('{"default":270,"slow":1200}');
    const functions = stack.node.findAll().filter((node): node is lambda.Function => node instanceof lambda.Function);
    const configured = functions.filter((fn) => environmentOf(fn).HOPPER_CONFIG !== undefined);
    // The worker, and the retry, scheduler, scheduler helper, batch and API functions; the configuration function writes the document and reads none.
    expect(configured.map((fn) => fn.node.path).sort()).toEqual([
      'Test/Jobs/ApiFunction/Function', 'Test/Jobs/BatchFunction/Function', 'Test/Jobs/RetryFunction/Function', 'Test/Jobs/Scheduler/SweepFunction/Function', 'Test/Jobs/Scheduler/SweepHelperFunction/Function', 'Test/Worker',
    ]);
    expect(functions.filter((fn) => !configured.includes(fn)).map((fn) => fn.node.path)).toEqual(['Test/Jobs/Configuration/ConfigFunction/Function']);
    for (const fn of functions) expect(environmentOf(fn), fn.node.path).not.toHaveProperty('HOPPER_QUEUE_VISIBILITY');
    for (const fn of configured) expect(configuredVariables(stack, fn).HOPPER_QUEUE_VISIBILITY, fn.node.path).toBe('{"default":270,"slow":1200}');
  });
});
