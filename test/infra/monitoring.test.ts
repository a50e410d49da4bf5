import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { JobSystem, type JobSystemProps } from '../../infra/job-system.js';
import { ENV } from '../../lib/config/env.js';
import { isRecord } from '../../lib/job/model.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { configurationFunctionOf, environmentOf, newStack, newWorker } from './support.js';

const QUEUES = { default: {}, critical: {} };

/** A JobSystem with two queues and one worker (`Worker`), and its template. */
function monitored(props: JobSystemProps = {}) {
  const stack = newStack();
  const jobs = new JobSystem(stack, 'Jobs', { queues: QUEUES, ...props });
  const worker = newWorker(stack, 'Worker');
  jobs.addWorker(worker, { queues: ['default', 'critical'] });
  return { stack, jobs, worker, template: Template.fromStack(stack) };
}

/** The properties of a template resource. */
function propertiesOf(resource: unknown): Record<string, unknown> {
  return isRecord(resource) && isRecord(resource.Properties) ? resource.Properties : {};
}

/** Every alarm of a template, by name. */
function alarmsByName(template: Template): Map<string, Record<string, unknown>> {
  return new Map(Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((resource) => {
    const properties = propertiesOf(resource);
    return [String(properties.AlarmName), properties];
  }));
}

/** `metric` as a plain metric (fails the test otherwise). */
function plain(metric: cloudwatch.IMetric): cloudwatch.Metric {
  if (!(metric instanceof cloudwatch.Metric)) throw new Error('expected a Metric');
  return metric;
}

/** `metric` as a math expression (fails the test otherwise). */
function math(metric: cloudwatch.IMetric): cloudwatch.MathExpression {
  if (!(metric instanceof cloudwatch.MathExpression)) throw new Error('expected a MathExpression');
  return metric;
}

