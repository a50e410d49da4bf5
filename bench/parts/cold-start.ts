/**
 * Cold-start proxies: each function bundled the way the construct bundles it (HOPPER_BUNDLING:
 * minified ESM, the AWS SDK external, Node 24 target), its size, and the time a fresh Node process
 * takes to import it (the SDK resolved from node_modules, as Lambda's runtime provides it).
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { HOPPER_FUNCTIONS, hopperSource, type HopperFunctionName } from '../../infra/hopper-package.js';
import { ENV } from '../../lib/config/env.js';
import { STATS_ON } from '../../lib/stats/recorder.js';
import { BENCH_ENTRIES } from '../app/entries.js';
import { bundleLikeConstruct } from '../lib/bundle.js';
import { median, round } from '../lib/stats.js';

const run = promisify(execFile);

/**
 * Goals of issue #10, for the worker (the function users deploy once per queue): its bundle size
 * (KiB) and import time (ms). Hopper's own functions are measured and reported without a goal: each
 * needs SQS and DynamoDB on every invocation, so they load the SDK at import on purpose.
 */
export const COLD_START_GOALS = { workerKiB: 100, importMs: 50 } as const;

export interface BundleResult {
  readonly function: string;
  readonly bytes: number;
  readonly kib: number;
  readonly importMs: readonly number[];
  readonly medianImportMs: number;
  /** Packages the bundle imports when it loads (the AWS SDK clients), and the median time to import only them. */
  readonly externals: readonly string[];
  readonly medianExternalsImportMs: number;
  readonly goal: string;
  /** Undefined where there is no goal. */
  readonly pass: boolean | undefined;
}

/** The functions measured: the bench worker (createWorker and nothing else), the bare handler, Hopper's own. */
function entries(): [string, string][] {
  return [
    ['worker', BENCH_ENTRIES.worker],
    ['bare', BENCH_ENTRIES.bare],
    ...Object.keys(HOPPER_FUNCTIONS).map((name): [string, string] => [name, hopperSource(name as HopperFunctionName)]),
  ];
}

/** What the construct puts in a function's environment, with placeholder values (functions read it at import). */
const FUNCTION_ENV = {
  [ENV.queueUrls]: JSON.stringify({ default: 'https://sqs.us-east-1.amazonaws.com/123456789012/Bench-Default' }),
  [ENV.retriesQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/Bench-Retries',
  [ENV.stateTable]: 'Bench-State',
  [ENV.limitsTable]: 'Bench-Limits',
  [ENV.stats]: STATS_ON,
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

const IMPORT_SCRIPT = 'const started = performance.now(); for (const specifier of process.argv.slice(1)) await import(specifier); process.stdout.write(String(performance.now() - started));';

/** Milliseconds a fresh Node process takes to import `specifiers`, resolved from `dir`. */
async function importMs(specifiers: readonly string[], dir: string): Promise<number> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', IMPORT_SCRIPT, ...specifiers], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...FUNCTION_ENV },
  });
  const ms = Number(stdout);
  if (!Number.isFinite(ms)) throw new Error(`cold start: importing ${specifiers.join(', ')} printed ${JSON.stringify(stdout)}`);
  return ms;
}

/** Bundles every function into `outDir` and imports each `runs` times in fresh processes. */
export async function measureColdStart(outDir: string, runs: number, log: (line: string) => void): Promise<BundleResult[]> {
  const results: BundleResult[] = [];
  for (const [name, entry] of entries()) {
    const dir = join(outDir, name);
    const { file, externals } = await bundleLikeConstruct(entry, dir);
    const bytes = statSync(file).size;
    const samples: number[] = [];
    const externalSamples: number[] = [];
    for (let index = 0; index < runs; index += 1) {
      samples.push(await importMs([pathToFileURL(file).href], dir));
      externalSamples.push(await importMs(externals, dir));
    }
    const medianMs = median(samples);
    const medianExternalsMs = median(externalSamples);
    const kib = bytes / 1024;
    const isWorker = name === 'worker';
    log(`cold start: ${name} ${kib.toFixed(1)} KiB, import ${medianMs.toFixed(1)} ms (${externals.join(', ') || 'no packages'}: ${medianExternalsMs.toFixed(1)} ms)`);
    results.push({
      function: name,
      bytes,
      kib: round(kib, 1),
      importMs: samples.map((ms) => round(ms, 1)),
      medianImportMs: round(medianMs, 1),
      externals,
      medianExternalsImportMs: round(medianExternalsMs, 1),
      goal: isWorker ? `≤ ${COLD_START_GOALS.workerKiB} KiB, import ≤ ${COLD_START_GOALS.importMs} ms` : '—',
      pass: isWorker ? medianMs <= COLD_START_GOALS.importMs && kib <= COLD_START_GOALS.workerKiB : undefined,
    });
  }
  return results;
}
