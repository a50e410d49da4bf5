/**
 * Ctrl-C stops `hopper dev` gracefully however it was started. A terminal's Ctrl-C sends SIGINT to
 * the whole foreground process group; under `npm run dev` that group holds npm, a shell, tsx's CLI
 * and the CLI process tsx starts — and tsx relays the signal to its child a moment later. Each run
 * here starts the CLI that way, in a process group of its own, signals the group once it is ready,
 * and checks that it said "stopped", exited 0 and left no cloud assembly and no process behind.
 *
 * The app is a ready-made assembly written by a tiny script through the CDK CLI, so the runs do
 * not spend their time synthesizing.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRecord } from '../../lib/job/model.js';
import { ROOT } from './polyglot-process.js';

const project = mkdtempSync(join(tmpdir(), 'hopper-signals-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

const APP = `node ${ROOT}test/fixtures/apps/instant-app.mjs`;
const TSX = `${ROOT}node_modules/tsx/dist/cli.mjs`;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What `--json` printed once ready. */
  readonly summary: Record<string, unknown>;
}

/**
 * Runs `command` in its own process group in `project`, waits for hopper dev's `--json` line,
 * sends SIGINT to the whole group (`relayAfterMs`: and once more after that long), and waits until
 * every output pipe closed.
 */
async function runAndInterrupt(command: string, args: readonly string[], relayAfterMs?: number): Promise<Run> {
  const child = spawn(command, [...args], { cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // A wrapper (npm) may exit before the process it started: wait for the pipes, not the exit.
  const closed = Promise.all([new Promise((resolve) => child.stdout.once('close', resolve)), new Promise((resolve) => child.stderr.once('close', resolve))]);
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 90 s:\n${stderr}`)), 90_000);
    child.stdout.on('data', () => {
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      resolve(stdout.slice(0, stdout.indexOf('\n')));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before it was ready:\n${stderr}`));
    });
  });
  const summary: unknown = JSON.parse(line);
  if (child.pid === undefined || !isRecord(summary)) throw new Error(`no process group or summary: ${line}`);
  const group = -child.pid;
  process.kill(group, 'SIGINT');
  if (relayAfterMs !== undefined) setTimeout(() => process.kill(group, 'SIGINT'), relayAfterMs);
  const code = await exited;
  await closed;
  return { code, stdout, stderr, summary };
}

/** Live processes whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (commandLine.includes(text)) found.push(`${entry}: ${commandLine}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function assemblies(): string[] {
  try {
    return readdirSync(join(project, '.hopper')).filter((name) => name.startsWith('cdk.out-'));
  } catch {
    return [];
  }
}

function dynamodbPort(summary: Record<string, unknown>): string {
  const endpoints = summary.endpoints;
  const url = isRecord(endpoints) && typeof endpoints.dynamodb === 'string' ? endpoints.dynamodb : '';
  return new URL(url).port;
}

describe('Ctrl-C on hopper dev', () => {
  it('under tsx (what npm run dev starts): stops gracefully once, says "stopped", exits 0 and leaves nothing behind', async () => {
    // What earlier runs left when they were killed: a directory of a process that no longer runs
    // (pid 2^22 + 1 is above Linux's largest pid) is removed; one of a running process is kept.
    const stale = 'cdk.out-4194305-abcdef';
    const running = `cdk.out-${process.pid}-abcdef`;
    for (const name of [stale, running]) mkdirSync(join(project, '.hopper', name), { recursive: true });

    // tsx's CLI relays a SIGINT to the process it runs unless that process acknowledges the signal
    // within 30 ms (a busy event loop does not): the second signal, 50 ms later, is that relay.
    const run = await runAndInterrupt(process.execPath, [TSX, `${ROOT}cli/hopper.ts`, 'dev', '--app', APP, '--json'], 50);
    const lines = run.stderr.split('\n');
    expect(run.code).toBe(0);
    expect(lines.filter((line) => line === '[hopper] SIGINT: stopping')).toHaveLength(1);
    expect(lines.at(-2)).toBe('[hopper] stopped');
    expect(assemblies()).toEqual([running]);
    rmSync(join(project, '.hopper', running), { recursive: true });
    expect(processesMentioning(project)).toEqual([]);
    expect(processesMentioning(`-port ${dynamodbPort(run.summary)}`)).toEqual([]);
  }, 120_000);

  it('under npm run: says "stopped" and leaves nothing behind', async () => {
    writeFileSync(join(project, 'package.json'), JSON.stringify({ private: true, scripts: { dev: `node ${TSX} ${ROOT}cli/hopper.ts dev --app "${APP}" --json` } }));
    const run = await runAndInterrupt('npm', ['run', '--silent', 'dev']);
    expect(run.stderr.split('\n')).toContain('[hopper] stopped');
    expect(assemblies()).toEqual([]);
    expect(processesMentioning(project)).toEqual([]);
    expect(processesMentioning(`-port ${dynamodbPort(run.summary)}`)).toEqual([]);
  }, 120_000);

});