const COMMON = { EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', Period: 300 };

describe('default alarms', () => {
  it('watch every queue, the retries queue and its DLQ, and every Hopper function and worker, without actions; the sweep\'s throttles are by design', () => {
    const { template } = monitored();
    const names = [...alarmsByName(template).keys()].sort();
    expect(names).toEqual([
      'Test-Jobs-Dead-critical', 'Test-Jobs-Dead-default',
      'Test-Jobs-Errors-ApiFunction', 'Test-Jobs-Errors-BatchFunction', 'Test-Jobs-Errors-RetryFunction', 'Test-Jobs-Errors-SweepFunction', 'Test-Jobs-Errors-SweepHelperFunction', 'Test-Jobs-Errors-Worker',
      'Test-Jobs-QueueAge-critical', 'Test-Jobs-QueueAge-default',
      'Test-Jobs-QuietGroupAge-default',
      'Test-Jobs-RetriesDepth', 'Test-Jobs-RetriesDlqAge', 'Test-Jobs-RetriesDlqDepth',
      'Test-Jobs-Throttles-ApiFunction', 'Test-Jobs-Throttles-BatchFunction', 'Test-Jobs-Throttles-RetryFunction', 'Test-Jobs-Throttles-SweepHelperFunction', 'Test-Jobs-Throttles-Worker',
    ]);
    for (const alarm of alarmsByName(template).values()) expect(alarm.AlarmActions).toBeUndefined();
  });

  it('use the queues\' age, the Dead EMF metric, queue depths and Lambda errors and throttles, with the documented thresholds', () => {
    const { stack, jobs, worker, template } = monitored();
    const alarms = alarmsByName(template);
    const queueName = (name: string) => stack.resolve(jobs.queue(name).queueName);
    expect(alarms.get('Test-Jobs-QueueAge-default')).toMatchObject({ ...COMMON, Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Statistic: 'Maximum', Threshold: 900, Dimensions: [{ Name: 'QueueName', Value: queueName('default') }] });
    expect(alarms.get('Test-Jobs-Dead-critical')).toMatchObject({ ...COMMON, Namespace: 'Hopper', MetricName: 'Dead', Statistic: 'Sum', Threshold: 1, Dimensions: [{ Name: 'Queue', Value: 'critical' }] });
    expect(alarms.get('Test-Jobs-RetriesDepth')).toMatchObject({ ...COMMON, Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum', Threshold: 1000, Dimensions: [{ Name: 'QueueName', Value: stack.resolve(jobs.retriesQueue.queueName) }] });
    expect(alarms.get('Test-Jobs-RetriesDlqDepth')).toMatchObject({ ...COMMON, MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, Dimensions: [{ Name: 'QueueName', Value: stack.resolve(jobs.retriesDeadLetterQueue.queueName) }] });
    expect(alarms.get('Test-Jobs-RetriesDlqAge')).toMatchObject({ ...COMMON, Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Statistic: 'Maximum', Threshold: 3 * 24 * 3600, Dimensions: [{ Name: 'QueueName', Value: stack.resolve(jobs.retriesDeadLetterQueue.queueName) }] });
    expect(alarms.get('Test-Jobs-Errors-Worker')).toMatchObject({ ...COMMON, Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Threshold: 1, Dimensions: [{ Name: 'FunctionName', Value: stack.resolve(worker.functionName) }] });
    expect(alarms.get('Test-Jobs-Throttles-RetryFunction')).toMatchObject({ ...COMMON, Namespace: 'AWS/Lambda', MetricName: 'Throttles', Statistic: 'Sum', Threshold: 1, Dimensions: [{ Name: 'FunctionName', Value: stack.resolve(jobs.retryFunction.functionName) }] });
    expect([...jobs.alarms.keys()]).toContain('Errors-Worker');
  });

  it('take other thresholds, leave out alarms set to false, and watch the cron function when there are crons', () => {
    const { template } = monitored({
      alarms: { queueAge: Duration.minutes(5), deadJobs: false, retriesQueueDepth: 50, functionThrottles: false, retriesDlqAge: Duration.days(1) },
      crons: [{ name: 'tick', schedule: '* * * * *', job: { jobtype: 'Tick' } }],
    });
    const alarms = alarmsByName(template);
    expect(alarms.get('Test-Jobs-QueueAge-critical')?.Threshold).toBe(300);
    expect(alarms.get('Test-Jobs-RetriesDepth')?.Threshold).toBe(50);
    expect(alarms.get('Test-Jobs-RetriesDlqAge')?.Threshold).toBe(86_400);
    expect([...alarms.keys()].filter((name) => name.includes('Dead-') || name.includes('Throttles'))).toEqual([]);
    expect(alarms.has('Test-Jobs-Errors-CronFunction')).toBe(true);
  });

  it('are not created with alarms: false', () => {
    monitored({ alarms: false }).template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  it('send to the actions added, on alarms created before and after', () => {
    const stack = newStack();
    const jobs = new JobSystem(stack, 'Jobs', { queues: QUEUES });
    const topic = new sns.Topic(stack, 'Pager', { enforceSSL: true });
    jobs.addAlarmAction(new actions.SnsAction(topic));
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['default'] });
    const alarms = [...alarmsByName(Template.fromStack(stack)).values()];
    expect(alarms).toHaveLength(19);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([stack.resolve(topic.topicArn)]);
  });

  it('refuses thresholds out of range, naming the field', () => {
    expect(() => monitored({ alarms: { deadJobs: 0 } })).toThrow(new ConfigurationError('alarms.deadJobs must be between 1 and 100000000, but 0 was provided'));
    expect(() => monitored({ alarms: { queueAge: Duration.seconds(10) } })).toThrow(/alarms\.queueAge/);
    expect(() => monitored({ alarms: { retriesDlqAge: Duration.days(15) } })).toThrow(new ConfigurationError('alarms.retriesDlqAge must be between 1 minute and 14 days, but 15 days was provided'));
  });
});

interface Widget {
  readonly title?: string;
  readonly metrics: unknown[][];
}

/** The dashboard's widgets, its tokens replaced by "<token>". */
function dashboardWidgets(template: Template): Widget[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = propertiesOf(dashboard).DashboardBody;
  const join = isRecord(body) ? body['Fn::Join'] : undefined;
  const parts: unknown[] = typeof body === 'string' ? [body] : Array.isArray(join) && Array.isArray(join[1]) ? join[1] : [];
  const parsed: unknown = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : '<token>')).join(''));
  const widgets = isRecord(parsed) && Array.isArray(parsed.widgets) ? parsed.widgets : [];
  return widgets.map((widget: unknown) => {
    const properties = isRecord(widget) && isRecord(widget.properties) ? widget.properties : {};
    const metrics = Array.isArray(properties.metrics) ? properties.metrics.filter((metric): metric is unknown[] => Array.isArray(metric)) : [];
    return { ...(typeof properties.title === 'string' ? { title: properties.title } : {}), metrics };
  });
}

