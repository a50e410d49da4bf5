/**
 * Builds the counting preload for a directory of count files, and reads those files back.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { emptyCounts, sumCounts, type Counts } from '../lib/counts.js';

const PRELOAD_ENTRY = fileURLToPath(new URL('./preload.ts', import.meta.url));

/**
 * Bundles the preload into `outDir/preload.mjs`, writing counts to `countsDir`. `outDir` must be
 * inside the project, so that the preload finds the AWS SDK in its node_modules.
 *
 * @returns the preload's absolute path
 */
export async function buildCountingPreload(outDir: string, countsDir: string): Promise<string> {
  mkdirSync(countsDir, { recursive: true });
  const outfile = join(outDir, 'preload.mjs');
  await build({
    entryPoints: [PRELOAD_ENTRY],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['@aws-sdk/*'],
    define: { HOPPER_BENCH_COUNTS_DIR: JSON.stringify(countsDir) },
    logLevel: 'warning',
  });
  return outfile;
}

function isCounts(value: unknown): value is Counts {
  return typeof value === 'object' && value !== null && ['sqs', 'dynamodb', 'lambda'].every((key) => typeof Reflect.get(value, key) === 'object');
}

/** The sum of every function process's counts written so far. */
export function readFunctionCounts(countsDir: string): Counts {
  const all: Counts[] = [];
  for (const name of readdirSync(countsDir)) {
    if (!name.endsWith('.json')) continue;
    // Each file is replaced whole (written aside, then renamed), so it always parses.
    const parsed: unknown = JSON.parse(readFileSync(join(countsDir, name), 'utf8'));
    if (!isCounts(parsed)) throw new Error(`${name} in ${countsDir} does not hold counts`);
    all.push(parsed);
  }
  return all.length === 0 ? emptyCounts() : sumCounts(all);
}
