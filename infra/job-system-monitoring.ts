/**
 * What an operator watches of a JobSystem: its CloudWatch metrics (the queues' own, and the ones
 * Hopper's functions print as EMF lines, lib/observability/emf.ts), default alarms and a dashboard.
 * Created by the JobSystem; not meant to be used on its own.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DIMENSIONS, METRICS, type MetricName } from '../lib/observability/emf.js';
import { ConfigurationError } from '../lib/errors/base.js';
import { validateDurationRange, validateIntegerRange } from './validation.js';
import { FAIR_QUEUE_METRICS, fairQueueMetric } from './fair-queues.js';

/** Thresholds of the default alarms; each can be changed, or turned off with `false`. */
export interface JobSystemAlarmOptions {
  /**
   * Age of the oldest message of a queue (SQS `ApproximateAgeOfOldestMessage`, maximum over
   * 5 minutes) at which the queue's alarm fires: the queue is not keeping up or its worker is down.
   * @default Duration.minutes(15)
   */
  readonly queueAge?: Duration | false;
  /**
   * Age of the oldest message of a queue's quiet tenants (SQS fair queues'
   * `ApproximateAgeOfOldestMessageInQuietGroups`, maximum over 5 minutes) at which an alarm fires:
   * jobs of tenants that are not flooding the queue wait that long. One alarm watches up to 10
   * queues (their maximum). Only jobs with a tenant make the metric; without any, it stays OK.
   * @default Duration.minutes(5)
   */
  readonly quietGroupAge?: Duration | false;
  /**
   * Jobs moved to the dead set within 5 minutes, per queue (the `Dead` metric), at which the
   * queue's alarm fires.
   * @default 1
   */
  readonly deadJobs?: number | false;
  /**
   * Messages waiting in the retries queue (maximum over 5 minutes) at which its alarm fires: the
   * retry function is not keeping up with failures.
   * @default 1000
   */
  readonly retriesQueueDepth?: number | false;
  /**
   * Messages in the retries DLQ (what the retry function could not process, batch-stream failures)
   * at which its alarm fires.
   * @default 1
   */
  readonly retriesDlqDepth?: number | false;
  /**
   * Age of the oldest message of the retries DLQ (maximum over 5 minutes) at which its alarm fires:
   * a reminder well before SQS deletes the message. SQS deletes a message 14 days after it was
   * first sent (a crashed job keeps the time it was enqueued, however long it waited in its queue),
   * while this age counts from when the message reached the DLQ, so the default leaves room for
   * time spent upstream. See docs/operations.md, "How long a message lives".
   * @default Duration.days(3)
   */
  readonly retriesDlqAge?: Duration | false;
  /**
   * Errors (`AWS/Lambda` `Errors`, sum over 5 minutes) of one Hopper function or worker at which
   * its alarm fires.
   * @default 1
   */
  readonly functionErrors?: number | false;
  /**
   * Throttles (`AWS/Lambda` `Throttles`, sum over 5 minutes) of one Hopper function or worker at
   * which its alarm fires.
   * @default 1
   */
  readonly functionThrottles?: number | false;
}

/** Defaults of the alarms. */
export const ALARM_DEFAULTS = {
  queueAgeSeconds: 900,
  quietGroupAgeSeconds: 300,
  deadJobs: 1,
  retriesQueueDepth: 1000,
  retriesDlqDepth: 1,
  retriesDlqAgeSeconds: 3 * 24 * 3600,
  functionErrors: 1,
  functionThrottles: 1,
  /** The least a tier's age alarm waits for, seconds (twice its targetAge otherwise). */
  tierAgeMinSeconds: 60,
  /** The most metrics one alarm's math expression takes (CloudWatch's limit). */
  metricsPerAlarm: 10,
  /** Every alarm looks at 5-minute periods and fires on one breaching period. */
  periodMinutes: 5,
} as const;

