/**
 * Amazon SQS fair queues on the JobSystem's queues: a job with a tenant is sent with the tenant as
 * its message group (lib/job/message-group.ts), so SQS serves quiet tenants first while one tenant
 * is noisy. What the construct adds: the fair-queue metrics, and a warning when a queue's mapping
 * can never hold enough messages in flight for SQS to find a noisy tenant.
 */
import { Annotations, type Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import type { ConcurrencyPlan } from './concurrency-plan.js';

/** SQS's fair-queue metrics (namespace `AWS/SQS`, dimension `QueueName`). */
export const FAIR_QUEUE_METRICS = {
  noisyGroups: 'ApproximateNumberOfNoisyGroups',
  visibleInQuietGroups: 'ApproximateNumberOfMessagesVisibleInQuietGroups',
  notVisibleInQuietGroups: 'ApproximateNumberOfMessagesNotVisibleInQuietGroups',
  delayedInQuietGroups: 'ApproximateNumberOfMessagesDelayedInQuietGroups',
  oldestInQuietGroupsAge: 'ApproximateAgeOfOldestMessageInQuietGroups',
} as const;

/** A name of {@link FAIR_QUEUE_METRICS}. */
export type FairQueueMetricName = (typeof FAIR_QUEUE_METRICS)[keyof typeof FAIR_QUEUE_METRICS];

/**
 * SQS's noisy-group rule: a group is noisy when it holds more than 10% of the queue's in-flight
 * messages and at least 30 of its own (local/sqs/fair-dispatch.ts models it).
 */
export const NOISY_GROUP_MIN_IN_FLIGHT = 30;

/** The id of the synth warning of {@link warnIfNeverNoisy} (acknowledge it with `Annotations.of(scope).acknowledgeWarning`). */
export const FAIR_QUEUE_WARNING = 'hopper:fair-queues-never-noisy';

/**
 * A fair-queue metric of `queue`, its maximum over `period`.
 *
 * @example
 * fairQueueMetric(queue, FAIR_QUEUE_METRICS.oldestInQuietGroupsAge, Duration.minutes(5))
 */
export function fairQueueMetric(queue: sqs.IQueue, name: FairQueueMetricName, period: Duration, label?: string): cloudwatch.Metric {
  return queue.metric(name, { statistic: 'Maximum', period, ...(label === undefined ? {} : { label }) });
}

/**
 * The most messages queue `name`'s mapping holds in flight (`batchSize × maxConcurrency` of the
 * plan); undefined when the mapping's concurrency is not capped.
 */
export function maxInFlight(plan: ConcurrencyPlan): number | undefined {
  return plan.maxInvocations === undefined ? undefined : plan.batchSize * plan.maxInvocations;
}

/**
 * Warns on `scope` when queue `name`'s mapping holds fewer than 30 messages in flight: one tenant can
 * then never hold the 30 SQS's noisy-group rule asks for, so fair queues never reorder anything.
 */
export function warnIfNeverNoisy(scope: IConstruct, name: string, plan: ConcurrencyPlan): void {
  const most = maxInFlight(plan);
  if (most === undefined || most >= NOISY_GROUP_MIN_IN_FLIGHT) return;
  Annotations.of(scope).addWarningV2(FAIR_QUEUE_WARNING, `queue "${name}" holds at most ${most} messages in flight (batchSize ${plan.batchSize} × maxConcurrency ${plan.maxInvocations ?? 0} invocations), `
    + `fewer than the ${NOISY_GROUP_MIN_IN_FLIGHT} of one tenant that SQS fair queues need to find a noisy tenant: tenants share this queue in arrival order. `
    + `Raise maxConcurrency to at least ${NOISY_GROUP_MIN_IN_FLIGHT} jobs for fair sharing between tenants (docs/flow-control.md)`);
}
