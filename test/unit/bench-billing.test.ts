import { describe, expect, it } from 'vitest';
import { AWS_DYNAMODB_WAIT_MS, awsBilledMs, costOf, floorCounts, loadPrices, parsePrices, perMillionJobs, type Prices } from '../../bench/lib/billing.js';
import { addCounts, billedSqsRequests, diffCounts, emptyCounts, SQS_BILLED_CHUNK_BYTES, type Counts } from '../../bench/lib/counts.js';

/** Round prices so that expected values are easy to check by hand. */
const PRICES: Prices = {
  region: 'us-east-1',
  date: '2026-11-23',
  note: 'test prices',
  currency: 'USD',
  sqs: { standardPerMillionRequests: 0.4, billedChunkBytes: 65_536 },
  dynamodb: { onDemandPerMillionWriteUnits: 1, onDemandPerMillionReadUnits: 0.25 },
  lambda: { perMillionRequests: 0.2, perGbSecond: { arm64: 0.00001, x86_64: 0.00002 } },
  scheduler: { perMillionInvocations: 1 },
};

describe('the 64 KB billing rule', () => {
  it.each([
    [0, 1],
    [1, 1],
    [SQS_BILLED_CHUNK_BYTES, 1],
    [SQS_BILLED_CHUNK_BYTES + 1, 2],
    [4 * SQS_BILLED_CHUNK_BYTES, 4],
    [262_144, 4],
  ])('a request of %d bytes is billed as %d', (bytes, billed) => {
    expect(billedSqsRequests(bytes)).toBe(billed);
  });

  it('rejects a negative size', () => {
    expect(() => billedSqsRequests(-1)).toThrow('payloadBytes must be a non-negative number, but -1 was provided');
  });
});

describe('costOf', () => {
  const counts: Counts = {
    sqs: {
      SendMessageBatch: { requests: 100, billed: 150, messages: 1_000, empty: 0 },
      ReceiveMessage: { requests: 130, billed: 130, messages: 1_000, empty: 30 },
    },
    dynamodb: { UpdateItem: { requests: 100, readUnits: 0, writeUnits: 100, estimatedUnits: 0 }, Query: { requests: 4, readUnits: 2, writeUnits: 0, estimatedUnits: 0 } },
    lambda: {
      worker: { invocations: 100, billedMs: 2_000, memoryMb: 1_024, records: 1_000 },
      sweep: { invocations: 2, billedMs: 100, memoryMb: 512, records: 0 },
    },
  };

  it('prices billed SQS requests without empty receives, units, invocations and GB-s by architecture', () => {
    const cost = costOf(counts, PRICES, { architectures: { worker: 'arm64', sweep: 'x86_64' }, scheduledFunctions: ['sweep'] });

    expect(cost.sqs).toBeCloseTo((250 * 0.4) / 1e6, 12);
    expect(cost.dynamodbWrites).toBeCloseTo(100 / 1e6, 12);
    expect(cost.dynamodbReads).toBeCloseTo((2 * 0.25) / 1e6, 12);
    expect(cost.lambdaRequests).toBeCloseTo((102 * 0.2) / 1e6, 12);
    // worker: 1 GB × 2 s at arm64; sweep: 0.5 GB × 0.1 s at x86_64
    expect(cost.lambdaCompute).toBeCloseTo(2 * 0.00001 + 0.05 * 0.00002, 12);
    expect(cost.scheduler).toBeCloseTo(2 / 1e6, 12);
    expect(cost.total).toBeCloseTo(cost.sqs + cost.dynamodbWrites + cost.dynamodbReads + cost.lambdaRequests + cost.lambdaCompute + cost.scheduler, 15);
  });

  it('scales a cost to a million jobs', () => {
    const cost = costOf(counts, PRICES, { architectures: {} });
    const scaled = perMillionJobs(cost, 1_000);
    expect(scaled.total).toBeCloseTo(cost.total * 1_000, 12);
    expect(scaled.sqs).toBeCloseTo(cost.sqs * 1_000, 12);
    expect(() => perMillionJobs(cost, 0)).toThrow('jobs must be positive, but 0 was provided');
  });
});

