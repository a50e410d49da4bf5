/**
 * The local runtime's check of EMF lines against CloudWatch's rules: a line CloudWatch would drop
 * (and every metric in it with it) is named with the reason; Hopper's own lines pass.
 */
import { describe, expect, it } from 'vitest';
import { emfProblem } from '../../local/host/emf-check.js';
import { createMetrics } from '../../lib/observability/emf.js';

const NOW = Date.UTC(2026, 10, 22, 12);

/** An EMF document with one directive; `extra` overrides root members, `directive` the directive's. */
function line(extra: Record<string, unknown> = {}, directive: Record<string, unknown> = {}, aws: Record<string, unknown> = {}): string {
  return JSON.stringify({
    _aws: { Timestamp: NOW, CloudWatchMetrics: [{ Namespace: 'Hopper', Dimensions: [['Queue'], ['Queue', 'JobType']], Metrics: [{ Name: 'Processed', Unit: 'Count' }], ...directive }], ...aws },
    Queue: 'default',
    JobType: 'SendEmail',
    Processed: 3,
    ...extra,
  });
}

describe('emfProblem', () => {
  it('passes Hopper\'s own lines, jobtypes that are not ASCII included, and ignores lines that are not EMF', () => {
    const lines: string[] = [];
    const batch = createMetrics({ sink: (text) => lines.push(text) }).batch();
    batch.count('default', 'Rechnung::Größe', 'Processed');
    for (let ms = 0; ms < 150; ms += 1) batch.observe('default', 'SendEmail', 'Duration', ms);
    batch.flush(NOW);

    expect(lines).toHaveLength(3);
    expect(lines.map(emfProblem)).toEqual([undefined, undefined, undefined]);
    expect(emfProblem(line())).toBeUndefined();
    expect(emfProblem(`2026-11-22T12:00:00.000Z\t4f6c2a\tINFO\t${line()}`)).toBeUndefined();
    expect([emfProblem('hello'), emfProblem('{"level":"INFO","message":"job done"}'), emfProblem('{"_aws": not json')]).toEqual([undefined, undefined, undefined]);
  });

  it.each([
    ['a non-ASCII dimension value', line({ JobType: 'Rechnung::Größe' }), 'dimension JobType is "Rechnung::Größe": not printable ASCII'],
    ['an empty dimension value', line({ Queue: '' }), 'dimension Queue is empty or blank'],
    ['a control character', line({ JobType: 'Tab\there' }), 'dimension JobType is "Tab\\there": not printable ASCII'],
    ['a dimension value over 1,024 characters', line({ JobType: 'x'.repeat(1025) }), "dimension JobType is 1025 characters long, over CloudWatch's 1024"],
    ['a dimension without a value', line({ JobType: undefined }), 'dimension JobType has no value in the line'],
    ['31 dimensions in a set', line(Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`D${i}`, 'v'])), { Dimensions: [Array.from({ length: 31 }, (_, i) => `D${i}`)] }), "_aws.CloudWatchMetrics[0].Dimensions[0] has 31 dimensions, over CloudWatch's 30"],
    ['101 metrics', line(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`M${i}`, 1])), { Metrics: Array.from({ length: 101 }, (_, i) => ({ Name: `M${i}` })) }), "_aws.CloudWatchMetrics[0].Metrics has 101 metrics, over CloudWatch's 100"],
    ['101 values of a metric', line({ Processed: Array.from({ length: 101 }, () => 1) }), "metric Processed has 101 values, over CloudWatch's 100"],
    ['a metric without a value', line({ Processed: undefined }), 'metric Processed has no value in the line'],
    ['a metric that is text', line({ Processed: 'three' }), 'metric Processed is not a number or an array of numbers'],
    ['no Timestamp', line({}, {}, { Timestamp: undefined }), '_aws.Timestamp is missing'],
    ['no CloudWatchMetrics', line({}, {}, { CloudWatchMetrics: undefined }), '_aws.CloudWatchMetrics is missing'],
    ['no Namespace', line({}, { Namespace: undefined }), '_aws.CloudWatchMetrics[0].Namespace is missing'],
    ['no Dimensions', line({}, { Dimensions: undefined }), '_aws.CloudWatchMetrics[0].Dimensions is missing'],
    ['a metric without a Name', line({}, { Metrics: [{ Unit: 'Count' }] }), '_aws.CloudWatchMetrics[0].Metrics[0].Name is missing'],
  ])('names %s', (_what, text, problem) => {
    expect(emfProblem(text)).toBe(problem);
  });
});
