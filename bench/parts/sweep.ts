/**
 * Sweep throughput: how many due entries one sweep moves per second, and the CPU it spends on each,
 * on the emulators (fauxqs, DynamoDB Local), through the scheduler function's handler.
 *
 * For each configuration (lanes, helpers): `entries` jobs go into the scheduled set (written 25 to
 * a BatchWriteItem call, outside the measurement), then the scheduler's handler, bundled as the
 * construct bundles it, runs in a process of its own (bench/sweep/sweep-once.ts): a warm-up sweep
 * with nothing due, then one sweep with the clock moved so that every entry is due, its helpers
 * (if any) each a process of its own, started cold as a new function instance would be. Wall time
 * and the CPU time of the sweep's processes are taken around the second sweep alone. fauxqs runs in
 * this process and DynamoDB Local in its own, so the CPU figure is the sweep's own (the SDK's
 * requests, the planning, the JSON): what a sweep spends on AWS too. docs/cost.md turns it into the
 * throughput model for AWS.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { normalizeJob } from '../../lib/job/model.js';
import { toItem } from '../../lib/storage/set-items.js';
import { mapSettled } from '../../lib/common/concurrency.js';
import { startHarness } from '../../test/integration/support/harness.js';
import { bundleLikeConstruct } from '../lib/bundle.js';
import { field } from '../../lib/common/field.js';
import { round } from '../lib/stats.js';

const run = promisify(execFile);
const SWEEP_ENTRY = fileURLToPath(new URL('../sweep/sweep-once.ts', import.meta.url));

/** One sweep's configuration. */
export interface SweepSetup {
  readonly lanes: number;
  /** Most helpers the sweep hands a backlog to (0: none). */
  readonly helpers: number;
}

export interface SweepParameters {
  /** Due entries per run. */
  readonly entries: number;
  /** Configurations to run, one sweep each. */
  readonly setups: readonly SweepSetup[];
}

export const SWEEP_BENCH_DEFAULTS: SweepParameters = { entries: 10_000, setups: [{ lanes: 1, helpers: 0 }, { lanes: 8, helpers: 0 }, { lanes: 8, helpers: 3 }] };

/** One sweep's figures. */
export interface SweepRun {
  readonly lanes: number;
  readonly helpers: number;
  readonly moved: number;
  readonly wallMs: number;
  readonly entriesPerSecond: number;
  /** CPU (user + system) of the sweep's processes, its helpers' included, per entry moved. */
  readonly cpuUsPerEntry: number;
  /** Bytes of one stored entry, as DynamoDB sizes it (about). */
  readonly entryBytes: number;
}

export interface SweepBenchResult {
  readonly parameters: SweepParameters;
  readonly runs: readonly SweepRun[];
}

const AHEAD_MS = 20 * 60_000;

/**
 * Fills the scheduled set, sweeps once per lane count, and reports entries/s and CPU per entry.
 * `outDir` (in the project, where the AWS SDK resolves) takes the bundle.
 */
export async function measureSweep(outDir: string, parameters: SweepParameters, log: (line: string) => void = () => undefined): Promise<SweepBenchResult> {
  const { file: bundle } = await bundleLikeConstruct(SWEEP_ENTRY, outDir);
  const harness = await startHarness({ queues: ['default'] });
  try {
    const runs: SweepRun[] = [];
    for (const { lanes, helpers } of parameters.setups) {
      const base = Date.now() + AHEAD_MS;
      const items = Array.from({ length: parameters.entries }, (_, index) => {
        const job = normalizeJob({ jobtype: 'Tick', args: [lanes, helpers, index], at: new Date(base + (index % 60_000)).toISOString() }, { now: new Date() });
        return toItem('scheduled', { job, epochMs: base + (index % 60_000) });
      });
      const chunks = Array.from({ length: Math.ceil(items.length / 25) }, (_, index) => items.slice(index * 25, index * 25 + 25));
      const written = await mapSettled(chunks, 8, async (chunk) => {
        let pending = chunk.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length > 0) {
          const output = await harness.dynamo.send(new BatchWriteItemCommand({ RequestItems: { [harness.stateTable]: pending } }));
          pending = (output.UnprocessedItems?.[harness.stateTable] ?? []).flatMap((request) => (request.PutRequest?.Item === undefined ? [] : [{ PutRequest: { Item: request.PutRequest.Item } }]));
        }
      });
      const failed = written.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;

      // For the sweep, every entry is due within the next minute.
      const offset = Math.round(base - 5_000 - Date.now());
      const { stdout } = await run(process.execPath, [bundle, String(offset), String(lanes), String(helpers)], { env: { ...process.env, ...harness.env }, maxBuffer: 1024 * 1024 });
      const output: unknown = JSON.parse(stdout);
      const moved = field(field(output, 'result'), 'moved');
      const wallMs = field(output, 'wallMs');
      const ownCpuUs = field(output, 'cpuUs');
      const helperCpuUs = field(output, 'helperCpuUs');
      if (typeof moved !== 'number' || typeof wallMs !== 'number' || typeof ownCpuUs !== 'number' || typeof helperCpuUs !== 'number') throw new Error(`sweep: the sweep process printed ${stdout.slice(0, 300)}`);
      if (moved !== parameters.entries) throw new Error(`the sweep with ${lanes} lanes and ${helpers} helpers moved ${moved} of ${parameters.entries} entries: ${stdout}`);
      const cpuUs = ownCpuUs + helperCpuUs;
      const figures: SweepRun = {
        lanes,
        helpers,
        moved,
        wallMs: round(wallMs, 1),
        entriesPerSecond: round((moved * 1000) / wallMs, 0),
        cpuUsPerEntry: round(cpuUs / moved, 1),
        entryBytes: itemBytes(items[0] ?? {}),
      };
      log(`sweep: ${lanes} lanes, ${helpers} helpers, ${figures.moved} entries in ${figures.wallMs} ms = ${figures.entriesPerSecond}/s, ${figures.cpuUsPerEntry} µs CPU each`);
      runs.push(figures);
      await harness.sqs.send(new PurgeQueueCommand({ QueueUrl: harness.queueUrls.default }));
    }
    return { parameters, runs };
  } finally {
    await harness.stop();
  }
}

/** DynamoDB's item size, roughly: attribute names plus values as UTF-8. */
function itemBytes(item: Record<string, { S?: string; N?: string }>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value.S ?? value.N ?? ''), 0);
}