describe('the dashboard', () => {
  it('shows queue depth and age, throughput, failures, cohort latency, duration, the retries queues and every function', () => {
    const { template } = monitored();
    const widgets = dashboardWidgets(template);
    expect(widgets.map((widget) => widget.title)).toEqual([
      'Queue depth (visible messages)', 'Age of oldest message (s)',
      'Fair queues: noisy tenants, and quiet tenants\' visible messages', 'Fair queues: age of quiet tenants\' oldest message (s)',
      'Throughput (jobs per minute)', 'Failures (per minute)',
      'Cohort latency, enqueue → start (ms)', 'Job duration (ms)',
      'Retries queue and its DLQ (messages)',
      'RetryFunction: invocations, errors, throttles', 'BatchFunction: invocations, errors, throttles', 'ApiFunction: invocations, errors, throttles', 'SweepFunction: invocations, errors, throttles', 'SweepHelperFunction: invocations, errors, throttles',
      'Worker: invocations, errors, throttles',
    ]);
    const metricsOf = (title: string) => widgets.find((widget) => widget.title === title)?.metrics ?? [];
    expect(metricsOf('Throughput (jobs per minute)').map((metric) => metric.slice(0, 4))).toEqual([
      ['Hopper', 'Processed', 'Queue', 'default'], ['Hopper', 'Processed', 'Queue', 'critical'],
      ['Hopper', 'Enqueued', 'Queue', 'default'], ['Hopper', 'Enqueued', 'Queue', 'critical'],
    ]);
    expect(metricsOf('Failures (per minute)').map((metric) => metric[1])).toEqual(['Failed', 'Failed', 'Retried', 'Retried', 'Dead', 'Dead', 'Crashed', 'Crashed']);
    expect(metricsOf('Cohort latency, enqueue → start (ms)').map((metric) => [metric[1], metric[3], isRecord(metric[4]) ? metric[4].stat : undefined])).toEqual([
      ['Latency', 'default', 'p50'], ['Latency', 'critical', 'p50'], ['Latency', 'default', 'p90'], ['Latency', 'critical', 'p90'], ['Latency', 'default', 'p99'], ['Latency', 'critical', 'p99'],
    ]);
    expect(metricsOf('Queue depth (visible messages)').map((metric) => metric.slice(0, 3))).toEqual([
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName'], ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName'],
    ]);
    expect(metricsOf('Worker: invocations, errors, throttles').map((metric) => metric.slice(0, 2))).toEqual([['AWS/Lambda', 'Invocations'], ['AWS/Lambda', 'Errors'], ['AWS/Lambda', 'Throttles']]);
  });

  it('leaves out the EMF widgets with metrics: false, and is not created with dashboard: false', () => {
    const titles = dashboardWidgets(monitored({ metrics: false }).template).map((widget) => widget.title);
    expect(titles).not.toContain('Throughput (jobs per minute)');
    expect(titles).toContain('Queue depth (visible messages)');
    monitored({ dashboard: false }).template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});

describe('metrics', () => {
  it('passes the namespace and the jobtype cap to every function that runs jobs, or turns metrics off', () => {
    const custom = monitored({ metrics: { namespace: 'Shop/Jobs', maxJobTypes: 20 } });
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: Match.absent(),
      Environment: { Variables: Match.objectLike({ [ENV.metricsNamespace]: 'Shop/Jobs', [ENV.metricsMaxJobTypes]: '20' }) },
    });
    expect(alarmsByName(custom.template).get('Test-Jobs-Dead-default')?.Namespace).toBe('Shop/Jobs');
    const off = monitored({ metrics: false });
    // Every function but the one that writes the configuration document at deploy, which runs no job and emits no metric.
    const functions = off.stack.node.findAll().filter((node): node is lambda.Function => node instanceof lambda.Function);
    const configFunction = configurationFunctionOf(off.jobs);
    const variables = functions.filter((fn) => fn !== configFunction).map((fn) => environmentOf(fn));
    // The worker, and the retry, batch, scheduler, scheduler helper and API functions.
    expect(variables).toHaveLength(6);
    for (const vars of variables) expect(vars[ENV.metrics]).toBe('off');
    expect(Object.keys(environmentOf(configFunction))).toEqual(['NODE_OPTIONS']);
    expect([...alarmsByName(off.template).keys()].filter((name) => name.includes('Dead-'))).toEqual([]);
  });

  it('refuses a namespace CloudWatch would refuse', () => {
    expect(() => monitored({ metrics: { namespace: 'AWS/Mine' } })).toThrow(new ConfigurationError('metrics.namespace must be 1 to 255 of A-Za-z0-9.-_/#: and not start with AWS/, but "AWS/Mine" was provided'));
  });

  it('offers metric helpers per queue and jobtype, and over every queue as math expressions', () => {
    const { stack, jobs } = monitored();
    const processed = plain(jobs.metricProcessed({ queue: 'default' }));
    expect(stack.resolve(processed.toMetricConfig().metricStat)).toMatchObject({ namespace: 'Hopper', metricName: 'Processed', dimensions: [{ name: 'Queue', value: 'default' }], statistic: 'Sum' });
    const latency = plain(jobs.metricLatency({ queue: 'critical', jobType: 'Report' }));
    expect(latency.toMetricConfig().metricStat).toMatchObject({ metricName: 'Latency', dimensions: [{ name: 'JobType', value: 'Report' }, { name: 'Queue', value: 'critical' }], statistic: 'p99' });
    const dead = math(jobs.metricDead());
    expect(dead.expression).toBe('SUM([q0, q1])');
    expect(Object.values(dead.usingMetrics).map((metric) => plain(metric).dimensions)).toEqual([{ Queue: 'default' }, { Queue: 'critical' }]);
    expect(math(jobs.metricDuration()).expression).toBe('MAX([q0, q1])');
    for (const [metric, name] of [[jobs.metricFailed({ queue: 'default' }), 'Failed'], [jobs.metricRetried({ queue: 'default' }), 'Retried'], [jobs.metricExpired({ queue: 'default' }), 'Expired'], [jobs.metricRateLimited({ queue: 'default' }), 'RateLimited']] as const) {
      expect([plain(metric).namespace, plain(metric).metricName]).toEqual(['Hopper', name]);
    }
    expect(() => jobs.metricFailed({ jobType: 'Report' })).toThrow('jobType needs a queue');
    expect(() => jobs.metricFailed({ queue: 'nope' })).toThrow('queue "nope" is not declared; declared queues: default, critical');
  });
});

