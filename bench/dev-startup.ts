/**
 * Measures how long `hopper dev` takes from launch to ready (its `--json` line on stdout), on the
 * demo app, five times, and prints each run and the median. Each run is stopped with SIGINT and
 * must exit cleanly before the next starts.
 *
 * Run: `npx tsx bench/dev-startup.ts [--runs 5] [--app "<cdk app command>"] [--stack <name>]`
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, app: { type: 'string' }, stack: { type: 'string' } },
});
const runs = Number(values.runs);
const cli = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

interface Run {
  readonly readyMs: number;
  readonly reportedMs: number;
  readonly stopMs: number;
}

async function once(): Promise<Run> {
  const args = [cli, 'dev', '--json', '--quiet', ...(values.app === undefined ? [] : ['--app', values.app]), ...(values.stack === undefined ? [] : ['--stack', values.stack])];
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')));
    });
    void exited.then(() => reject(new Error(`hopper dev exited before it was ready:\n${stderr.slice(-2_000)}`)));
  });
  const readyMs = performance.now() - started;
  const summary: unknown = JSON.parse(line);
  const reported = typeof summary === 'object' && summary !== null ? Reflect.get(summary, 'startupMs') : undefined;
  const stopping = performance.now();
  child.kill('SIGINT');
  const code = await exited;
  if (code !== 0) throw new Error(`hopper dev exited with ${String(code)} on SIGINT:\n${stderr.slice(-2_000)}`);
  return { readyMs, reportedMs: typeof reported === 'number' ? reported : Number.NaN, stopMs: performance.now() - stopping };
}

const results: Run[] = [];
for (let index = 0; index < runs; index += 1) {
  const run = await once();
  results.push(run);
  process.stderr.write(`run ${index + 1}: ready in ${(run.readyMs / 1000).toFixed(2)} s (startLocal ${(run.reportedMs / 1000).toFixed(2)} s), stopped in ${(run.stopMs / 1000).toFixed(2)} s\n`);
}
const summary = {
  runs,
  medianReadyMs: Math.round(median(results.map((run) => run.readyMs))),
  medianStartLocalMs: Math.round(median(results.map((run) => run.reportedMs))),
  medianStopMs: Math.round(median(results.map((run) => run.stopMs))),
  readyMs: results.map((run) => Math.round(run.readyMs)),
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
