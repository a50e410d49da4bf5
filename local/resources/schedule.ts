/**
 * `AWS::Scheduler::Schedule` → a local schedule: its expression, time zone, window, state and
 * target (a Lambda function or an SQS queue, directly or through the universal SendMessage target).
 */
import type { Properties } from '../template/properties.js';
import { localArn } from '../identity.js';
import { parseScheduleExpression, type ScheduleExpression } from '../schedules/expression.js';
import { timeZoneProblem } from '../../lib/cron/time-zone.js';

/** EventBridge Scheduler's defaults. */
export const SCHEDULER_DEFAULTS = {
  group: 'default',
  timeZone: 'UTC',
  maximumRetryAttempts: 185,
  maximumEventAgeSeconds: 86_400,
} as const;

/** A schedule to run. */
export interface ScheduleSpec {
  readonly logicalId: string;
  readonly name: string;
  readonly group: string;
  readonly arn: string;
  readonly expressionText: string;
  readonly expression: ScheduleExpression;
  readonly timeZone: string;
  readonly startMs: number | undefined;
  readonly endMs: number | undefined;
  readonly enabled: boolean;
  /** The target's ARN: a function, a queue, or `arn:aws:scheduler:::aws-sdk:sqs:sendMessage`. */
  readonly targetArn: string;
  /** The target's Input (a string, usually JSON), if any. */
  readonly input: string | undefined;
  readonly messageGroupId: string | undefined;
  readonly maximumRetryAttempts: number;
  readonly deadLetterArn: string | undefined;
}

/** Parses a schedule's properties. */
export function parseSchedule(props: Properties, stackName: string): ScheduleSpec {
  const name = props.optionalString('Name') ?? `${stackName}-${props.logicalId}`.slice(0, 64);
  const group = props.optionalString('GroupName') ?? SCHEDULER_DEFAULTS.group;
  const expressionText = props.string('ScheduleExpression');
  let expression: ScheduleExpression;
  try {
    expression = parseScheduleExpression(expressionText);
  } catch (error) {
    return props.fail(`${props.pathOf('ScheduleExpression')} is not valid: ${error instanceof Error ? error.message : String(error)}`);
  }
  const timeZone = props.optionalString('ScheduleExpressionTimezone') ?? SCHEDULER_DEFAULTS.timeZone;
  const zoneProblem = timeZoneProblem(timeZone);
  if (zoneProblem !== undefined) props.fail(`${props.pathOf('ScheduleExpressionTimezone')} must be an IANA time zone such as Europe/Paris, but ${JSON.stringify(timeZone)} ${zoneProblem}`);
  const flexible = props.object('FlexibleTimeWindow');
  if (flexible === undefined) props.fail(`${props.pathOf('FlexibleTimeWindow')} is required`);
  flexible.optionalEnum('Mode', ['OFF', 'FLEXIBLE']);
  const target = props.object('Target');
  if (target === undefined) return props.fail(`${props.pathOf('Target')} is required`);
  const retry = target.object('RetryPolicy');
  return {
    logicalId: props.logicalId,
    name,
    group,
    arn: localArn('scheduler', `schedule/${group}/${name}`),
    expressionText,
    expression,
    timeZone,
    startMs: date(props, 'StartDate'),
    endMs: date(props, 'EndDate'),
    enabled: (props.optionalEnum('State', ['ENABLED', 'DISABLED']) ?? 'ENABLED') === 'ENABLED',
    targetArn: target.string('Arn'),
    input: target.optionalString('Input'),
    messageGroupId: target.object('SqsParameters')?.optionalString('MessageGroupId'),
    maximumRetryAttempts: retry?.integer('MaximumRetryAttempts', { min: 0, max: 185 }) ?? SCHEDULER_DEFAULTS.maximumRetryAttempts,
    deadLetterArn: target.object('DeadLetterConfig')?.optionalString('Arn'),
  };
}

function date(props: Properties, name: string): number | undefined {
  const text = props.optionalString(name);
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) props.fail(`${props.pathOf(name)} must be an ISO 8601 date, but ${JSON.stringify(text)} was provided`);
  return ms;
}