describe('the floor', () => {
  it('is one send, one receive and one delete per ten jobs per run, an invocation per ten, no DynamoDB', () => {
    const floor = floorCounts({ jobs: 1_000, runsPerJob: 2, functionName: 'worker', memoryMb: 256 });

    expect(floor.sqs).toEqual({
      SendMessageBatch: { requests: 200, billed: 200, messages: 2_000, empty: 0 },
      ReceiveMessage: { requests: 200, billed: 200, messages: 2_000, empty: 0 },
      DeleteMessageBatch: { requests: 200, billed: 200, messages: 2_000, empty: 0 },
    });
    expect(floor.dynamodb).toEqual({});
    expect(floor.lambda).toEqual({ worker: { invocations: 200, billedMs: 200, memoryMb: 256, records: 2_000 } });
  });

  it('rounds partial batches up', () => {
    expect(floorCounts({ jobs: 11, runsPerJob: 1, functionName: 'w', memoryMb: 128, msPerInvocation: 5 }).lambda.w).toEqual({ invocations: 2, billedMs: 10, memoryMb: 128, records: 11 });
  });

  it('costs $0.14 per million plain jobs at 1 ms and 256 MB on arm64 at list prices', () => {
    const prices = loadPrices();
    const floor = perMillionJobs(costOf(floorCounts({ jobs: 1_000_000, runsPerJob: 1, functionName: 'w', memoryMb: 256 }), prices, { architectures: { w: 'arm64' } }), 1_000_000);
    // 300,000 SQS requests, 100,000 invocations, 25 GB-s
    expect(floor.sqs).toBeCloseTo(0.12, 6);
    expect(floor.lambdaRequests).toBeCloseTo(0.02, 6);
    expect(floor.lambdaCompute).toBeCloseTo(25 * prices.lambda.perGbSecond.arm64, 9);
    expect(floor.dynamodbWrites + floor.dynamodbReads).toBe(0);
  });
});

describe('awsBilledMs', () => {
  it('bills each DynamoDB wait at AWS\'s latency instead of the emulator\'s, at least a millisecond an invocation', () => {
    expect(awsBilledMs({ invocations: 10, billedMs: 700, dynamoWaitMs: 650, dynamoWaits: 10 })).toBe(700 - 650 + 10 * AWS_DYNAMODB_WAIT_MS);
    expect(awsBilledMs({ invocations: 10, billedMs: 50 })).toBe(50);
    expect(awsBilledMs({ invocations: 10, billedMs: 12, dynamoWaitMs: 12, dynamoWaits: 0 })).toBe(10);
    expect(AWS_DYNAMODB_WAIT_MS).toBe(10);
  });
});

describe('counts arithmetic', () => {
  const a: Counts = {
    sqs: { SendMessageBatch: { requests: 2, billed: 3, messages: 20, empty: 0 } },
    dynamodb: {},
    lambda: { worker: { invocations: 1, billedMs: 7, memoryMb: 256, records: 10 } },
  };

  it('adds and subtracts snapshots, carrying memory and dropping what became zero', () => {
    const twice = addCounts(a, a);
    expect(twice.sqs.SendMessageBatch).toEqual({ requests: 4, billed: 6, messages: 40, empty: 0 });
    expect(twice.lambda.worker).toEqual({ invocations: 2, billedMs: 14, memoryMb: 256, records: 20 });
    expect(diffCounts(twice, a)).toEqual(a);
    expect(diffCounts(a, a)).toEqual(emptyCounts());
  });
});

describe('parsePrices', () => {
  it('reads bench/prices.json', () => {
    const prices = loadPrices();
    expect(prices.region).toBe('us-east-1');
    expect(prices.sqs.billedChunkBytes).toBe(SQS_BILLED_CHUNK_BYTES);
  });

  it('names the field that is missing or wrong', () => {
    expect(() => parsePrices({ ...PRICES, lambda: { perMillionRequests: 0.2, perGbSecond: { arm64: 'cheap' } } })).toThrow('prices: lambda.perGbSecond.arm64 must be a non-negative number, but "cheap" was provided');
    expect(() => parsePrices({ ...PRICES, date: '' })).toThrow('prices: date must be a non-empty string, but "" was provided');
  });
});
