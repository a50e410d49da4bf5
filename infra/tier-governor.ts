/**
 * The tier governor: a small Hopper function that EventBridge Scheduler invokes every minute and
 * that, within the invocation, acts every 10 seconds while any tier has jobs waiting
 * (lib/governor/): it reads each tier's backlog (SQS GetQueueAttributes) and its workers' reported
 * wait (one Query of the stats rollups) and moves each tier mapping's MaximumConcurrency
 * (UpdateEventSourceMapping). Made only when a queue declares tiers.
 *
 * Construct ids: `Function`, `Schedule`.
 */
import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { GOVERNOR } from '../lib/governor/plan.js';
import { STATS_KEYS } from '../lib/storage/keys.js';
import { grantOnEach, grantStateItems } from './job-system-grants.js';
import { HopperFunction } from './hopper-function.js';
import { hopperEntry, pinnedToHopperPackage } from './hopper-package.js';
import { LambdaScheduleTarget } from './lambda-schedule-target.js';
import type { TierOptions } from './queue-tiers.js';

/** What the governor is built from. */
export interface TierGovernorProps {
  /** The tiers' queues: queue name → tier name → queue. */
  readonly tierQueues: Readonly<Record<string, Readonly<Record<string, sqs.IQueue>>>>;
  /** Where the stats rollups (the workers' reported waits) are. */
  readonly stateTable: dynamodb.ITable;
  /** The role EventBridge Scheduler assumes (the scheduler's). */
  readonly role: iam.IRole;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The governor function and its every-minute schedule; {@link grantMappings} lets it move the
 * mappings of a tiered queue's worker once the worker is added.
 */
export class TierGovernor extends Construct {
  /** The governor function. */
  readonly function: lambda.Function;
  /** Its every-minute schedule. */
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: TierGovernorProps) {
    super(scope, id);
    this.function = new HopperFunction(this, 'Function', {
      entry: hopperEntry('governor'),
      description: 'Hopper tier governor: every few seconds while tiers have backlogs, moves each tier mapping\'s maximum concurrency toward its latency target',
      // Rounds for GOVERNOR.runMs, one more at its end, and that round's requests.
      timeout: Duration.seconds((GOVERNOR.runMs + GOVERNOR.maxPeriodMs) / 1000 + 15),
      // One governor at a time: two would each move the mappings from what they last saw.
      reservedConcurrentExecutions: 1,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...pinnedToHopperPackage(),
    }).function;
    // A missed tick is made up by the next one: no retry.
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    // Each tier's backlog; the workers' reported waits (the stats partition); nothing else.
    grantOnEach(this.function, ['sqs:GetQueueAttributes'], Object.values(props.tierQueues).flatMap((byTier) => Object.values(byTier).map((queue) => queue.queueArn)));
    grantStateItems(this.function, props.stateTable, ['dynamodb:Query'], [STATS_KEYS.partition]);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      description: 'Hopper: share each tiered queue\'s concurrency between its tiers',
      target: new LambdaScheduleTarget(this.function, { role: props.role, maxEventAge: Duration.minutes(1) }),
    });
  }

  /**
   * Lets the governor read and move `mappings` (a tiered queue's tier mappings):
   * `lambda:GetEventSourceMapping` and `lambda:UpdateEventSourceMapping` on exactly those.
   */
  grantMappings(mappings: readonly lambda.IEventSourceMapping[]): iam.Grant {
    return grantOnEach(this.function, ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'], mappings.map((mapping) => mapping.eventSourceMappingArn));
  }
}

/**
 * `HOPPER_QUEUE_TIERS` as JSON: each tiered queue's default tier and its tiers, most urgent first,
 * with their queue URLs (resolved at deploy) and target ages in seconds.
 */
export function queueTiersJson(scope: Construct, tierQueues: Readonly<Record<string, Readonly<Record<string, sqs.IQueue>>>>, tiers: ReadonlyMap<string, { readonly options: Readonly<Record<string, TierOptions>>; readonly defaultTier: string }>): string {
  return Lazy.string({
    produce: () => Stack.of(scope).toJsonString(Object.fromEntries([...tiers].map(([queue, { options, defaultTier }]) => [queue, {
      defaultTier,
      tiers: Object.entries(options).map(([name, tier]) => ({ name, url: tierQueues[queue]?.[name]?.queueUrl ?? '', targetSeconds: tier.targetAge.toSeconds({ integral: false }) })),
    }]))),
  });
}
