/**
 * `hopper dev --demo`: enqueues a handful of the demo worker's jobs (infra/demo/worker.ts) so a
 * new user sees jobs run, fail and retry with backoff, and die.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { JobInput } from '../lib/job/model.js';
import { Client } from '../lib/client/client.js';
import { LOCAL_IDENTITY } from '../local/emulators.js';
import type { LocalRuntime } from '../local/runtime.js';
import { jobQueueUrls } from './summary.js';

/** The demo jobs: what each shows is in its comment. */
export const DEMO_JOBS: readonly JobInput[] = [
  // Run and succeed.
  { jobtype: 'Greet', args: ['Ada'] },
  { jobtype: 'Greet', args: ['Grace'], queue: 'critical' },
  { jobtype: 'Slow', args: [1_500] },
  // Fail about one time in five, then succeed on a retry.
  ...Array.from({ length: 5 }, (_, index): JobInput => ({ jobtype: 'SendEmail', args: [`user${index}@example.com`, 'welcome'] })),
  // Never succeed: dies at once (retry 0), or after two retries with Sidekiq's backoff (about a minute).
  { jobtype: 'AlwaysFails', args: [], retry: 0 },
  { jobtype: 'AlwaysFails', args: [], retry: 2 },
];

/**
 * Enqueues {@link DEMO_JOBS} into the stack's JobSystem queues; returns their jids.
 *
 * @throws Error when the stack has no JobSystem (no `*QueueUrls` output).
 */
export async function enqueueDemoJobs(local: LocalRuntime): Promise<string[]> {
  const queueUrls = jobQueueUrls(local.outputs);
  if (queueUrls === undefined) throw new Error(`stack ${local.stackName} has no JobSystem (no *QueueUrls output), so there is nowhere to enqueue demo jobs`);
  const sqs = new SQSClient({
    endpoint: local.endpoints.sqs,
    region: LOCAL_IDENTITY.region,
    credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    useQueueUrlAsEndpoint: false,
  });
  try {
    const client = new Client({ queueUrls, sqs, env: local.env });
    const known = new Set(Object.keys(queueUrls));
    return await client.enqueueMany(DEMO_JOBS.filter((job) => known.has(job.queue ?? 'default')));
  } finally {
    sqs.destroy();
  }
}
