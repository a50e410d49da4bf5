/**
 * One behavioural suite, run against the TypeScript worker and the Python worker alike, both
 * deployed from the synthesized template of test/fixtures/stacks/polyglot-stack.ts and run by the
 * local runtime (the Python one under the Lambda Runtime API, from the asset `pythonWorkerCode`
 * builds). Whatever a job does, it must do it the same way in both languages.
 */
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../lib/client/client.js';
import { randomFromText } from '../../lib/common/random.js';
import { NotUniqueError } from '../../lib/errors/unique.js';
import { isRecord } from '../../lib/job/model.js';
import { retryDelaySeconds } from '../../lib/retry/policy.js';
import { StateTable, type SetEntry } from '../../lib/storage/index.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { eventually, logicalIdOf, maxOverlap, printRuntimeLogsOnFailure } from '../fixtures/local-helpers.js';
import { WORKER_LANGUAGES } from '../fixtures/stacks/polyglot-stack.js';
import { PYTHON } from './polyglot-process.js';

const logs = new LogCollector();
let local: LocalRuntime;
let client: Client;
let sqs: SQSClient;
let dynamo: DynamoDBClient;
let table: StateTable;

beforeAll(async () => {
  local = await startLocal({ app: 'npx tsx test/fixtures/polyglot-app.ts', stack: 'PolyglotWorkers', logs: logs.sink, python: PYTHON });
  const stateTable = local.tableName(logicalIdOf(local.tables, 'JobsStateTable'));
  client = new Client({ env: { ...local.env, HOPPER_QUEUE_URLS: local.outputs.JobsQueueUrls ?? '', HOPPER_STATE_TABLE: stateTable } });
  const credentials = { accessKeyId: local.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY ?? '' };
  sqs = new SQSClient({ endpoint: local.endpoints.sqs, region: local.env.AWS_REGION, credentials });
  dynamo = new DynamoDBClient({ endpoint: local.endpoints.dynamodb, region: local.env.AWS_REGION, credentials });
  table = new StateTable(dynamo, stateTable);
}, 180_000);

afterAll(async () => {
  sqs?.destroy();
  dynamo?.destroy();
  await local?.stop();
});

printRuntimeLogsOnFailure(logs);

/** A run, as the `ran` line of either worker says. */
interface Run {
  readonly lang: string;
  readonly start?: number;
  readonly end?: number;
  readonly jid: string;
  readonly jobtype: string;
  readonly args: readonly unknown[];
  readonly retry_count: number;
  readonly at: number;
}

/** The JSON lines the functions printed. */
function lines(): Record<string, unknown>[] {
  return logs.jsonObjects();
}

function runsOf(jid: string): Run[] {
  return lines().filter((line) => line.message === 'ran' && line.jid === jid).map((line) => line as unknown as Run);
}

async function deadEntry(jid: string, timeoutMs: number): Promise<SetEntry> {
  return eventually(async () => (await table.readSetRange('dead', { limit: 1000 })).entries.find((entry) => entry.jid === jid), timeoutMs, `${jid} in the dead set`);
}

