/**
 * One sweep in a process of its own, as the scheduler function runs it: `node sweep-once.js
 * <clock offset ms> <lanes>`, with Hopper's environment (the emulators' endpoints, the state table,
 * the queue URLs) in the process environment. A first sweep on the real clock finds nothing due
 * and warms the clients, as a warm function instance would be; then the clock moves by the offset,
 * one sweep moves what is due, and the process prints its wall time, its own CPU time and the
 * sweep's counts as JSON.
 */
import { createSchedulerHandler } from '../../lib/scheduler/handler.js';

const [offsetText, lanesText] = process.argv.slice(2);
const offsetMs = Number(offsetText);
const lanes = Number(lanesText);
if (!Number.isInteger(offsetMs) || !Number.isInteger(lanes) || lanes < 1) throw new Error(`usage: sweep-once <clock offset ms> <lanes>, but ${process.argv.slice(2).join(' ')} was given`);

let shiftMs = 0;
const handler = createSchedulerHandler({ now: () => new Date(Date.now() + shiftMs), lanes, log: () => undefined });
const context = { awsRequestId: 'bench', getRemainingTimeInMillis: () => 900_000 };
const warm = await handler({}, context);
if (warm.due !== 0) throw new Error(`the warm-up sweep found ${warm.due} entries due; the entries must be further ahead`);
shiftMs = offsetMs;
const cpuBefore = process.cpuUsage();
const started = performance.now();
const result = await handler({}, context);
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ result, wallMs, cpuUs: cpu.user + cpu.system })}\n`);