/** Options of a metric of Hopper's EMF metrics. */
export interface JobMetricOptions extends cloudwatch.MetricOptions {
  /**
   * The queue whose jobs are counted.
   * @default - every declared queue (a math expression summing them, or their maximum for timings)
   */
  readonly queue?: string;
  /**
   * The jobtype whose jobs are counted (needs `queue`).
   * @default - every jobtype
   */
  readonly jobType?: string;
}

/** Props of a {@link JobSystemMonitoring}. */
export interface JobSystemMonitoringProps {
  readonly namespace: string;
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  readonly retriesQueue: sqs.IQueue;
  readonly retriesDeadLetterQueue: sqs.IQueue;
  /** false: no alarms. */
  readonly alarms: JobSystemAlarmOptions | false;
  /** false: no dashboard. */
  readonly dashboard: boolean;
  /** Whether Hopper's functions print EMF metrics (alarms and widgets on them need it). */
  readonly metricsOn: boolean;
  /** Where a queue's own alarms go: its nested stack, or undefined for this construct (queue-layout.ts). */
  readonly queueScope?: (queue: string) => Construct | undefined;
  /** Queue name → its priority tiers' queues and targets, most urgent first (queues with tiers only). */
  readonly tiers?: Readonly<Record<string, readonly MonitoredTier[]>>;
}

/** One priority tier, as the alarms watch it. */
export interface MonitoredTier {
  readonly name: string;
  readonly queue: sqs.IQueue;
  readonly targetAge: Duration;
}

/**
 * The metrics, alarms and dashboard of a JobSystem.
 *
 * Construct ids: `QueueAge-<queue>`, `TierAge-<queue>.<tier>`, `QuietGroupAge-<first queue of up to 10>`, `Dead-<queue>`, `RetriesDepth`, `RetriesDlqDepth`,
 * `Errors-<function>`, `Throttles-<function>` (alarms), `Dashboard`. Alarm names are
 * `<stack>-<JobSystem path>-<construct id>`.
 */
export class JobSystemMonitoring extends Construct {
  /** Every alarm created, by construct id. */
  readonly alarms = new Map<string, cloudwatch.Alarm>();
  /** The dashboard; undefined with `dashboard: false`. */
  readonly dashboard: cloudwatch.Dashboard | undefined;

