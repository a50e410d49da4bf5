/**
 * `hopper top`: its frame, and the real command against an HTTP API whose counts move — in a
 * pseudo-terminal (util-linux `script`), where it redraws until `q`, and through a pipe, where it
 * prints one frame per interval.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topFrame } from '../../cli/commands/top.js';

const HOPPER = fileURLToPath(new URL('../../cli/hopper.ts', import.meta.url));
const NOW = Date.UTC(2026, 11, 5, 22, 3, 4);
const CLEAR = '\u001b[H\u001b[2J';

/** An API whose processed total grows by 7 at every `/v1/stats` request. */
let server: Server;
let url: string;
let statsCalls = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    if (request.url?.startsWith('/v1/stats')) {
      statsCalls += 1;
      response.end(JSON.stringify({ processed: 1000 + 7 * statsCalls, failed: 3, history: [{ minute: 'a', processed: 120, failed: 1 }, { minute: 'b', processed: 9, failed: 0 }] }));
    } else if (request.url === '/v1/busy') {
      response.end(JSON.stringify({ report_after_ms: 10_000, jobs: [{ jid: 'export-1', jobtype: 'Export', queue: 'default', elapsed_ms: 10_000 + 1_000 * statsCalls, progress: { percent: 40, message: 'part 2 of 5' } }] }));
    } else if (request.url === '/v1/queues') {
      response.end(JSON.stringify({ queues: [
        { name: 'default', size: 12, in_flight: 3, delayed: 0, latency: 0.42, drain_per_second: 2, paused: false },
        { name: 'critical', size: 0, in_flight: 0, delayed: 1, latency: null, drain_per_second: null, paused: true },
      ] }));
    } else {
      response.statusCode = 404;
      response.end(JSON.stringify({ error: { code: 'not_found', message: `no route for ${request.url}` } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => {
  server?.close();
});

/** Runs the hopper CLI through pipes, without blocking this process (which serves the API). */
async function hopper(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOPPER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { status, stdout, stderr };
}

describe('hopper top', () => {
  it('draws totals, the last full minute\'s rates and every queue', () => {
    const frame = topFrame(
      { processed: 12345, failed: 12, history: [{ processed: 2520, failed: 3 }, { processed: 40, failed: 0 }] },
      { queues: [{ name: 'default', size: 12, in_flight: 3, delayed: 0, latency: 0.42, drain_per_second: 41, paused: false }, { name: 'critical', size: 0, in_flight: 0, delayed: 2, latency: null, drain_per_second: null, paused: true }] },
      { report_after_ms: 10_000, jobs: [
        { jid: 'a1', jobtype: '請求書::送信', queue: 'default', elapsed_ms: 754_200, progress: { percent: 62.5, message: 'page 5 of 8' } },
        { jid: 'b22', jobtype: 'Import', queue: 'critical', elapsed_ms: 12_900 },
      ] },
      NOW, 2, true,
    );
    expect(frame.split('\n')).toEqual([
      'hopper top · 2026-12-05 22:03:04 UTC · every 2 s · q to quit',
      'processed 12,345 · failed 12 · last minute 2,520 processed (42.0/s), 3 failed',
      '',
      'QUEUE     SIZE  IN FLIGHT  DELAYED  LATENCY  DRAIN/S  STATE',
      'default   12    3          0        0.4s     41.0     running',
      'critical  0     0          2        -        -        paused',
      '',
      'running longer than 10 s: 2',
      'JID  JOBTYPE       QUEUE     RUNNING  PROGRESS',
      'a1   請求書::送信  default   754s     63% page 5 of 8',
      'b22  Import        critical  12s      -',
      '',
    ]);
    // An API without the busy route: the frame has no busy section.
    expect(topFrame({ processed: 1, failed: 0, history: [] }, { queues: [] }, undefined, NOW, 2, false)).not.toContain('running longer');
  });

  it('redraws in a terminal with counts that move, and quits on q', { timeout: 60_000 }, async () => {
    const command = `'${process.execPath}' --import tsx '${HOPPER}' top --url ${url} --interval 1`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const frames = () => output.split(CLEAR).slice(1);
    const deadline = Date.now() + 45_000;
    while (frames().length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const totals = frames().map((frame) => /processed ([\d,]+) · failed/.exec(frame)?.[1]);
    child.stdin.write('q');
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
    if (code === 'still running') child.kill('SIGKILL');

    expect(frames().length).toBeGreaterThanOrEqual(3);
    expect(new Set(totals).size).toBe(totals.length);
    expect(frames()[0]).toContain('q to quit');
    expect(frames()[0]).toMatch(/default\s+12\s+3\s+0\s+0\.4s\s+2\.0\s+running/);
    // The busy job's running time moves from frame to frame too.
    const running = frames().map((frame) => /export-1\s+Export\s+default\s+(\d+)s\s+40% part 2 of 5/.exec(frame)?.[1]);
    expect(running.every((seconds) => seconds !== undefined)).toBe(true);
    expect(new Set(running).size).toBe(running.length);
    expect(code).toBe(0);
  });

  it('prints one frame per interval through a pipe, without redrawing, and stops after --iterations', { timeout: 60_000 }, async () => {
    const result = await hopper(['top', '--url', url, '--interval', '1', '--iterations', '2']);
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain(CLEAR);
    expect(result.stdout.match(/^hopper top · /gm)).toHaveLength(2);
    expect(result.stdout).not.toContain('q to quit');
    const refused = await hopper(['top', '--url', url, '--interval', '0']);
    expect({ status: refused.status, stderr: refused.stderr }).toEqual({ status: 2, stderr: 'error: --interval must be an integer from 1 to 3600, but "0" was provided\nRun "hopper top --help" for usage.\n' });
  });
});
