/**
 * Dollars from counts: the price list (bench/prices.json), the cost of counted requests, and the
 * floor — what the same jobs would cost with nothing but batched SQS calls and one Lambda
 * invocation per batch of ten.
 */
import { readFileSync } from 'node:fs';
import type { Counts, LambdaCount } from './counts.js';

/** Lambda architectures, as the template names them. */
export type Architecture = 'arm64' | 'x86_64';

/** The price list (USD, one region, list prices as of `date`). */
export interface Prices {
  readonly region: string;
  readonly date: string;
  readonly note: string;
  readonly currency: string;
  readonly sqs: { readonly standardPerMillionRequests: number; readonly billedChunkBytes: number };
  readonly dynamodb: { readonly onDemandPerMillionWriteUnits: number; readonly onDemandPerMillionReadUnits: number };
  readonly lambda: { readonly perMillionRequests: number; readonly perGbSecond: Readonly<Record<Architecture, number>> };
  readonly scheduler: { readonly perMillionInvocations: number };
}

function positiveNumberAt(value: unknown, path: string): number {
  const found = path.split('.').reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? Reflect.get(node, key) : undefined), value);
  if (typeof found !== 'number' || !Number.isFinite(found) || found < 0) throw new Error(`prices: ${path} must be a non-negative number, but ${JSON.stringify(found)} was provided`);
  return found;
}

function textAt(value: unknown, key: string): string {
  const found = typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
  if (typeof found !== 'string' || found === '') throw new Error(`prices: ${key} must be a non-empty string, but ${JSON.stringify(found)} was provided`);
  return found;
}

/** Validates a parsed price list. */
export function parsePrices(value: unknown): Prices {
  return {
    region: textAt(value, 'region'),
    date: textAt(value, 'date'),
    note: textAt(value, 'note'),
    currency: textAt(value, 'currency'),
    sqs: { standardPerMillionRequests: positiveNumberAt(value, 'sqs.standardPerMillionRequests'), billedChunkBytes: positiveNumberAt(value, 'sqs.billedChunkBytes') },
    dynamodb: {
      onDemandPerMillionWriteUnits: positiveNumberAt(value, 'dynamodb.onDemandPerMillionWriteUnits'),
      onDemandPerMillionReadUnits: positiveNumberAt(value, 'dynamodb.onDemandPerMillionReadUnits'),
    },
    lambda: {
      perMillionRequests: positiveNumberAt(value, 'lambda.perMillionRequests'),
      perGbSecond: { arm64: positiveNumberAt(value, 'lambda.perGbSecond.arm64'), x86_64: positiveNumberAt(value, 'lambda.perGbSecond.x86_64') },
    },
    scheduler: { perMillionInvocations: positiveNumberAt(value, 'scheduler.perMillionInvocations') },
  };
}

/** bench/prices.json. */
export function loadPrices(path = new URL('../prices.json', import.meta.url)): Prices {
  return parsePrices(JSON.parse(readFileSync(path, 'utf8')));
}

/** A cost split by what is paid for (USD). */
export interface Cost {
  readonly sqs: number;
  readonly dynamodbWrites: number;
  readonly dynamodbReads: number;
  readonly lambdaRequests: number;
  readonly lambdaCompute: number;
  readonly scheduler: number;
  readonly total: number;
}

/** How to price counts: each function's architecture, and which functions schedules invoke. */
export interface PricingContext {
  /** Architecture of a function by name; functions not listed are priced as arm64. */
  readonly architectures: Readonly<Record<string, Architecture>>;
  /** Functions invoked by EventBridge Scheduler (each invocation is also a Scheduler invocation). */
  readonly scheduledFunctions?: readonly string[];
}

/**
 * How long one wait on DynamoDB takes on AWS, in milliseconds: AWS gives GetItem and PutItem an
 * average latency in single digits of milliseconds; this is the top of that range. Requests sent
 * side by side are one wait.
 */
export const AWS_DYNAMODB_WAIT_MS = 10;

/**
 * A function's billed milliseconds as AWS would bill them: the measured durations, with each wait
 * on DynamoDB (measured against DynamoDB Local, which answers slower than AWS and one request at a
 * time, and including the meter's own item sizing) replaced by {@link AWS_DYNAMODB_WAIT_MS}, and at
 * least a millisecond per invocation.
 */
