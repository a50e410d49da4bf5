/**
 * Enqueues one job from outside AWS Lambda, e.g. against `hopper dev` with the environment it
 * prints (`npx hopper dev --json`: the `env` object).
 *
 * Usage: tsx scripts/enqueue.ts <jobtype> '<args as JSON array>' [retry]
 */
import { Client } from 'hopper-jobs/client';

const [jobtype, argsJson = '[]', retry] = process.argv.slice(2);
if (jobtype === undefined) throw new Error("usage: tsx scripts/enqueue.ts <jobtype> '<args as JSON array>' [retry]");
const args: unknown = JSON.parse(argsJson);
if (!Array.isArray(args)) throw new Error(`args must be a JSON array, but ${argsJson} was provided`);

const client = new Client();
const jid = await client.enqueue({ jobtype, args, ...(retry === undefined ? {} : { retry: Number(retry) }) });
process.stdout.write(`${jid}\n`);
