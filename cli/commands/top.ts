/**
 * `hopper top`: a live view of the job system in the terminal, like `top`: totals and the last
 * minute's rates, every queue's size, jobs in flight, delayed jobs, latency, drain rate and state,
 * and the jobs running longer than ten seconds (`GET /v1/busy`), longest first, redrawn every `--interval` seconds until `q` (or Ctrl-C). When stdout is not a terminal it
 * prints one frame per interval instead (`--iterations` of them, or one with `--once`), for logs.
 */
import type { Command } from './command.js';
import { targetOf } from './command.js';
import { call, cell, fieldOf, listOf, usageError, type ApiCaller, type CliIO } from './io.js';
import { intOption, parseCommand } from './options.js';
import { renderTable } from './table.js';

/** The terminal `hopper top` draws on, when stdout is one. */
export interface TopTerminal {
  /** Calls `listener` with each key pressed (raw mode); returns a function that stops that. */
  onKey(listener: (key: string) => void): () => void;
}

/** Clears the screen and puts the cursor at its top left. */
const CLEAR = '\u001b[H\u001b[2J';

/** Busy jobs a frame lists at most. */
const BUSY_ROWS = 10;

/**
 * One frame, from the answers of `GET /v1/stats?minutes=2`, `GET /v1/queues` and `GET /v1/busy`
 * (undefined from an API without that route: no busy section).
 */
export function topFrame(stats: unknown, queues: unknown, busy: unknown, nowMs: number, intervalSeconds: number, interactive: boolean): string {
  const history = listOf(stats, 'history');
  // The last full minute (the current one is still filling).
  const minute = history.at(-2) ?? history.at(-1);
  const processed = typeof minute?.processed === 'number' ? minute.processed : 0;
  const failed = typeof minute?.failed === 'number' ? minute.failed : 0;
  const when = new Date(nowMs).toISOString().slice(0, 19).replace('T', ' ');
  const lines = [
    `hopper top · ${when} UTC · every ${intervalSeconds} s${interactive ? ' · q to quit' : ''}`,
    `processed ${count(fieldOf(stats, 'processed'))} · failed ${count(fieldOf(stats, 'failed'))} · last minute ${count(processed)} processed (${(processed / 60).toFixed(1)}/s), ${count(failed)} failed`,
    '',
  ];
  const table = renderTable(listOf(queues, 'queues'), [
    { header: 'QUEUE', value: (queue) => cell(queue.name) },
    { header: 'SIZE', value: (queue) => count(queue.size) },
    { header: 'IN FLIGHT', value: (queue) => count(queue.in_flight) },
    { header: 'DELAYED', value: (queue) => count(queue.delayed) },
    { header: 'LATENCY', value: (queue) => (typeof queue.latency === 'number' ? `${queue.latency.toFixed(1)}s` : '-') },
    { header: 'DRAIN/S', value: (queue) => (typeof queue.drain_per_second === 'number' ? queue.drain_per_second.toFixed(1) : '-') },
    { header: 'STATE', value: (queue) => (queue.paused === null ? 'no worker' : queue.paused === true ? 'paused' : 'running') },
  ], '(no queues)');
  if (busy === undefined) return `${lines.join('\n')}\n${table}`;
  const jobs = listOf(busy, 'jobs');
  const after = fieldOf(busy, 'report_after_ms');
  const running = renderTable(jobs.slice(0, BUSY_ROWS), [
    { header: 'JID', value: (job) => cell(job.jid) },
    { header: 'JOBTYPE', value: (job) => cell(job.jobtype), max: 40 },
    { header: 'QUEUE', value: (job) => cell(job.queue) },
    { header: 'RUNNING', value: (job) => (typeof job.elapsed_ms === 'number' ? `${Math.floor(job.elapsed_ms / 1000)}s` : '-') },
    { header: 'PROGRESS', value: (job) => progressOf(job.progress), max: 50 },
  ], '(none)');
  const more = jobs.length > BUSY_ROWS ? `… and ${count(jobs.length - BUSY_ROWS)} more\n` : '';
  const title = `running longer than ${typeof after === 'number' ? Math.round(after / 1000) : 10} s: ${count(jobs.length)}`;
  return `${lines.join('\n')}\n${table}\n${title}\n${running}${more}`;
}