export function awsBilledMs(entry: Pick<LambdaCount, 'invocations' | 'billedMs' | 'dynamoWaitMs' | 'dynamoWaits'>): number {
  const modeled = entry.billedMs - (entry.dynamoWaitMs ?? 0) + (entry.dynamoWaits ?? 0) * AWS_DYNAMODB_WAIT_MS;
  return Math.max(entry.invocations, modeled);
}

/**
 * What `counts` cost. Empty receives are left out: long polls of an idle queue cost per queue and
 * hour, not per job (they are reported beside the cost).
 */
export function costOf(counts: Counts, prices: Prices, context: PricingContext): Cost {
  const perMillion = (amount: number, price: number) => (amount * price) / 1_000_000;
  const sqsRequests = Object.values(counts.sqs).reduce((sum, entry) => sum + entry.billed - entry.empty, 0);
  const dynamo = Object.values(counts.dynamodb);
  const writeUnits = dynamo.reduce((sum, entry) => sum + entry.writeUnits, 0);
  const readUnits = dynamo.reduce((sum, entry) => sum + entry.readUnits, 0);
  let invocations = 0;
  let compute = 0;
  let scheduled = 0;
  for (const [name, entry] of Object.entries(counts.lambda)) {
    invocations += entry.invocations;
    const gbSeconds = (entry.memoryMb / 1024) * (awsBilledMs(entry) / 1000);
    compute += gbSeconds * prices.lambda.perGbSecond[context.architectures[name] ?? 'arm64'];
    if (context.scheduledFunctions?.includes(name) === true) scheduled += entry.invocations;
  }
  const parts = {
    sqs: perMillion(sqsRequests, prices.sqs.standardPerMillionRequests),
    dynamodbWrites: perMillion(writeUnits, prices.dynamodb.onDemandPerMillionWriteUnits),
    dynamodbReads: perMillion(readUnits, prices.dynamodb.onDemandPerMillionReadUnits),
    lambdaRequests: perMillion(invocations, prices.lambda.perMillionRequests),
    lambdaCompute: compute,
    scheduler: perMillion(scheduled, prices.scheduler.perMillionInvocations),
  };
  return { ...parts, total: Object.values(parts).reduce((sum, value) => sum + value, 0) };
}

/** `cost` scaled to a million jobs when it was spent on `jobs` jobs. */
export function perMillionJobs(cost: Cost, jobs: number): Cost {
  if (!(jobs > 0)) throw new RangeError(`jobs must be positive, but ${jobs} was provided`);
  const scale = 1_000_000 / jobs;
  return {
    sqs: cost.sqs * scale,
    dynamodbWrites: cost.dynamodbWrites * scale,
    dynamodbReads: cost.dynamodbReads * scale,
    lambdaRequests: cost.lambdaRequests * scale,
    lambdaCompute: cost.lambdaCompute * scale,
    scheduler: cost.scheduler * scale,
    total: cost.total * scale,
  };
}

/** The work the floor is computed for. */
export interface FloorWork {
  /** Jobs, callback jobs included. */
  readonly jobs: number;
  /** Times each job runs (2 for a job that fails once). */
  readonly runsPerJob: number;
  /** The function that runs them and its memory. */
  readonly functionName: string;
  readonly memoryMb: number;
  /**
   * Billed milliseconds per invocation.
   * @default 1 — the least Lambda bills; a handler that does nothing comes close
   */
  readonly msPerInvocation?: number;
}

/**
 * The floor's counts: per run of the jobs, one SendMessageBatch, one ReceiveMessage and one
 * DeleteMessageBatch per ten jobs (each under 64 KB), one Lambda invocation per ten jobs, and no
 * DynamoDB at all.
 */
export function floorCounts(work: FloorWork): Counts {
  const batches = work.runsPerJob * Math.ceil(work.jobs / 10);
  const messages = work.runsPerJob * work.jobs;
  const sqs = (count: number) => ({ requests: count, billed: count, messages, empty: 0 });
  return {
    sqs: { SendMessageBatch: sqs(batches), ReceiveMessage: sqs(batches), DeleteMessageBatch: sqs(batches) },
    dynamodb: {},
    lambda: { [work.functionName]: { invocations: batches, billedMs: batches * (work.msPerInvocation ?? 1), memoryMb: work.memoryMb, records: messages } },
  };
}
