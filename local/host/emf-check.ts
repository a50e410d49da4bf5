/**
 * CloudWatch's validation of Embedded Metric Format lines, so that the local runtime reports a
 * line CloudWatch would drop (and with it every metric in it) instead of passing it silently.
 * A line is an EMF document when it is a JSON object with an `_aws` member (after the
 * `<time>\t<request id>\t<LEVEL>\t` prefix Lambda's Node.js runtime adds to `console.log`, if
 * any). CloudWatch's rules, from the EMF specification and the CloudWatch API:
 *
 * - `_aws.Timestamp` is a number (epoch ms); `_aws.CloudWatchMetrics` is an array of directives.
 * - A directive has a `Namespace` (1 to 255 characters, not starting with `:`), `Dimensions` (an
 *   array of dimension sets, each an array of at most 30 names of root members) and `Metrics` (an
 *   array of at most 100 definitions, each with a `Name` of a root member).
 * - A dimension's value is a string of 1 to 1,024 printable ASCII characters, not all blank.
 * - A metric's value is a number or an array of at most 100 numbers.
 *
 * Pure.
 */
import { isRecord } from '../../lib/job/model.js';
import { DIMENSION_VALUE_LIMITS } from '../../lib/observability/emf.js';

/** CloudWatch's limits on an EMF document. */
export const EMF_LIMITS = {
  maxDimensionsPerSet: 30,
  maxMetricsPerDirective: 100,
  maxValuesPerMetric: 100,
  maxNamespaceLength: 255,
} as const;

/**
 * How the runtime's warning about such a line begins, after the function's logical id:
 * `<function>: CloudWatch would drop this EMF line and its metrics: <why>`.
 */
export const EMF_DROPPED = 'CloudWatch would drop this EMF line and its metrics:';

/** The prefix Lambda's Node.js runtime puts before a `console.log` line in text log format. */
const LAMBDA_PREFIX = /^\d{4}-\d{2}-\d{2}T[\d:.]+Z\t[^\t]*\t[A-Z]+\t/;

/**
 * Why CloudWatch would drop `line` as an EMF document, or undefined when it is valid or is not an
 * EMF document at all (an ordinary log line).
 *
 * @example
 * emfProblem('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}') // undefined
 * emfProblem('{"_aws":{"CloudWatchMetrics":[]}}') // '_aws.Timestamp is missing'
 */
export function emfProblem(line: string): string | undefined {
  const text = line.replace(LAMBDA_PREFIX, '').trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return undefined;
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(root) || !('_aws' in root)) return undefined;
  const aws = root._aws;
  if (!isRecord(aws)) return '_aws is not an object';
  if (aws.Timestamp === undefined) return '_aws.Timestamp is missing';
  if (typeof aws.Timestamp !== 'number' || !Number.isFinite(aws.Timestamp)) return '_aws.Timestamp is not a number';
  if (!Array.isArray(aws.CloudWatchMetrics)) return aws.CloudWatchMetrics === undefined ? '_aws.CloudWatchMetrics is missing' : '_aws.CloudWatchMetrics is not an array';
  for (const [index, directive] of aws.CloudWatchMetrics.entries()) {
    const problem = directiveProblem(root, directive, `_aws.CloudWatchMetrics[${index}]`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function directiveProblem(root: Readonly<Record<string, unknown>>, directive: unknown, path: string): string | undefined {
  if (!isRecord(directive)) return `${path} is not an object`;
  const { Namespace: namespace, Dimensions: dimensions, Metrics: metrics } = directive;
  if (typeof namespace !== 'string' || namespace.length === 0) return `${path}.Namespace is missing`;
  if (namespace.length > EMF_LIMITS.maxNamespaceLength || namespace.startsWith(':')) return `${path}.Namespace ${JSON.stringify(namespace)} is not a valid namespace (1 to 255 characters, not starting with ":")`;
  if (!Array.isArray(dimensions)) return dimensions === undefined ? `${path}.Dimensions is missing` : `${path}.Dimensions is not an array`;
  for (const [index, set] of dimensions.entries()) {
    if (!Array.isArray(set)) return `${path}.Dimensions[${index}] is not an array of dimension names`;
    if (set.length > EMF_LIMITS.maxDimensionsPerSet) return `${path}.Dimensions[${index}] has ${set.length} dimensions, over CloudWatch's ${EMF_LIMITS.maxDimensionsPerSet}`;
    for (const name of set) {
      const problem = dimensionProblem(root, name);
      if (problem !== undefined) return problem;
    }
  }
  if (!Array.isArray(metrics)) return metrics === undefined ? `${path}.Metrics is missing` : `${path}.Metrics is not an array`;
  if (metrics.length > EMF_LIMITS.maxMetricsPerDirective) return `${path}.Metrics has ${metrics.length} metrics, over CloudWatch's ${EMF_LIMITS.maxMetricsPerDirective}`;
  for (const [index, metric] of metrics.entries()) {
    const name: unknown = isRecord(metric) ? metric.Name : undefined;
    if (typeof name !== 'string' || name.length === 0) return `${path}.Metrics[${index}].Name is missing`;
    const problem = metricValueProblem(root, name);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function dimensionProblem(root: Readonly<Record<string, unknown>>, name: unknown): string | undefined {
  if (typeof name !== 'string') return `a dimension name is not a string (${JSON.stringify(name)})`;
  const value = root[name];
  if (value === undefined) return `dimension ${name} has no value in the line`;
  if (typeof value !== 'string') return `dimension ${name} is not a string (${JSON.stringify(value)})`;
  if (value.trim() === '') return `dimension ${name} is empty or blank`;
  if (value.length > DIMENSION_VALUE_LIMITS.maxLength) return `dimension ${name} is ${value.length} characters long, over CloudWatch's ${DIMENSION_VALUE_LIMITS.maxLength}`;
  if (!DIMENSION_VALUE_LIMITS.printable.test(value)) return `dimension ${name} is ${JSON.stringify(value)}: not printable ASCII`;
  return undefined;
}

function metricValueProblem(root: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = root[name];
  if (value === undefined) return `metric ${name} has no value in the line`;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `metric ${name} is not a finite number`;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'number' && Number.isFinite(item))) return `metric ${name} is not a number or an array of numbers`;
  if (value.length > EMF_LIMITS.maxValuesPerMetric) return `metric ${name} has ${value.length} values, over CloudWatch's ${EMF_LIMITS.maxValuesPerMetric}`;
  return undefined;
}
