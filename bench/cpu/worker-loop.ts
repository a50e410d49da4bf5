/**
 * The worker CPU loop, run bundled in its own Node process (bench/parts/worker-cpu.ts): times
 * `createWorker` on SQS batches of ten no-op jobs with stubbed AWS clients and prints each batch's
 * microseconds per job as JSON. Bundled like a function, so that it runs what Lambda runs, not
 * the TypeScript sources through a loader.
 *
 * argv: `<iterations> <warm-up iterations>`
 */
import { createStatsRecorder } from '../../lib/stats/recorder.js';
import { createWorker } from '../../lib/worker/index.js';
import { FakeSqs, lambdaContext, sqsRecord, TEST_ENV } from '../../test/unit/worker-fakes.js';

const BATCH_SIZE = 10;
const [iterations = 0, warmup = 0] = process.argv.slice(2).map(Number);

const stats = createStatsRecorder({ tableName: TEST_ENV.HOPPER_STATE_TABLE, client: { send: async () => ({ $metadata: {} }) } });
const handler = createWorker({ jobs: { Noop: () => undefined }, env: TEST_ENV, clients: { sqs: new FakeSqs() }, stats, log: () => undefined });
const context = lambdaContext();
const event = (iteration: number) => ({
  Records: Array.from({ length: BATCH_SIZE }, (_, index) => sqsRecord({
    body: { jid: `bench-${iteration}-${index}`, jobtype: 'Noop', args: [iteration, index], queue: 'default', retry: 25, created_at: new Date().toISOString(), enqueued_at: new Date().toISOString() },
  })),
});

for (let index = 0; index < warmup; index += 1) await handler(event(index), context);
const perJobUs: number[] = [];
for (let index = 0; index < iterations; index += 1) {
  const input = event(index);
  const started = performance.now();
  const response = await handler(input, context);
  perJobUs.push(((performance.now() - started) * 1000) / BATCH_SIZE);
  if (response.batchItemFailures.length > 0) throw new Error('worker cpu: the worker reported failures for no-op jobs');
}
process.stdout.write(JSON.stringify({ batchSize: BATCH_SIZE, perJobUs }));