  private readonly props: JobSystemMonitoringProps;
  private readonly actions: cloudwatch.IAlarmAction[] = [];
  private readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: JobSystemMonitoringProps) {
    super(scope, id);
    this.props = props;
    const alarms = props.alarms;
    if (alarms !== false) validateAlarmOptions(alarms);
    this.namePrefix = `${Stack.of(this).stackName}-${pathInStack(scope)}`;
    if (alarms !== false) this.addQueueAlarms(alarms);
    this.dashboard = props.dashboard ? new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) }) : undefined;
    if (this.dashboard !== undefined) this.addQueueWidgets(this.dashboard);
  }

  /**
   * Watches `fn` (errors and throttles) and shows it on the dashboard; `label` is unique.
   * `throttlesExpected`: its throttles are by design (a reserved concurrency that keeps it single),
   * so they are drawn but raise no alarm.
   */
  addFunction(label: string, fn: lambda.IFunction, options: { readonly throttlesExpected?: boolean } = {}): void {
    const oneMinute = Duration.minutes(1);
    this.dashboard?.addWidgets(new cloudwatch.GraphWidget({
      title: `${label}: invocations, errors, throttles`,
      left: [fn.metricInvocations({ statistic: 'Sum', period: oneMinute }), fn.metricErrors({ statistic: 'Sum', period: oneMinute }), fn.metricThrottles({ statistic: 'Sum', period: oneMinute })],
      width: 8,
      height: 6,
    }));
    const alarms = this.props.alarms;
    if (alarms === false) return;
    const errors = alarms.functionErrors ?? ALARM_DEFAULTS.functionErrors;
    if (errors !== false) {
      this.alarm(`Errors-${label}`, fn.metricErrors({ statistic: 'Sum', period: period() }), errors, `Errors of ${fn.node.path}`);
    }
    const throttles = alarms.functionThrottles ?? ALARM_DEFAULTS.functionThrottles;
    if (throttles !== false && options.throttlesExpected !== true) {
      this.alarm(`Throttles-${label}`, fn.metricThrottles({ statistic: 'Sum', period: period() }), throttles, `Throttles of ${fn.node.path}`);
    }
  }

  /** Adds `actions` to every alarm, those created later included. */
  addAlarmAction(...actions: cloudwatch.IAlarmAction[]): void {
    this.actions.push(...actions);
    for (const alarm of this.alarms.values()) alarm.addAlarmAction(...actions);
  }

  /**
   * A metric of Hopper's EMF metrics (lib/observability/emf.ts) in the JobSystem's namespace: for one
   * queue (and jobtype), or, without `queue`, a math expression over every declared queue — their
   * sum for counts, their maximum for timings.
   */
  metric(name: MetricName, statistic: string, options: JobMetricOptions = {}): cloudwatch.IMetric {
    const { queue, jobType, ...metricOptions } = options;
    if (jobType !== undefined && queue === undefined) throw new ConfigurationError('jobType needs a queue: metrics are published per queue and per queue and jobtype');
    const one = (queueName: string) => new cloudwatch.Metric({
      namespace: this.props.namespace,
      metricName: name,
      dimensionsMap: { [DIMENSIONS.queue]: queueName, ...(jobType === undefined ? {} : { [DIMENSIONS.jobType]: jobType }) },
      statistic,
      period: period(),
      ...metricOptions,
    });
    if (queue !== undefined) {
      if (this.props.queues[queue] === undefined) throw new ConfigurationError(`queue "${queue}" is not declared; declared queues: ${Object.keys(this.props.queues).join(', ')}`);
      return one(queue);
    }
    const names = Object.keys(this.props.queues);
    const usingMetrics = Object.fromEntries(names.map((queueName, index) => [`q${index}`, one(queueName)]));
    const fold = statistic === 'Sum' || statistic === 'SampleCount' ? 'SUM' : 'MAX';
    return new cloudwatch.MathExpression({
      expression: `${fold}([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label: `${name} (${fold === 'SUM' ? 'all queues' : 'worst queue'})`,
      period: metricOptions.period ?? period(),
    });
  }

  /** The dashboard's rows about queues and jobs (functions get theirs in {@link addFunction}). */
  private addQueueWidgets(dashboard: cloudwatch.Dashboard): void {
    const queues = Object.entries(this.props.queues);
    const perQueue = (make: (name: string, queue: sqs.IQueue) => cloudwatch.IMetric): cloudwatch.IMetric[] => queues.map(([name, queue]) => make(name, queue));
    const oneMinute = Duration.minutes(1);
    dashboard.addWidgets(
      graph('Queue depth (visible messages)', perQueue((name, queue) => queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute, label: name }))),
      graph('Age of oldest message (s)', perQueue((name, queue) => queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: oneMinute, label: name }))),
    );
    // SQS fair queues (jobs with a tenant): how many tenants are noisy, and how quiet tenants fare.
    dashboard.addWidgets(
      graph('Fair queues: noisy tenants, and quiet tenants\' visible messages', [
        ...perQueue((name, queue) => fairQueueMetric(queue, FAIR_QUEUE_METRICS.noisyGroups, oneMinute, `${name} noisy tenants`)),
        ...perQueue((name, queue) => fairQueueMetric(queue, FAIR_QUEUE_METRICS.visibleInQuietGroups, oneMinute, `${name} quiet tenants' messages`)),
      ]),
      graph('Fair queues: age of quiet tenants\' oldest message (s)', perQueue((name, queue) => fairQueueMetric(queue, FAIR_QUEUE_METRICS.oldestInQuietGroupsAge, oneMinute, name))),
    );
    if (this.props.metricsOn) {
      const emf = (metric: MetricName, statistic: string, label: string) => perQueue((name) => this.metric(metric, statistic, { queue: name, period: oneMinute, label: `${name} ${label}` }));
      dashboard.addWidgets(
        graph('Throughput (jobs per minute)', [...emf(METRICS.processed, 'Sum', 'processed'), ...emf(METRICS.enqueued, 'Sum', 'enqueued')]),
        graph('Failures (per minute)', [...emf(METRICS.failed, 'Sum', 'failed'), ...emf(METRICS.retried, 'Sum', 'retried'), ...emf(METRICS.dead, 'Sum', 'dead'), ...emf(METRICS.crashed, 'Sum', 'crashed')]),
      );
      dashboard.addWidgets(
        graph('Cohort latency, enqueue → start (ms)', [...emf(METRICS.latency, 'p50', 'p50'), ...emf(METRICS.latency, 'p90', 'p90'), ...emf(METRICS.latency, 'p99', 'p99')]),
        graph('Job duration (ms)', [...emf(METRICS.duration, 'p50', 'p50'), ...emf(METRICS.duration, 'p99', 'p99')]),
      );
    }
    dashboard.addWidgets(graph('Retries queue and its DLQ (messages)', [
      this.props.retriesQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute, label: 'retries' }),
      this.props.retriesDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute, label: 'retries DLQ' }),
    ]));
  }

  private addQueueAlarms(alarms: JobSystemAlarmOptions): void {
    const age = alarms.queueAge ?? Duration.seconds(ALARM_DEFAULTS.queueAgeSeconds);
    const dead = alarms.deadJobs ?? ALARM_DEFAULTS.deadJobs;
    const quietAge = alarms.quietGroupAge ?? Duration.seconds(ALARM_DEFAULTS.quietGroupAgeSeconds);
    for (const [name, queue] of Object.entries(this.props.queues)) {
      const scope = this.props.queueScope?.(name);
      if (age !== false) {
        this.alarm(`QueueAge-${name}`, queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: period() }), age.toSeconds(), `Oldest message of queue ${name} is at least ${age.toHumanString()} old`, scope);
      }
      if (dead !== false && this.props.metricsOn) {
        this.alarm(`Dead-${name}`, this.metric(METRICS.dead, 'Sum', { queue: name }), dead, `At least ${dead} job(s) of queue ${name} moved to the dead set within 5 minutes`, scope);
      }
    }
    if (age !== false) this.addTierAlarms();
    if (quietAge !== false) this.addQuietGroupAlarms(quietAge);
    const retries = alarms.retriesQueueDepth ?? ALARM_DEFAULTS.retriesQueueDepth;
    if (retries !== false) {
      this.alarm('RetriesDepth', this.props.retriesQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: period() }), retries, `At least ${retries} failures wait in the retries queue`);
    }
    const dlq = alarms.retriesDlqDepth ?? ALARM_DEFAULTS.retriesDlqDepth;
    if (dlq !== false) {
      this.alarm('RetriesDlqDepth', this.props.retriesDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: period() }), dlq, `At least ${dlq} message(s) in the retries DLQ: the retry or batch function could not process them`);
    }
    const dlqAge = alarms.retriesDlqAge ?? Duration.seconds(ALARM_DEFAULTS.retriesDlqAgeSeconds);
    if (dlqAge !== false) {
      this.alarm('RetriesDlqAge', this.props.retriesDeadLetterQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: period() }), dlqAge.toSeconds(),
        `The oldest message of the retries DLQ has been there ${dlqAge.toHumanString()}; SQS deletes it 14 days after it was first sent: redrive it (hopper redrive retries)`);
    }
  }

  /**
   * A tier whose oldest message is twice its `targetAge` old (at least a minute: the metric's
   * resolution): the governor could not keep it on target, for want of room or of workers.
   */
  private addTierAlarms(): void {
    for (const [name, tiers] of Object.entries(this.props.tiers ?? {})) {
      for (const tier of tiers) {
        const threshold = Math.max(ALARM_DEFAULTS.tierAgeMinSeconds, 2 * tier.targetAge.toSeconds({ integral: false }));
        this.alarm(`TierAge-${name}.${tier.name}`, tier.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: period() }), threshold,
          `Oldest message of tier ${tier.name} of queue ${name} is at least ${threshold} s old, twice its targetAge`, this.props.queueScope?.(name));
      }
    }
  }

  /**
   * The quiet tenants' oldest message: one alarm per 10 queues of a scope (the most metrics an
   * alarm's math takes), on their maximum — not one per queue, which would take a one-stack
   * JobSystem of 80 queues past CloudFormation's 500 resources.
   */
  private addQuietGroupAlarms(age: Duration): void {
    const byScope = new Map<Construct | undefined, string[]>();
    for (const name of Object.keys(this.props.queues)) {
      const scope = this.props.queueScope?.(name);
      byScope.set(scope, [...(byScope.get(scope) ?? []), name]);
    }
    for (const [scope, names] of byScope) {
      for (let start = 0; start < names.length; start += ALARM_DEFAULTS.metricsPerAlarm) {
        const chunk = names.slice(start, start + ALARM_DEFAULTS.metricsPerAlarm);
        const usingMetrics = Object.fromEntries(chunk.flatMap((name, index) => {
          const queue = this.props.queues[name];
          return queue === undefined ? [] : [[`q${index}`, fairQueueMetric(queue, FAIR_QUEUE_METRICS.oldestInQuietGroupsAge, period())]];
        }));
        const metric = new cloudwatch.MathExpression({ expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`, usingMetrics, period: period(), label: 'quiet tenants\' oldest message (s)' });
        this.alarm(`QuietGroupAge-${chunk[0] ?? start}`, metric, age.toSeconds(),
          `Oldest message of the quiet tenants of queue(s) ${chunk.join(', ')} is at least ${age.toHumanString()} old: tenants that are not flooding a queue wait too`, scope);
      }
    }
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, scope: Construct = this): void {
    const alarm = new cloudwatch.Alarm(scope, id, {
      alarmName: `${this.namePrefix}-${id}`,
      alarmDescription: `Hopper: ${description}`,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data is no jobs, no failures: not a reason to alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (this.actions.length > 0) alarm.addAlarmAction(...this.actions);
    this.alarms.set(id, alarm);
  }
}

function period(): Duration {
  return Duration.minutes(ALARM_DEFAULTS.periodMinutes);
}

function graph(title: string, left: cloudwatch.IMetric[]): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: 12, height: 6 });
}

function validateAlarmOptions(options: JobSystemAlarmOptions): void {
  if (options.queueAge !== undefined && options.queueAge !== false) validateDurationRange('alarms.queueAge', options.queueAge, Duration.minutes(1), Duration.days(14));
  if (options.quietGroupAge !== undefined && options.quietGroupAge !== false) validateDurationRange('alarms.quietGroupAge', options.quietGroupAge, Duration.minutes(1), Duration.days(14));
  if (options.retriesDlqAge !== undefined && options.retriesDlqAge !== false) validateDurationRange('alarms.retriesDlqAge', options.retriesDlqAge, Duration.minutes(1), Duration.days(14));
  for (const field of ['deadJobs', 'retriesQueueDepth', 'retriesDlqDepth', 'functionErrors', 'functionThrottles'] as const) {
    const value = options[field];
    if (value !== false) validateIntegerRange(`alarms.${field}`, value, 1, 100_000_000);
  }
}

/** The construct's path inside its stack, ids joined by `-`, in characters alarm names allow. */
export function pathInStack(scope: Construct): string {
  const stackDepth = Stack.of(scope).node.scopes.length;
  return scope.node.scopes.slice(stackDepth).map((node) => node.node.id.replace(/[^A-Za-z0-9_.-]/g, '-')).join('-');
}
