/**
 * An EventBridge Scheduler target that invokes a Lambda function through a role Hopper owns, with
 * exactly `lambda:InvokeFunction` on the function (aws-scheduler-targets' `LambdaInvoke` also
 * grants every version and alias, `<arn>:*`, which least privilege does not need: schedules invoke
 * the unqualified function).
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';

/** Props of a {@link LambdaScheduleTarget}. */
export interface LambdaScheduleTargetProps {
  /** The role EventBridge Scheduler assumes; it is granted the invoke. */
  readonly role: iam.IRole;
  /** @default - no input */
  readonly input?: scheduler.ScheduleTargetInput;
  /**
   * How long Scheduler keeps trying to invoke when the invoke call fails (throttling).
   * @default Duration.hours(24)
   */
  readonly maxEventAge?: Duration;
  /** @default 185 */
  readonly retryAttempts?: number;
}

/** Invokes `fn` (asynchronously, as EventBridge Scheduler invokes Lambda) through `props.role`. */
export class LambdaScheduleTarget implements scheduler.IScheduleTarget {
  constructor(
    private readonly fn: lambda.IFunction,
    private readonly props: LambdaScheduleTargetProps,
  ) {}

  bind(_schedule: scheduler.ISchedule): scheduler.ScheduleTargetConfig {
    iam.Grant.addToPrincipal({ grantee: this.props.role, actions: ['lambda:InvokeFunction'], resourceArns: [this.fn.functionArn] });
    return {
      arn: this.fn.functionArn,
      role: this.props.role,
      ...(this.props.input === undefined ? {} : { input: this.props.input }),
      retryPolicy: {
        maximumEventAgeInSeconds: (this.props.maxEventAge ?? Duration.hours(24)).toSeconds(),
        maximumRetryAttempts: this.props.retryAttempts ?? 185,
      },
    };
  }
}
