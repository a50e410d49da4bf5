/**
 * What a benchmark run cost, counted request by request: SQS requests per operation (with the
 * 64 KB billing rule), DynamoDB read and write units per operation, Lambda invocations and billed
 * milliseconds per function. Counts from several processes (function instances, the bench process)
 * add up; a phase's counts are the difference of two snapshots.
 */

/** SQS bills each 64 KB chunk of a request's payload as one request. */
export const SQS_BILLED_CHUNK_BYTES = 65_536;

/** Billed SQS requests for one request carrying `payloadBytes` (at least one). */
export function billedSqsRequests(payloadBytes: number): number {
  if (!Number.isFinite(payloadBytes) || payloadBytes < 0) throw new RangeError(`payloadBytes must be a non-negative number, but ${payloadBytes} was provided`);
  return Math.max(1, Math.ceil(payloadBytes / SQS_BILLED_CHUNK_BYTES));
}

/** One SQS operation's requests. */
export interface SqsCount {
  requests: number;
  /** Requests as billed (64 KB chunks). */
  billed: number;
  /** Messages sent, received or deleted. */
  messages: number;
  /** Receives that returned nothing (long polls of an idle queue). */
  empty: number;
}

/** One DynamoDB operation's requests and capacity units. */
export interface DynamoCount {
  requests: number;
  readUnits: number;
  writeUnits: number;
  /** Write units counted without reading the items (from the request alone: a put's item, anything else under 1 KB). */
  estimatedUnits: number;
}

/** One function's invocations. */
export interface LambdaCount {
  invocations: number;
  /** Sum of invocation durations, each rounded up to a millisecond as Lambda bills them. */
  billedMs: number;
  memoryMb: number;
  /** SQS records the function was given. */
  records: number;
  /**
   * Of `billedMs`, the time the function had DynamoDB requests in flight (the emulator's latency
   * and the meter's own item sizing), and how many such waits there were: the bill replaces each
   * wait with AWS's latency (./billing.ts `awsBilledMs`).
   */
  dynamoWaitMs?: number;
  dynamoWaits?: number;
}

/** Everything counted. */
export interface Counts {
  sqs: Record<string, SqsCount>;
  dynamodb: Record<string, DynamoCount>;
  lambda: Record<string, LambdaCount>;
}

/** No requests yet. */
export function emptyCounts(): Counts {
  return { sqs: {}, dynamodb: {}, lambda: {} };
}

type Sign = 1 | -1;

function mergeBy<T>(a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>, merge: (left: T | undefined, right: T | undefined) => T, isZero: (entry: T) => boolean): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const entry = merge(a[key], b[key]);
    if (!isZero(entry)) out[key] = entry;
  }
  return out;
}

/** `{ [name]: value }`, or nothing for 0: optional amounts stay absent where nothing was counted. */
function nonZero<K extends string>(name: K, value: number): Partial<Record<K, number>> {
  return value === 0 ? {} : ({ [name]: value } as Partial<Record<K, number>>);
}

function combine(a: Counts, b: Counts, sign: Sign): Counts {
  const sum = (left: number | undefined, right: number | undefined) => (left ?? 0) + sign * (right ?? 0);
  return {
    sqs: mergeBy(a.sqs, b.sqs, (l, r) => ({ requests: sum(l?.requests, r?.requests), billed: sum(l?.billed, r?.billed), messages: sum(l?.messages, r?.messages), empty: sum(l?.empty, r?.empty) }), (e) => e.requests === 0),
    dynamodb: mergeBy(a.dynamodb, b.dynamodb, (l, r) => ({
      requests: sum(l?.requests, r?.requests),
      readUnits: sum(l?.readUnits, r?.readUnits),
      writeUnits: sum(l?.writeUnits, r?.writeUnits),
      estimatedUnits: sum(l?.estimatedUnits, r?.estimatedUnits),
    }), (e) => e.requests === 0),
    // Memory is a property of the function, not an amount: it is carried, never added.
    lambda: mergeBy(a.lambda, b.lambda, (l, r) => ({
      invocations: sum(l?.invocations, r?.invocations),
      billedMs: sum(l?.billedMs, r?.billedMs),
      memoryMb: l?.memoryMb ?? r?.memoryMb ?? 0,
      records: sum(l?.records, r?.records),
      ...nonZero('dynamoWaitMs', sum(l?.dynamoWaitMs, r?.dynamoWaitMs)),
      ...nonZero('dynamoWaits', sum(l?.dynamoWaits, r?.dynamoWaits)),
    }), (e) => e.invocations === 0),
  };
}

/** `a + b`. */
export function addCounts(a: Counts, b: Counts): Counts {
  return combine(a, b, 1);
}

/** `after − before`: what happened between two snapshots. */
export function diffCounts(after: Counts, before: Counts): Counts {
  return combine(after, before, -1);
}

/** Sums many snapshots. */
export function sumCounts(all: readonly Counts[]): Counts {
  return all.reduce(addCounts, emptyCounts());
}
