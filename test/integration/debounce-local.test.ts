/**
 * Debounce end to end on the local runtime: the demo stack (infra/app.ts) run from its synthesized
 * template, as `hopper dev` runs it, with its real worker function; jobs enqueued from the outside
 * with a `Client`, as a team's producer would.
 *
 * 100 jobs for one key over 10 s, each due 3 s after it was enqueued: only the last runs, once,
 * with its own payload; the 99 others are acknowledged unrun, and the key's item is gone after.
 */
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../lib/client/client.js';
import { isRecord } from '../../lib/job/model.js';
import { debounceKey } from '../../lib/storage/keys.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { dynamoClient, eventually, printRuntimeLogsOnFailure, sqsClient } from '../fixtures/local-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JOBS = 100;
const SPREAD_MS = 10_000;
const PERIOD_SECONDS = 3;

const logs = new LogCollector();
printRuntimeLogsOnFailure(logs);
let local: LocalRuntime;
let sqs: SQSClient;
let dynamo: DynamoDBClient;
let client: Client;

beforeAll(async () => {
  local = await startLocal({ projectDir: ROOT, stack: 'HopperDemo', logs: logs.sink });
  sqs = sqsClient(local);
  dynamo = dynamoClient(local);
  client = new Client({ env: { ...local.env, HOPPER_QUEUE_URLS: output('JobsQueueUrls'), HOPPER_STATE_TABLE: output('JobsStateTableName') }, sqs, dynamo });
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  dynamo?.destroy();
  await local?.stop();
});

function output(name: string): string {
  const value = local.outputs[name];
  if (value === undefined) throw new Error(`the demo stack has no output ${name} (it has ${Object.keys(local.outputs).join(', ')})`);
  return value;
}

/** JSON log lines of the demo worker (createLogger's format). */
function workerLines(): Record<string, unknown>[] {
  const worker = local.functions.filter((fn) => fn.logicalId.includes('Worker'));
  if (worker.length !== 1) throw new Error(`expected one worker function, found ${worker.map((fn) => fn.logicalId).join(', ') || 'none'}`);
  return logs.from(worker[0]?.logicalId ?? '').flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      return isRecord(parsed) ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

describe('debounce on the local runtime', () => {
  it(`runs ${JOBS} jobs for one key enqueued over ${SPREAD_MS / 1000} s exactly once, with the last payload`, async () => {
    const run = `debounce-${randomUUID()}`;
    const key = `test:${run}`;
    const jids: string[] = [];
    const startedMs = Date.now();
    for (let index = 0; index < JOBS; index += 1) {
      // Spread evenly over the span, whatever each enqueue took.
      const waitMs = startedMs + (index * SPREAD_MS) / (JOBS - 1) - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      jids.push(await client.enqueue({ jobtype: 'Greet', args: [`${run}-payload-${index}`], custom: { debounce: { key, period: PERIOD_SECONDS } } }));
    }
    const spreadMs = Date.now() - startedMs;

    const greetings = (): Record<string, unknown>[] => workerLines().filter((line) => typeof line.message === 'string' && line.message.startsWith(`hello, ${run}-`));
    const superseded = (): Record<string, unknown>[] => workerLines().filter((line) => line.debounce_key === key && line.message === 'superseded by a later job of its debounce key; acknowledged without running');
    await eventually(async () => (superseded().length >= JOBS - 1 && greetings().length > 0 ? true : undefined), 60_000, `${JOBS - 1} jobs superseded and one run`);
    // Time for a late duplicate or straggler to show: nothing more may run.
    await sleep(PERIOD_SECONDS * 1000);

    process.stdout.write(`debounce: ${JOBS} jobs enqueued over ${spreadMs} ms; ${greetings().length} run, ${superseded().length} superseded\n`);
    expect(greetings().map((line) => [line.jid, line.message])).toEqual([[jids.at(-1), `hello, ${run}-payload-${JOBS - 1}`]]);
    expect(new Set(superseded().map((line) => line.jid))).toEqual(new Set(jids.slice(0, -1)));
    const item = await dynamo.send(new GetItemCommand({ TableName: output('JobsStateTableName'), Key: { pk: { S: debounceKey(key).pk }, sk: { S: debounceKey(key).sk } }, ConsistentRead: true }));
    expect(item.Item).toBeUndefined();
  }, 180_000);
});