describe.each(WORKER_LANGUAGES)('the %s worker', (lang) => {
  it('runs a job once and keeps its result', async () => {
    const jid = await client.enqueue({ jobtype: 'Record', args: ['hello', 1], queue: lang, custom: { result: true } });
    const status = await eventually(async () => {
      const found = await client.status(jid);
      return found?.state === 'succeeded' ? found : undefined;
    }, 30_000, `${jid} to succeed`);
    expect(status.result).toEqual({ lang, args: ['hello', 1] });
    expect(runsOf(jid).map((run) => [run.lang, run.args])).toEqual([[lang, ['hello', 1]]]);
  });

  it("publishes the run's CloudWatch metrics in the Embedded Metric Format, as the other worker does", async () => {
    await client.enqueue({ jobtype: 'Refuse', args: [], queue: lang });
    const emf = await eventually(async () => {
      const found = lines().filter((line) => isRecord(line._aws) && line.Queue === lang && line.JobType === 'Refuse');
      return found.length > 0 ? found : undefined;
    }, 30_000, `the metrics of ${lang}`);
    const line = emf[0] ?? {};
    expect(line._aws).toMatchObject({ CloudWatchMetrics: [{ Namespace: 'Hopper', Dimensions: [['Queue'], ['Queue', 'JobType']] }] });
    expect(line).toMatchObject({ Processed: 1, Failed: 1 });
    expect(Array.isArray(line.Duration) && Array.isArray(line.Latency)).toBe(true);
    const units = (line._aws as { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] }).CloudWatchMetrics[0]?.Metrics;
    expect(units).toEqual(expect.arrayContaining([{ Name: 'Processed', Unit: 'Count' }, { Name: 'Failed', Unit: 'Count' }, { Name: 'Duration', Unit: 'Milliseconds' }, { Name: 'Latency', Unit: 'Milliseconds' }]));
  });

  it('counts its successes in the stats rollup of its queue', { timeout: 60_000 }, async () => {
    const stateTable = local.tableName(logicalIdOf(local.tables, 'JobsStateTable'));
    // An instance writes its first counts at once, later ones at the end of an invocation once they
    // are 10 s old: a job every 2 s keeps invocations coming until they are written.
    const rollup = await eventually(async () => {
      await client.enqueue({ jobtype: 'Record', args: ['tick'], queue: lang });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const { Items = [] } = await dynamo.send(new QueryCommand({ TableName: stateTable, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'stats' } }, ConsistentRead: true }));
      return Items.find((item) => item.sk?.S?.endsWith(`#w#${lang}`) && Number(item.p?.N ?? 0) > 0);
    }, 45_000, `a stats rollup of queue ${lang}`);
    expect(rollup.lag_at?.N).toMatch(/^\d{13}$/);
  });

  it("retries a failure after Sidekiq's delay, then buries it with its error class", { timeout: 90_000 }, async () => {
    const jid = await client.enqueue({ jobtype: 'Decline', args: ['4242'], queue: lang, retry: 1 });
    const dead = await deadEntry(jid, 75_000);
    expect(dead.reason).toEqual({ errtype: 'PaymentDeclined', message: 'card 4242 declined' });
    expect(dead.job).toMatchObject({ jobtype: 'Decline', queue: lang, retry: 1, failure: { retry_count: 1 } });
    const runs = runsOf(jid);
    expect(runs.map((run) => run.retry_count)).toEqual([-1, 0]);
    // The worker sent that retry back to its queue itself, with the delay the retry function
    // computes (Sidekiq's first: 0^4 + 15 + rand(10) × 1 seconds), and it did not run before it.
    const sent = lines().filter((line) => line.jid === jid && line.message === 'retry enqueued');
    const delay = retryDelaySeconds(0, randomFromText(`${jid}#0`));
    expect(sent.map((line) => line.delay_s)).toEqual([delay]);
    expect(delay).toBeGreaterThanOrEqual(15);
    const waited = ((runs[1]?.at ?? 0) - (runs[0]?.at ?? 0)) / 1000;
    expect(waited).toBeGreaterThanOrEqual(delay);
  });

  it('buries an unrecoverable failure at once', async () => {
    const jid = await client.enqueue({ jobtype: 'Refuse', args: [], queue: lang });
    const dead = await deadEntry(jid, 30_000);
    expect(dead.reason).toEqual({ errtype: 'UnrecoverableJobError', message: 'refused on purpose' });
    expect(runsOf(jid)).toHaveLength(1);
  });

  it('buries a body that is not a job, under its message id, without running anything', async () => {
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl(lang), MessageBody: '{"jobtype": 42}' }));
    const dead = await deadEntry(sent.MessageId ?? '', 30_000);
    expect(dead.reason?.errtype).toBe('InvalidJobError');
    expect(dead.reason?.message).toContain('jobtype');
  });

  it('buries a job whose arguments do not match its schema, without running it', async () => {
    const jid = await client.enqueue({ jobtype: 'Typed', args: ['ada', '3'], queue: lang });
    const dead = await deadEntry(jid, 30_000);
    expect(dead.reason?.errtype).toBe('InvalidJobArgsError');
    expect(dead.reason?.message).toMatch(/^Typed: its arguments do not match the job's schema: args\[1\]: expected an integer/);
    const ok = await client.enqueue({ jobtype: 'Typed', args: ['ada', 3], queue: lang });
    await eventually(async () => (runsOf(ok).length === 1 ? true : undefined), 30_000, `${ok} to run`);
    expect(runsOf(jid)).toEqual([]);
  });

  it('runs an iterating job as slices through its queue, each item once', { timeout: 60_000 }, async () => {
    const jid = await client.enqueue({ jobtype: 'Iterate', args: [8], queue: lang });
    await eventually(async () => (runsOf(jid).length === 1 ? true : undefined), 50_000, `${jid} to finish`);
    const items = lines().filter((line) => line.jid === jid && line.message === 'item').map((line) => line.item);
    expect(items).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const stateTable = local.tableName(logicalIdOf(local.tables, 'JobsStateTable'));
    // The last slice marks the iteration done just after complete() printed its line.
    const item = await eventually(async () => {
      const { Item: read } = await dynamo.send(new GetItemCommand({ TableName: stateTable, Key: { pk: { S: `iter#${jid}` }, sk: { S: 'cursor' } }, ConsistentRead: true }));
      return read?.state?.S === 'done' ? read : undefined;
    }, 10_000, `the iteration of ${jid} to be marked done`);
    expect(item?.items?.N).toBe('8');
    // Slices of at most 300 ms over items of 100 ms: at least three.
    expect(Number(item?.slices?.N)).toBeGreaterThanOrEqual(3);
  });

  it('drops an expired job without running it', async () => {
    const jid = `expired-${lang}-${Date.now()}`;
    const body = JSON.stringify({ jid, jobtype: 'Record', args: ['late'], queue: lang, created_at: new Date().toISOString(), custom: { expires_at: new Date(Date.now() - 1_000).toISOString() } });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl(lang), MessageBody: body }));
    await eventually(async () => (lines().some((line) => line.jid === jid && line.message === 'job expired; dropped without running') ? true : undefined), 30_000, `${jid} dropped`);
    expect(runsOf(jid)).toEqual([]);
  });

  it('releases a unique lock when the job succeeds', async () => {
    // The job runs for 3 s, so the lock is still held when the second copy is offered, however soon the job is delivered.
    const unique = { jobtype: 'Slow', args: [3_000, 'unique', lang, Date.now()], queue: lang, custom: { unique_for: 300 } };
    const jid = await client.enqueue(unique);
    const refused = await client.enqueue(unique).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(NotUniqueError);
    await eventually(async () => (runsOf(jid).length === 1 ? true : undefined), 30_000, `${jid} to run`);
    // Released by the worker after the run: the same job may be enqueued again.
    const again = await eventually(async () => client.enqueue(unique).then((next) => next, () => undefined), 15_000, 'the lock to be released');
    expect(again).not.toBe(jid);
  });

  it("counts a batch's successes and runs each callback once, even when a callback is delivered twice", { timeout: 60_000 }, async () => {
    const bid = `poly-${lang}-${Date.now()}`;
    const callback = (event: string) => ({ jobtype: 'Callback', args: [event], queue: lang });
    const batch = await client.batch({ bid, onSuccess: callback('success'), onComplete: callback('complete') }, (filling) =>
      filling.add(Array.from({ length: 3 }, (_, index) => ({ jobtype: 'Record', args: [index], queue: lang }))));
    const successJid = `${bid}-success`;
    await eventually(async () => (runsOf(successJid).length > 0 && runsOf(`${bid}-complete`).length > 0 ? true : undefined), 45_000, `${bid}'s callbacks`);
    expect(await batch.status()).toMatchObject({ total: 3, pending: 0, succeeded: 3, failures: 0 });
    // A second copy of the success callback (as the batch function sends after a crash) is not run.
    const copy = JSON.stringify({ jid: successJid, jobtype: 'Callback', args: ['success'], queue: lang, created_at: new Date().toISOString(), custom: { callback: { bid, event: 'success' } } });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl(lang), MessageBody: copy }));
    await eventually(async () => (lines().some((line) => line.jid === successJid && line.message === 'batch callback job already ran; this copy is not run') ? true : undefined), 30_000, 'the copy to be refused');
    expect(runsOf(successJid)).toHaveLength(1);
    expect(runsOf(`${bid}-complete`)).toHaveLength(1);
  });
});

