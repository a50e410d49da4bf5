/**
 * Enqueue latency through the API function's URL on loopback: `clients` concurrent producers send
 * `requests` single-job enqueues in all (POST /v1/jobs) to the `latency` queue, which has no worker.
 * Latency is taken around each request, as the producer sees it, after a warm-up that starts every
 * instance the load needs.
 */
import { ApiClient } from '../../lib/api-client/index.js';
import { diffCounts } from '../lib/counts.js';
import { percentile, round } from '../lib/stats.js';
import type { BenchSession } from './session.js';

/** Goals set by the project for loopback (the issue names none): p50 and p99 in ms. */
export const API_LATENCY_GOALS = { p50Ms: 25, p99Ms: 100 } as const;

export interface ApiLatencyResult {
  readonly clients: number;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly requestsPerSecond: number;
  /** Inside the api function, over the timed load: mean billed ms per request, and its AWS requests by operation per request. */
  readonly functionMsPerRequest: number;
  readonly awsRequestsPerRequest: Readonly<Record<string, number>>;
  readonly goal: string;
  readonly pass: boolean;
}

async function load(api: ApiClient, clients: number, requests: number): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < requests) {
      const index = next;
      next += 1;
      const sent = performance.now();
      await api.enqueue({ jobtype: 'Noop', args: ['latency', index], queue: 'latency' });
      latencies.push(performance.now() - sent);
    }
  }));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

/** Measures enqueue latency under a bounded concurrent load. */
export async function measureApiLatency(session: BenchSession, clients: number, requests: number, log: (line: string) => void): Promise<ApiLatencyResult> {
  const api = new ApiClient({ url: session.local.functionUrl(session.fn('JobsApiFunction').logicalId) });
  log('api latency: warm-up');
  await load(api, clients, clients * 10);
  log(`api latency: ${requests} requests from ${clients} clients`);
  const before = session.snapshot();
  const { latencies, seconds } = await load(api, clients, requests);
  const counts = diffCounts(session.snapshot(), before);
  const fn = counts.lambda[session.fn('JobsApiFunction').name];
  // The worker-less queue sees no other traffic, so every SQS and DynamoDB request here is the api function's.
  const awsRequests = Object.fromEntries([...Object.entries(counts.sqs), ...Object.entries(counts.dynamodb)]
    .filter(([operation]) => operation !== 'ReceiveMessage')
    .map(([operation, entry]) => [operation, round(entry.requests / requests, 3)]));
  const p50Ms = percentile(latencies, 0.5);
  const p99Ms = percentile(latencies, 0.99);
  return {
    clients,
    requests,
    p50Ms: round(p50Ms, 2),
    p90Ms: round(percentile(latencies, 0.9), 2),
    p99Ms: round(p99Ms, 2),
    maxMs: round(Math.max(...latencies), 2),
    requestsPerSecond: round(requests / seconds, 1),
    functionMsPerRequest: round((fn?.billedMs ?? Number.NaN) / (fn?.invocations ?? Number.NaN), 1),
    awsRequestsPerRequest: awsRequests,
    goal: `p50 ≤ ${API_LATENCY_GOALS.p50Ms} ms, p99 ≤ ${API_LATENCY_GOALS.p99Ms} ms`,
    pass: p50Ms <= API_LATENCY_GOALS.p50Ms && p99Ms <= API_LATENCY_GOALS.p99Ms,
  };
}
