/**
 * One sweep in a process of its own, as the scheduler function runs it, with Hopper's environment
 * (the emulators' endpoints, the state table, the queue URLs) in the process environment.
 *
 * `node sweep-once.js <clock offset ms> <lanes> <helpers>`: a first sweep on the real clock finds
 * nothing due and warms the clients, as a warm function instance would be; then the clock moves by
 * the offset and one sweep moves what is due. With helpers, each share of a backlog goes to a
 * process of its own (`node sweep-once.js --helper <clock offset ms> <lanes>`, the request on its
 * stdin), as each helper invocation is a function instance of its own. Prints the wall time, the
 * CPU time of this process and of its helpers, and the sweep's counts, as JSON.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSchedulerHandler, type HelperRequest, type SweepResult } from '../../lib/scheduler/handler.js';

const args = process.argv.slice(2);
const helperMode = args[0] === '--helper';
const [offsetText, lanesText, helpersText = '0'] = helperMode ? args.slice(1) : args;
const offsetMs = Number(offsetText);
const lanes = Number(lanesText);
const helperCount = Number(helpersText);
if (!Number.isInteger(offsetMs) || !Number.isInteger(lanes) || lanes < 1 || !Number.isInteger(helperCount) || helperCount < 0) {
  throw new Error(`usage: sweep-once [--helper] <clock offset ms> <lanes> [helpers], but ${args.join(' ')} was given`);
}
const context = { awsRequestId: 'bench', getRemainingTimeInMillis: () => 900_000 };

if (helperMode) {
  const request = JSON.parse(await readStdin()) as HelperRequest;
  const handler = createSchedulerHandler({ now: () => new Date(Date.now() + offsetMs), lanes, log: () => undefined });
  const cpuBefore = process.cpuUsage();
  const result = await handler({ hopperSweep: request }, context);
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(`${JSON.stringify({ result, cpuUs: cpu.user + cpu.system })}\n`);
} else {
  let shiftMs = 0;
  let helperCpuUs = 0;
  const self = fileURLToPath(import.meta.url);
  const helper = async (request: HelperRequest): Promise<SweepResult> => {
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, [self, '--helper', String(offsetMs), String(lanes)], { maxBuffer: 1024 * 1024 }, (error, out) => (error === null ? resolve(out) : reject(error)));
      child.stdin?.end(JSON.stringify(request));
    });
    const output = JSON.parse(stdout) as { result: SweepResult; cpuUs: number };
    helperCpuUs += output.cpuUs;
    return output.result;
  };
  const handler = createSchedulerHandler({
    now: () => new Date(Date.now() + shiftMs), lanes, log: () => undefined,
    ...(helperCount > 0 ? { helper, maxHelpers: helperCount } : {}),
  });
  const warm = await handler({}, context);
  if (warm.due !== 0) throw new Error(`the warm-up sweep found ${warm.due} entries due; the entries must be further ahead`);
  shiftMs = offsetMs;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await handler({}, context);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(`${JSON.stringify({ result, wallMs, cpuUs: cpu.user + cpu.system, helperCpuUs })}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
