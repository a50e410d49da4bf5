/**
 * The time-driven half of a JobSystem: the scheduler function and its every-minute schedule (moves
 * due jobs of the scheduled and retry sets onto their queues), and the cron function with one
 * schedule per cron. Created by the JobSystem; not meant to be used on its own.
 */
import type { MiddlewareBundle } from './middleware-bundle.js';
import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { cronTickInput, type ResolvedCron } from '../lib/cron/definition.js';
import { grantOnEach } from './job-system-grants.js';
import { JOB_DEFAULTS } from '../lib/job/model.js';
import { ENV } from '../lib/config/env.js';
import { HopperFunction } from './hopper-function.js';
import { hopperEntry, pinnedToHopperPackage } from './hopper-package.js';
import { JOB_SYSTEM_DEFAULTS } from './job-system-props.js';
import { LambdaScheduleTarget } from './lambda-schedule-target.js';

/** Props of a {@link JobScheduler}. */
export interface JobSchedulerProps {
  /** The state table (scheduled, retry and dead sets; cron ticks and run records). */
  readonly stateTable: dynamodb.ITable;
  /** The job queues, by name. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** What a grant on `queues` names (each ARN, or one pattern in nested stacks: queue-layout.ts). */
  readonly queueArns: (queues: readonly sqs.IQueue[]) => string[];
  /** Hopper's environment variables (lib/config/env.ts), given to both functions. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * The validated crons.
   * @default - none: no cron function and no cron schedules
   */
  readonly crons?: readonly ResolvedCron[];
  /**
   * How long the functions' logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /** The team's middleware, loaded by Hopper's functions (the JobSystem's `middleware` prop). */
  readonly middleware?: MiddlewareBundle;
}

/**
 * The scheduler and cron functions and their EventBridge Scheduler schedules.
 *
 * Construct ids: `SweepFunction`, `SweepHelperFunction`, `Role` (assumed by EventBridge Scheduler, may invoke the two
 * functions and nothing else), `Sweep` (`rate(1 minute)`), `CronFunction` and `Cron-<name>` (one
 * per cron) when there are crons.
 */