describe('a limiter used by both workers', () => {
  it('is one limit: the runs of both languages together never exceed it', { timeout: 150_000 }, async () => {
    // A round is 6 jobs per language. Which worker takes the two leases when is up to the machine's
    // load, so rounds go on (at most three) until a run of one language overlapped one of the
    // other: only then does the limit show it is shared. In every round the limit holds.
    let crossed = false;
    for (let round = 0; round < 3 && !crossed; round += 1) {
      const jids = await Promise.all(WORKER_LANGUAGES.flatMap((lang) => Array.from({ length: 6 }, () => client.enqueue({ jobtype: 'Limited', args: [400], queue: lang }))));
      const runs = await eventually(async () => {
        const found = jids.flatMap((jid) => runsOf(jid));
        return found.length === jids.length ? found : undefined;
      }, 45_000, 'every Limited job to run');
      expect(new Set(runs.map((run) => run.lang))).toEqual(new Set(WORKER_LANGUAGES));
      // The limit is 2 for the two languages together.
      expect(maxOverlap(intervalsOf(runs))).toBeLessThanOrEqual(2);
      crossed = runs.some((run) => runs.some((other) => other.lang !== run.lang && overlaps(run, other)));
    }
    expect(crossed).toBe(true);
  });

  for (const [first, second] of [['py', 'ts'], ['ts', 'py']] as const) {
    it(`is one points bucket: what the ${first} worker took, the ${second} worker cannot take again`, { timeout: 60_000 }, async () => {
      const name = `spend-${first}-${Date.now()}`;
      const took = await client.enqueue({ jobtype: 'Spend', args: [name, 6], queue: first });
      await eventually(async () => (runsOf(took).length === 1 ? true : undefined), 30_000, `${took} to take 6 of 10 points`);
      const turnedAway = await client.enqueue({ jobtype: 'Spend', args: [name, 6], queue: second });
      const line = await eventually(async () => lines().find((entry) => entry.jid === turnedAway && entry.message === 'rate limited; job delayed'), 30_000, `${turnedAway} to be turned away`);
      expect(runsOf(turnedAway)).toEqual([]);
      // 4 points were left and 1 drips in per minute: 6 are there 2 minutes after the first took
      // its points (less the seconds since, plus the reschedule's jitter of up to 5 s).
      expect(line.delay_s).toBeGreaterThanOrEqual(90);
      expect(line.delay_s).toBeLessThanOrEqual(125);
    });

    it(`is one throttle: a key's start on the ${first} worker holds its next job back on the ${second} worker`, { timeout: 60_000 }, async () => {
      const throttle = { key: `sync-${first}-${Date.now()}`, limit: 1, per: 'hour' } as const;
      const started = await client.enqueue({ jobtype: 'Record', args: ['first'], queue: first, custom: { throttle } });
      await eventually(async () => (runsOf(started).length === 1 ? true : undefined), 30_000, `${started} to start within the throttle`);
      const held = await client.enqueue({ jobtype: 'Record', args: ['second'], queue: second, custom: { throttle } });
      const line = await eventually(async () => lines().find((entry) => entry.jid === held && entry.message === 'held back by its limits; job delayed'), 30_000, `${held} to be held back`);
      expect(runsOf(held)).toEqual([]);
      // The next start is an hour away: the delay is SQS's longest.
      expect({ limiter: line.limiter, delay_s: line.delay_s, held_count: line.held_count }).toEqual({ limiter: `hopper.throttle:${throttle.key}`, delay_s: 900, held_count: 1 });
    });
  }
});

