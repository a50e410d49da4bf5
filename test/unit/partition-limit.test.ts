/**
 * The local partition limit's arithmetic (local/dynamodb/partition-limit.ts): a one-second bucket
 * of write units per table and partition key, on a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { PartitionMeter, checkPartitionLimit, type PartitionCharge } from '../../local/dynamodb/partition-limit.js';

function meter(writeUnitsPerSecond = 10) {
  const clock = { ms: 1_000_000 };
  return { clock, meter: new PartitionMeter({ writeUnitsPerSecond }, () => clock.ms) };
}

const write = (partition: string, units = 1, table = 'T'): PartitionCharge => ({ table, partition, units });

describe('PartitionMeter', () => {
  it('lets one second of units through a key, then throttles it until the bucket refills', () => {
    const { clock, meter: m } = meter(10);
    for (let index = 0; index < 10; index += 1) expect(m.take([write('"hot"')])).toEqual(new Set());
    expect(m.take([write('"hot"')])).toEqual(new Set([0]));
    clock.ms += 100; // a tenth of a second refills one unit
    expect(m.take([write('"hot"')])).toEqual(new Set());
    expect(m.take([write('"hot"')])).toEqual(new Set([0]));
    const [report] = m.report();
    expect(report).toEqual({ table: 'T', partition: '"hot"', units: 11, offeredUnits: 13, throttled: 2, peakUnitsPerSecond: 11 });
  });

  it('keeps keys and tables apart: a hot key does not slow a cool one', () => {
    const { meter: m } = meter(2);
    m.take([write('"a"', 2)]);
    expect(m.take([write('"a"')])).toEqual(new Set([0]));
    expect(m.take([write('"b"')])).toEqual(new Set());
    expect(m.take([write('"a"', 1, 'Other')])).toEqual(new Set());
  });

  it('sums a request\'s items on one key, and refuses a whole request without taking its cool items', () => {
    const { meter: m } = meter(4);
    m.take([write('"a"')]);
    // 2 + 2 + 2 on "a" is past the 3 units left: the transaction is refused, "b" keeps its units.
    expect(m.take([write('"a"', 2), write('"b"', 4), write('"a"', 2), write('"a"', 2)])).toEqual(new Set([0, 2, 3]));
    expect(m.take([write('"b"', 4)])).toEqual(new Set());
  });

  it('lets a request larger than a second\'s units into a full bucket only', () => {
    const { meter: m } = meter(4);
    expect(m.take([write('"a"', 6)])).toEqual(new Set());
    expect(m.take([write('"a"', 1)])).toEqual(new Set([0]));
  });

  it('lets a batch write\'s cool items through when some are hot (partial)', () => {
    const { meter: m } = meter(1);
    m.take([write('"a"')]);
    expect(m.take([write('"a"'), write('"b"')], true)).toEqual(new Set([0]));
    expect(m.take([write('"b"')])).toEqual(new Set([0]));
  });

  it('never limits an item whose partition key is unknown', () => {
    const { meter: m } = meter(1);
    for (let index = 0; index < 5; index += 1) expect(m.take([write('')])).toEqual(new Set());
    expect(m.report()).toEqual([]);
  });

  it('counts the busiest calendar second, and forgets everything on reset', () => {
    const { clock, meter: m } = meter(100);
    clock.ms = 5_000_900;
    for (let index = 0; index < 30; index += 1) m.take([write('"k"')]);
    clock.ms = 5_001_100; // the next second
    for (let index = 0; index < 20; index += 1) m.take([write('"k"')]);
    expect(m.report()[0]?.peakUnitsPerSecond).toBe(30);
    m.reset();
    expect(m.report()).toEqual([]);
  });

  it('holds burstSeconds of units when asked for less than a second\'s', () => {
    const clock = { ms: 0 };
    const m = new PartitionMeter({ writeUnitsPerSecond: 100, burstSeconds: 0.1 }, () => clock.ms);
    for (let index = 0; index < 10; index += 1) expect(m.take([write('"k"')])).toEqual(new Set());
    expect(m.take([write('"k"')])).toEqual(new Set([0]));
    clock.ms += 1_000; // a quiet second refills the bucket to its depth, not to a second's units
    for (let index = 0; index < 10; index += 1) m.take([write('"k"')]);
    expect(m.take([write('"k"')])).toEqual(new Set([0]));
  });

  it('names the field of a limit that is not a positive number', () => {
    expect(() => checkPartitionLimit({ writeUnitsPerSecond: 10, burstSeconds: 0 })).toThrow(/burstSeconds must be a positive number/);
    expect(() => checkPartitionLimit({ writeUnitsPerSecond: 0 })).toThrow(/writeUnitsPerSecond must be a positive number/);
    expect(() => checkPartitionLimit({ writeUnitsPerSecond: Number.NaN })).toThrow(/writeUnitsPerSecond/);
  });
});
