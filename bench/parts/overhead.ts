/**
 * Overhead against a bare handler: N no-op jobs through the local runtime, once through Hopper's
 * worker and once through a handler that only parses each body, alternating, several rounds. Each
 * run enqueues its N messages while the function's mapping is paused, then resumes it and times
 * until the queue is empty: throughput of consumption, with the same runtime, emulator and batch
 * size on both sides.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { diffCounts, type LambdaCount } from '../lib/counts.js';
import { median, round } from '../lib/stats.js';
import type { BenchSession } from './session.js';

/** Hopper's throughput must be at least this share of the bare handler's. */
export const OVERHEAD_GOAL = 0.9;

export interface OverheadResult {
  readonly jobsPerRun: number;
  readonly rounds: number;
  readonly hopperJobsPerSecond: readonly number[];
  readonly bareJobsPerSecond: readonly number[];
  readonly medianHopper: number;
  readonly medianBare: number;
  readonly ratio: number;
  /** Over the timed runs: mean billed ms per invocation, and DynamoDB requests per invocation of the worker. */
  readonly hopperMsPerInvocation: number;
  readonly bareMsPerInvocation: number;
  readonly hopperDynamoRequestsPerInvocation: number;
  readonly goal: string;
  readonly pass: boolean;
}

interface Side {
  readonly mapping: { readonly function: string; readonly source: string };
  readonly queueUrl: string;
  enqueue(count: number): Promise<void>;
}

async function timedRun(session: BenchSession, side: Side, jobs: number): Promise<number> {
  await session.pause(side.mapping);
  await side.enqueue(jobs);
  const started = performance.now();
  session.resume(side.mapping);
  const deadline = Date.now() + 120_000;
  while (!(await session.isEmpty(side.queueUrl))) {
    if (Date.now() > deadline) throw new Error(`overhead: ${jobs} jobs were not consumed within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return jobs / ((performance.now() - started) / 1000);
}

/** Alternates Hopper and bare runs, `rounds` of each, after one warm-up run of each. */
export async function measureOverhead(session: BenchSession, jobs: number, rounds: number, log: (line: string) => void): Promise<OverheadResult> {
  const mappingOf = (functionPrefix: string, queuePrefix: string) => {
    const mapping = session.local.mappings().find((candidate) => candidate.functionLogicalId.startsWith(functionPrefix) && candidate.sourceLogicalId.startsWith(queuePrefix));
    if (mapping === undefined) throw new Error(`the bench stack has no mapping from ${queuePrefix}* to ${functionPrefix}*`);
    return { function: mapping.functionLogicalId, source: mapping.sourceLogicalId };
  };
  const hopper: Side = {
    mapping: mappingOf('Worker', 'JobsQueuedefault'),
    queueUrl: session.queueUrl('JobsQueuedefault'),
    enqueue: async (count) => {
      const run = randomUUID().slice(0, 8);
      await session.client.enqueueMany(Array.from({ length: count }, (_, index) => ({ jobtype: 'Noop', args: [run, index] })));
    },
  };
  const bareUrl = session.queueUrl('BareQueue');
  const bare: Side = {
    mapping: mappingOf('Bare', 'BareQueue'),
    queueUrl: bareUrl,
    enqueue: async (count) => {
      const run = randomUUID().slice(0, 8);
      const bodies = Array.from({ length: count }, (_, index) => JSON.stringify({ jid: `${run}-${index}`, jobtype: 'Noop', args: [run, index], queue: 'bare' }));
      const chunks = Array.from({ length: Math.ceil(count / 10) }, (_, index) => bodies.slice(index * 10, index * 10 + 10));
      for (let start = 0; start < chunks.length; start += 8) {
        await Promise.all(chunks.slice(start, start + 8).map((chunk) => session.sqs.send(new SendMessageBatchCommand({
          QueueUrl: bareUrl,
          Entries: chunk.map((body, index) => ({ Id: String(index), MessageBody: body })),
        }))));
      }
    },
  };
  log('overhead: warm-up');
  await timedRun(session, hopper, jobs);
  await timedRun(session, bare, jobs);
  const before = session.snapshot();
  const hopperRates: number[] = [];
  const bareRates: number[] = [];
  for (let round_ = 0; round_ < rounds; round_ += 1) {
    hopperRates.push(await timedRun(session, hopper, jobs));
    bareRates.push(await timedRun(session, bare, jobs));
    log(`overhead: round ${round_ + 1}: hopper ${hopperRates.at(-1)?.toFixed(0)} jobs/s, bare ${bareRates.at(-1)?.toFixed(0)} jobs/s`);
  }
  const counts = diffCounts(session.snapshot(), before);
  const worker = counts.lambda[session.fn('Worker').name];
  const bareFunction = counts.lambda[session.fn('Bare').name];
  const msPerInvocation = (entry: LambdaCount | undefined) => (entry === undefined || entry.invocations === 0 ? Number.NaN : entry.billedMs / entry.invocations);
  // Only the worker and the functions it triggers touch DynamoDB in these runs.
  const dynamoRequests = Object.values(counts.dynamodb).reduce((sum, entry) => sum + entry.requests, 0);
  const medianHopper = median(hopperRates);
  const medianBare = median(bareRates);
  const ratio = medianHopper / medianBare;
  return {
    jobsPerRun: jobs,
    rounds,
    hopperJobsPerSecond: hopperRates.map((rate) => round(rate, 1)),
    bareJobsPerSecond: bareRates.map((rate) => round(rate, 1)),
    medianHopper: round(medianHopper, 1),
    medianBare: round(medianBare, 1),
    ratio: round(ratio, 3),
    hopperMsPerInvocation: round(msPerInvocation(worker), 1),
    bareMsPerInvocation: round(msPerInvocation(bareFunction), 1),
    hopperDynamoRequestsPerInvocation: round(dynamoRequests / (worker?.invocations ?? Number.NaN), 2),
    goal: `≥ ${OVERHEAD_GOAL}× bare`,
    pass: ratio >= OVERHEAD_GOAL,
  };
}