describe.each(WORKER_LANGUAGES)("a queue of the %s worker capped at one job (maxConcurrency: 1)", (lang) => {
  it('runs its jobs one at a time', { timeout: 60_000 }, async () => {
    const jids = await Promise.all(Array.from({ length: 4 }, () => client.enqueue({ jobtype: 'Slow', args: [500], queue: `${lang}cap` })));
    const runs = await eventually(async () => {
      const found = jids.flatMap((jid) => runsOf(jid));
      return found.length === jids.length ? found : undefined;
    }, 50_000, `the ${lang}cap jobs`);
    expect(maxOverlap(intervalsOf(runs))).toBe(1);
    // Each job held a lease of the queue's limiter: the item records how long the last one was held.
    // The last lease is given back just after its job's line is printed.
    const Item = await eventually(async () => {
      const { Item: item } = await dynamo.send(new GetItemCommand({ TableName: local.tableName(logicalIdOf(local.tables, 'JobsLimitsTable')), Key: { pk: { S: `limiter#hopper.queue:${lang}cap` }, sk: { S: 'concurrent' } }, ConsistentRead: true }));
      return item?.n?.N === '0' ? item : undefined;
    }, 10_000, `every lease of ${lang}cap to be given back`);
    expect(Number(Item.h?.N)).toBeGreaterThanOrEqual(500);
  });
});

/** When each run started and ended (the `Slow` lines say). */
function intervalsOf(runs: readonly Run[]): { start: number; end: number }[] {
  return runs.map((run) => {
    if (run.start === undefined || run.end === undefined) throw new Error(`run ${run.jid} has no start and end`);
    return { start: run.start, end: run.end };
  });
}

function overlaps(a: Run, b: Run): boolean {
  return (a.start ?? 0) < (b.end ?? 0) && (b.start ?? 0) < (a.end ?? 0);
}

/** The URL of the JobSystem's queue `name`, from the stack's output. */
function queueUrl(name: string): string {
  const urls: unknown = JSON.parse(local.outputs.JobsQueueUrls ?? '{}');
  const url = isRecord(urls) ? urls[name] : undefined;
  if (typeof url !== 'string') throw new Error(`the stack has no queue ${name}`);
  return url;
}
