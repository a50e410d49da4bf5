/**
 * CloudWatch metrics through the Embedded Metric Format: a function prints JSON lines to its log
 * and CloudWatch Logs turns them into metrics, with no API call and no IAM right.
 *
 * Counts are aggregated per invocation: one line per (queue, jobtype) an invocation saw, whose
 * counts are sums and whose timings are arrays of the invocation's observations (the format takes
 * a number or an array of up to 100 numbers per metric), so log volume grows with invocations,
 * not jobs.
 *
 * Dimensions are bounded: every metric is published under `[Queue]` and `[Queue, JobType]`, queues
 * are declared in the construct, and an instance gives at most `maxJobTypes` distinct jobtypes
 * their own series; later ones are published as {@link OTHER_JOBTYPE}.
 *
 * Dimension values are valid as CloudWatch requires ({@link dimensionValue}): a jobtype such as
 * `Rechnung::Größe` would otherwise make CloudWatch drop the whole line, and with it the queue's
 * counts.
 */
import type { HopperConfig } from '../config/hopper-config.js';
import type { LogSink } from './logger.js';

/** Metric names, as they appear in CloudWatch. */
export const METRICS = {
  /** Jobs whose handler ran to an end (succeeded or failed), per worker. */
  processed: 'Processed',
  /** Jobs whose handler failed (threw), or that cannot run (unknown jobtype), per worker. */
  failed: 'Failed',
  /** Failed jobs the retry function scheduled for another attempt. */
  retried: 'Retried',
  /** Jobs the retry function moved to the dead set. */
  dead: 'Dead',
  /** Jobs that came back through the redrive: their worker crashed or timed out. */
  crashed: 'Crashed',
  /** Jobs dropped unrun because `custom.expires_at` had passed. */
  expired: 'Expired',
  /** Debounced jobs dropped unrun because a later job of their key superseded them. */
  superseded: 'Superseded',
  /** Jobs a limiter sent back to their queue. */
  rateLimited: 'RateLimited',
  /** Handler run time, ms. */
  duration: 'Duration',
  /** Time from when the job became due (lib/job/due.ts: `enqueued_at`, `at` or a retry's `failure.next_at`, the latest) to the start of the handler, ms. */
  latency: 'Latency',
  /** Jobs put on a queue by the scheduler, cron, the API or a batch callback. */
  enqueued: 'Enqueued',
  /** Jobs the API turned away (quota or backlog), per queue. */
  throttled: 'Throttled',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** The unit of each metric. */
export const METRIC_UNITS: Readonly<Record<MetricName, 'Count' | 'Milliseconds'>> = {
  Processed: 'Count',
  Failed: 'Count',
  Retried: 'Count',
  Dead: 'Count',
  Crashed: 'Count',
  Expired: 'Count',
  Superseded: 'Count',
  RateLimited: 'Count',
  Duration: 'Milliseconds',
  Latency: 'Milliseconds',
  Enqueued: 'Count',
  Throttled: 'Count',
};

/** Dimension names. */
export const DIMENSIONS = { queue: 'Queue', jobType: 'JobType' } as const;

/** The jobtype under which metrics count messages whose body is not a job. */
export const INVALID_JOBTYPE = 'Invalid';

/** The jobtype under which an instance publishes jobtypes beyond its cap. */
export const OTHER_JOBTYPE = 'Other';

/** CloudWatch's rules for a dimension value: printable ASCII, not blank, at most 1,024 characters. */
export const DIMENSION_VALUE_LIMITS = { maxLength: 1024, printable: /^[\x20-\x7e]*$/ } as const;

/**
 * A dimension value CloudWatch accepts for `text`. Printable ASCII passes unchanged; every other
 * character is written as a JSON-style `\uXXXX` escape of its UTF-16 code unit (and a backslash as
 * `\\`, so two different texts never share a value): `Rechnung::Größe` → `Rechnung::Gr\u00f6\u00dfe`.
 * A blank text, or one whose escaped form is longer than 1,024 characters, becomes
 * {@link OTHER_JOBTYPE}. Escaping rather than folding every such jobtype into one series keeps
 * each jobtype's counts apart and readable.
 *
 * @example
 * dimensionValue('SendEmail') // 'SendEmail'
 * dimensionValue('Rechnung::Größe') // 'Rechnung::Gr\u00f6\u00dfe'
 */
export function dimensionValue(text: string): string {
  let escaped = '';
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit === 0x5c) escaped += '\\\\';
    else if (unit >= 0x20 && unit <= 0x7e) escaped += text.charAt(index);
    else escaped += `\\u${unit.toString(16).padStart(4, '0')}`;
  }
  return escaped.trim() === '' || escaped.length > DIMENSION_VALUE_LIMITS.maxLength ? OTHER_JOBTYPE : escaped;
}

/** Defaults of the metrics, also used by the construct. */
export const METRICS_DEFAULTS = {
  namespace: 'Hopper',
  /** Distinct jobtypes one function instance publishes before it folds the rest into `Other`. */
  maxJobTypes: 50,
  /** The most values one metric carries in one line (the format's limit). */
  maxValuesPerLine: 100,
} as const;