describe('SQS fair queues (tenants as message groups)', () => {
  it('alarm on the quiet tenants\' oldest message of up to 10 queues (their maximum), at 5 minutes by default, another age or none', () => {
    const { stack, jobs, template } = monitored();
    const alarm = alarmsByName(template).get('Test-Jobs-QuietGroupAge-default');
    expect(alarm).toMatchObject({ EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', Threshold: 300 });
    const queries = Array.isArray(alarm?.Metrics) ? alarm.Metrics : [];
    expect(queries.map((query: unknown) => (isRecord(query) ? query.Expression ?? (isRecord(query.MetricStat) && isRecord(query.MetricStat.Metric) ? [query.MetricStat.Metric.MetricName, query.MetricStat.Metric.Dimensions] : undefined) : undefined))).toEqual([
      'MAX([q0, q1])',
      ['ApproximateAgeOfOldestMessageInQuietGroups', [{ Name: 'QueueName', Value: stack.resolve(jobs.queue('default').queueName) }]],
      ['ApproximateAgeOfOldestMessageInQuietGroups', [{ Name: 'QueueName', Value: stack.resolve(jobs.queue('critical').queueName) }]],
    ]);
    const many = newStack();
    new JobSystem(many, 'Jobs', { queues: Object.fromEntries(Array.from({ length: 23 }, (_, index) => [`q${String(index).padStart(2, '0')}`, {}])) });
    expect([...alarmsByName(Template.fromStack(many)).keys()].filter((name) => name.includes('QuietGroupAge'))).toEqual(['Test-Jobs-QuietGroupAge-q00', 'Test-Jobs-QuietGroupAge-q10', 'Test-Jobs-QuietGroupAge-q20']);
    expect(alarmsByName(monitored({ alarms: { quietGroupAge: Duration.minutes(2) } }).template).get('Test-Jobs-QuietGroupAge-default')).toMatchObject({ Threshold: 120 });
    expect([...alarmsByName(monitored({ alarms: { quietGroupAge: false } }).template).keys()].filter((name) => name.includes('QuietGroupAge'))).toEqual([]);
    expect(() => monitored({ alarms: { quietGroupAge: Duration.seconds(30) } })).toThrow(/alarms\.quietGroupAge/);
  });

  it('show each queue\'s noisy tenants, quiet tenants\' visible messages and their oldest message\'s age on the dashboard', () => {
    const widgets = dashboardWidgets(monitored().template);
    const metricsOf = (title: string) => (widgets.find((widget) => widget.title === title)?.metrics ?? []).map((metric) => [metric[1], isRecord(metric[4]) ? metric[4].label : undefined]);
    expect(metricsOf('Fair queues: noisy tenants, and quiet tenants\' visible messages')).toEqual([
      ['ApproximateNumberOfNoisyGroups', 'default noisy tenants'], ['ApproximateNumberOfNoisyGroups', 'critical noisy tenants'],
      ['ApproximateNumberOfMessagesVisibleInQuietGroups', 'default quiet tenants\' messages'], ['ApproximateNumberOfMessagesVisibleInQuietGroups', 'critical quiet tenants\' messages'],
    ]);
    expect(metricsOf('Fair queues: age of quiet tenants\' oldest message (s)')).toEqual([
      ['ApproximateAgeOfOldestMessageInQuietGroups', 'default'], ['ApproximateAgeOfOldestMessageInQuietGroups', 'critical'],
    ]);
  });

  it('warn at synth when a queue\'s mapping holds fewer than 30 messages in flight: SQS could never find a noisy tenant', () => {
    const stack = newStack();
    const jobs = new JobSystem(stack, 'Jobs', { queues: { small: { maxConcurrency: 20 }, enough: { maxConcurrency: 30 }, open: {} } });
    jobs.addWorker(newWorker(stack, 'Worker'), { queues: ['small', 'enough', 'open'] });

    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('SQS fair queues'));
    expect(warnings.map((warning) => warning.entry.data)).toEqual([
      'queue "small" holds at most 20 messages in flight (batchSize 10 × maxConcurrency 2 invocations), fewer than the 30 of one tenant that SQS fair queues need to find a noisy tenant: '
      + 'tenants share this queue in arrival order. Raise maxConcurrency to at least 30 jobs for fair sharing between tenants (docs/flow-control.md) [ack: hopper:fair-queues-never-noisy]',
    ]);
  });
});