function progressOf(progress: unknown): string {
  const percent = fieldOf(progress, 'percent');
  if (typeof percent !== 'number') return '-';
  const message = fieldOf(progress, 'message');
  return `${Math.round(percent)}%${typeof message === 'string' ? ` ${message}` : ''}`;
}

function count(value: unknown): string {
  return typeof value === 'number' ? value.toLocaleString('en-US') : '-';
}

/** Builds the command for a terminal (or none). */
export function topCommand(terminal: () => TopTerminal | undefined): Command {
  return {
    name: 'top',
    summary: 'a live view of totals, rates and every queue, redrawn until q',
    usage: `Usage: hopper top [--interval 2] [--iterations <n>] [--once]

Options:
  --interval <s>       seconds between two frames, 1 to 3600 (default 2)
  --iterations <n>     stop after n frames
  --once               one frame, then exit (as --iterations 1)
`,
    async run(args, ctx) {
      const { values, positionals } = parseCommand(args, { interval: { type: 'string' }, iterations: { type: 'string' }, once: { type: 'boolean' } });
      if (positionals.length > 0) throw usageError(`top takes no arguments, but ${JSON.stringify(positionals[0])} was provided`);
      if (values.json) throw usageError('top draws a live view; use hopper stats --json and hopper queues --json for JSON');
      const intervalSeconds = intOption(values.interval, 'interval', 1, 3600) ?? 2;
      const iterations = values.once === true ? 1 : intOption(values.iterations, 'iterations', 1, 1_000_000);
      const api = await ctx.connect(targetOf(values));
      const screen = iterations === 1 ? undefined : terminal();
      let quit: () => void = () => undefined;
      const quitting = new Promise<void>((resolve) => { quit = resolve; });
      const stopKeys = screen?.onKey((key) => { if (key === 'q' || key === 'Q' || key === '\u0003') quit(); });
      try {
        for (let frame = 1; ; frame += 1) {
          const [stats, queues, busy] = await Promise.all([call(api, 'GET', '/v1/stats?minutes=2'), call(api, 'GET', '/v1/queues'), busyOf(api)]);
          draw(ctx.io, topFrame(stats, queues, busy, ctx.now(), intervalSeconds, screen !== undefined), screen !== undefined, frame);
          if (iterations !== undefined && frame >= iterations) return;
          const stop = await Promise.race([quitting.then(() => true), new Promise<boolean>((resolve) => { setTimeout(() => resolve(false), intervalSeconds * 1000); })]);
          if (stop) return;
        }
      } finally {
        stopKeys?.();
      }
    },
  };
}

/** `GET /v1/busy`, or undefined from an API that has no such route (an older stack). */
async function busyOf(api: ApiCaller): Promise<unknown> {
  const response = await api.request('GET', '/v1/busy').catch(() => undefined);
  return response?.status === 200 ? response.body : undefined;
}

function draw(io: CliIO, frame: string, redraw: boolean, index: number): void {
  if (redraw) io.stdout(`${CLEAR}${frame}`);
  else io.stdout(`${index === 1 ? '' : '\n'}${frame}`);
}

/** The terminal of this process, when both stdin and stdout are one. */
export function processTerminal(): TopTerminal | undefined {
  if (process.stdout.isTTY !== true || process.stdin.isTTY !== true) return undefined;
  return {
    onKey(listener) {
      const onData = (data: Buffer) => listener(data.toString('utf8'));
      process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', onData);
      return () => {
        process.stdin.off('data', onData);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      };
    },
  };
}