/** Value of `HOPPER_METRICS` that turns metrics off (the construct sets it with `metrics: false`). */
export { METRICS_OFF } from '../config/env.js';

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** @default 'Hopper' */
  readonly namespace?: string;
  /** @default 50 */
  readonly maxJobTypes?: number;
  /** @default console.log */
  readonly sink?: LogSink;
  /** False: nothing is printed. @default true */
  readonly enabled?: boolean;
}

/** One invocation's metrics, printed by {@link MetricsBatch.flush}. */
export interface MetricsBatch {
  /** Adds `n` (default 1) to a count metric of (queue, jobtype). */
  count(queue: string, jobtype: string, metric: MetricName, n?: number): void;
  /** Adds one observation (ms) to a timing metric of (queue, jobtype). */
  observe(queue: string, jobtype: string, metric: MetricName, value: number): void;
  /** Prints one line per (queue, jobtype) seen, then forgets them. */
  flush(atMs: number): void;
}

/** Creates per-invocation batches; one per function instance (it remembers the jobtypes seen). */
export interface Metrics {
  batch(): MetricsBatch;
}

interface Series {
  readonly queue: string;
  readonly jobtype: string;
  readonly counts: Map<MetricName, number>;
  readonly values: Map<MetricName, number[]>;
}

/** The metrics of one function instance. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const namespace = options.namespace ?? METRICS_DEFAULTS.namespace;
  const maxJobTypes = options.maxJobTypes ?? METRICS_DEFAULTS.maxJobTypes;
  const sink = options.sink ?? ((line: string) => { console.log(line); });
  const enabled = options.enabled ?? true;
  const known = new Set<string>();
  const jobtypeOf = (raw: string): string => {
    const jobtype = dimensionValue(raw);
    if (known.has(jobtype)) return jobtype;
    if (known.size >= maxJobTypes) return OTHER_JOBTYPE;
    known.add(jobtype);
    return jobtype;
  };

  return {
    batch() {
      const series = new Map<string, Series>();
      // The series of each (queue, jobtype) as the worker names them, so that a batch's jobs of one
      // type escape their names once, not at every count.
      const byName = new Map<string, Map<string, Series>>();
      const seriesOf = (queue: string, jobtype: string): Series => {
        let ofQueue = byName.get(queue);
        if (ofQueue === undefined) byName.set(queue, (ofQueue = new Map()));
        const seen = ofQueue.get(jobtype);
        if (seen !== undefined) return seen;
        const type = jobtypeOf(jobtype);
        const name = dimensionValue(queue);
        const id = JSON.stringify([name, type]);
        let entry = series.get(id);
        if (entry === undefined) {
          entry = { queue: name, jobtype: type, counts: new Map(), values: new Map() };
          series.set(id, entry);
        }
        ofQueue.set(jobtype, entry);
        return entry;
      };
      return {
        count(queue, jobtype, metric, n = 1) {
          if (!enabled || n === 0) return;
          const entry = seriesOf(queue, jobtype);
          entry.counts.set(metric, (entry.counts.get(metric) ?? 0) + n);
        },
        observe(queue, jobtype, metric, value) {
          if (!enabled || !Number.isFinite(value)) return;
          const entry = seriesOf(queue, jobtype);
          const values = entry.values.get(metric);
          if (values === undefined) entry.values.set(metric, [Math.max(0, Math.round(value))]);
          else values.push(Math.max(0, Math.round(value)));
        },
        flush(atMs) {
          for (const entry of series.values()) for (const line of emfLines(namespace, entry, atMs)) sink(line);
          series.clear();
          byName.clear();
        },
      };
    },
  };
}

/** The metrics `config` asks for: namespace from `HOPPER_METRICS_NAMESPACE`, off when `HOPPER_METRICS` is `off`. */
export function metricsOf(config: HopperConfig, sink?: LogSink): Metrics {
  return createMetrics({ ...config.metrics, ...(sink === undefined ? {} : { sink }) });
}

/** The lines of one series: one, or more when a timing has more than 100 observations. */
function emfLines(namespace: string, series: Series, atMs: number): string[] {
  const chunks = Math.max(1, ...[...series.values.values()].map((values) => Math.ceil(values.length / METRICS_DEFAULTS.maxValuesPerLine)));
  const lines: string[] = [];
  for (let chunk = 0; chunk < chunks; chunk += 1) {
    const fields: Record<string, number | number[]> = {};
    const names: MetricName[] = [];
    // Counts travel in the first line only; timings are split 100 values a line.
    if (chunk === 0) {
      for (const [metric, n] of series.counts) {
        fields[metric] = n;
        names.push(metric);
      }
    }
    for (const [metric, values] of series.values) {
      const part = values.slice(chunk * METRICS_DEFAULTS.maxValuesPerLine, (chunk + 1) * METRICS_DEFAULTS.maxValuesPerLine);
      if (part.length === 0) continue;
      fields[metric] = part;
      names.push(metric);
    }
    if (names.length === 0) continue;
    lines.push(JSON.stringify({
      _aws: {
        Timestamp: atMs,
        CloudWatchMetrics: [{
          Namespace: namespace,
          Dimensions: [[DIMENSIONS.queue], [DIMENSIONS.queue, DIMENSIONS.jobType]],
          Metrics: names.map((name) => ({ Name: name, Unit: METRIC_UNITS[name] })),
        }],
      },
      [DIMENSIONS.queue]: series.queue,
      [DIMENSIONS.jobType]: series.jobtype,
      ...fields,
    }));
  }
  return lines;
}