export class JobScheduler extends Construct {
  /** Moves due jobs of the scheduled and retry sets onto their queues, every minute. */
  readonly sweepFunction: lambda.Function;
  /** Sweeps a share of a backlog for {@link sweepFunction}, which invokes it. */
  readonly sweepHelperFunction: lambda.Function;
  /** The every-minute schedule that invokes {@link sweepFunction}. */
  readonly sweepSchedule: scheduler.Schedule;
  /** Enqueues a cron's job on each tick; undefined when there are no crons. */
  readonly cronFunction: lambda.Function | undefined;
  /** One schedule per cron, by cron name. */
  readonly cronSchedules: Readonly<Record<string, scheduler.Schedule>>;
  /** The role EventBridge Scheduler assumes to invoke the functions. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: JobSchedulerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new iam.Role(this, 'Role', {
      description: `EventBridge Scheduler invokes Hopper's scheduler and cron functions (${this.node.path})`,
      // Only schedules of this account's default group may use it (the confused-deputy guard).
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
          },
        },
      }),
    });
    const common = {
      environment: props.environment,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...(props.middleware === undefined ? {} : { middleware: props.middleware }),
      ...pinnedToHopperPackage(),
    };

    const sweep = new HopperFunction(this, 'SweepFunction', {
      ...common,
      entry: hopperEntry('scheduler'),
      description: 'Hopper scheduler: every minute, moves due scheduled jobs and retries onto their queues with second-precision delays',
      timeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.schedulerTimeoutSeconds),
      // One sweep at a time: a sweep sends and deletes without claiming each entry (a write per
      // scheduled job saved), which is safe only when no second sweep reads the same entries.
      reservedConcurrentExecutions: 1,
    });
    this.sweepFunction = sweep.function;
    // A backlog is shared with helpers, each an invocation with a CPU of its own (Lambda gives one
    // vCPU at 1,769 MB): what follows the first page of each deep shard, the shards dealt between
    // them. Only the sweep invokes them, and it waits for them, so they never overlap either.
    const helper = new HopperFunction(this, 'SweepHelperFunction', {
      ...common,
      entry: hopperEntry('scheduler'),
      description: 'Hopper scheduler helper: moves a share of a backlog of due jobs for the sweep that invokes it',
      timeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.schedulerTimeoutSeconds),
      memorySize: JOB_SYSTEM_DEFAULTS.sweepHelperMemoryMb,
    });
    this.sweepHelperFunction = helper.function;
    this.sweepFunction.addEnvironment(ENV.sweepHelper, this.sweepHelperFunction.functionName);
    // The function itself, not its versions (`grantInvoke` adds `:*`).
    iam.Grant.addToPrincipal({ grantee: this.sweepFunction, actions: ['lambda:InvokeFunction'], resourceArns: [this.sweepHelperFunction.functionArn] });
    // EventBridge Scheduler invokes asynchronously; a failed sweep is not retried, the next minute's
    // sweep does its work. A tick throttled behind a running sweep waits in Lambda's queue for at
    // most a minute (the shortest age Lambda allows), then the next tick takes over.
    this.sweepFunction.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    // Read due entries, delete them 25 to a call once sent; dead-set entries for undeliverable ones.
    for (const grantee of [this.sweepFunction, this.sweepHelperFunction]) {
      iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem'], resourceArns: [props.stateTable.tableArn] });
      grantSend(grantee, props.queueArns(Object.values(props.queues)));
    }
    this.sweepSchedule = new scheduler.Schedule(this, 'Sweep', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      description: 'Hopper: move due scheduled jobs and retries onto their queues',
      // A missed sweep is made up by the next one a minute later: no point retrying for longer.
      target: new LambdaScheduleTarget(this.sweepFunction, { role: this.role, maxEventAge: Duration.minutes(1) }),
    });

    const crons = props.crons ?? [];
    const schedules: Record<string, scheduler.Schedule> = {};
    if (crons.length === 0) {
      this.cronFunction = undefined;
    } else {
      const cron = new HopperFunction(this, 'CronFunction', {
        ...common,
        entry: hopperEntry('cron'),
        description: 'Hopper cron: enqueues a fresh job for each tick of a declared cron, once per tick',
        timeout: Duration.seconds(JOB_SYSTEM_DEFAULTS.cronTimeoutSeconds),
      });
      const cronFunction = cron.function;
      this.cronFunction = cronFunction;
      // A tick that finds another invocation holding it fails on purpose and relies on Lambda's
      // asynchronous retries (about 1 and 3 minutes later) to come back once that claim is settled.
      cronFunction.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6) });
      // The tick marker (a conditional put) and the run record (a conditional update).
      iam.Grant.addToPrincipal({ grantee: cronFunction, actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [props.stateTable.tableArn] });
      const used = new Set(crons.map((definition) => definition.job.queue ?? JOB_DEFAULTS.queue));
      grantSend(cronFunction, props.queueArns(Object.entries(props.queues).filter(([name]) => used.has(name)).map(([, queue]) => queue)));
      for (const definition of crons) {
        schedules[definition.name] = new scheduler.Schedule(this, `Cron-${definition.name}`, {
          schedule: scheduler.ScheduleExpression.expression(definition.expression.eventBridge, TimeZone.of(definition.timezone)),
          description: `Hopper cron ${JSON.stringify(definition.name)}: ${definition.expression.source} (${definition.timezone})`,
          target: new LambdaScheduleTarget(cronFunction, { role: this.role, input: scheduler.ScheduleTargetInput.fromObject(cronTickInput(definition)) }),
        });
      }
    }
    this.cronSchedules = schedules;
  }
}

function grantSend(grantee: iam.IGrantable, arns: readonly string[]): void {
  if (arns.length > 0) grantOnEach(grantee, ['sqs:SendMessage'], arns);
}
