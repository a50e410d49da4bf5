/**
 * One chaos run on the local runtime: starts the chaos fixture stack with the fault-injection
 * preload in every Node.js function (and its Python counterpart, python-faults/sitecustomize.py, in
 * every Python function), enqueues the plan (test/chaos/plan.ts), shifts the clock to the jobs
 * scheduled 20 minutes ahead, waits until nothing moves any more, and judges the end state with the
 * invariant checker. Used by test/chaos/chaos.test.ts and bench/chaos.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Client, NotUniqueError } from '../../lib/client/client.js';
import { readBatches } from '../../lib/batch/store.js';
import { EnqueueError } from '../../lib/enqueue/enqueue.js';
import { isRecord, serializeJob, normalizeJob, type JobInput } from '../../lib/job/model.js';
import { StateTable } from '../../lib/storage/index.js';
import type { SortedSetName } from '../../lib/storage/keys.js';
import { LogCollector, RUNTIME_SOURCE } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { dynamoClient, sqsClient } from '../fixtures/local-helpers.js';
import { PYTHON } from '../integration/polyglot-process.js';
import { queueCounts } from '../integration/support/harness.js';
import { checkInvariants, type InvariantReport, type SinkLine } from './invariants.js';
import { chaosPlan, type ChaosJob, type ChaosPlan, type ChaosSizes } from './plan.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./faults-preload.mjs', import.meta.url));
const MINUTE = 60_000;
/** How far ahead the "later" jobs are scheduled, and how far the run then shifts the clock. */
const LATER_MS = 20 * MINUTE;
/** Python functions find the fault injector (sitecustomize.py) on PYTHONPATH. */
const PYTHON_FAULTS_DIR = fileURLToPath(new URL('./python-faults', import.meta.url));

/**
 * Batches in flight per event source mapping, and instances per function, on the local runtime.
 * Every instance runs on this machine's cores, where on AWS each has its own CPU: with the runtime's
 * defaults (5 batches per mapping, 7 mappings, 10 instances per function) a starved machine let
 * batches outlive the worker's 6 s timeout and Python instances their 10 s initialization, each
 * failure retired an instance, and the cold start replacing it added load. On one core that run
 * enqueued for 359 s and never drained (807 timeouts and failed initializations); with these bounds,
 * on one core beside two busy loops, it enqueued in 32 s and settled in 292 s (docs/decisions.md).
 */
const CHAOS_BATCHES_IN_FLIGHT = 1;
const CHAOS_INSTANCES_PER_FUNCTION = 4;

/** What a run is given. */
export interface ChaosOptions {
  readonly sizes: ChaosSizes;
  readonly seed: number;
  /** Probability that an AWS call of a function fails before / after reaching the service. */
  readonly faults: { readonly before: number; readonly after: number };
  /** Give up waiting for the system to settle after this long. */
  readonly settleTimeoutMs: number;
  /**
   * The whole run (start, enqueue, settle) ends its settling by this time (epoch ms), so that a slow
   * run still reports what it found before its caller's own timeout. @default - no limit
   */
  readonly settleBy?: number;
  /** Half the jobs, batches and callbacks go to the Python worker. @default false */
  readonly python?: boolean;
  /** Batches in flight per event source mapping. @default CHAOS_BATCHES_IN_FLIGHT */
  readonly batchesInFlight?: number;
  /** Instances per function without reserved concurrency. @default CHAOS_INSTANCES_PER_FUNCTION */
  readonly instancesPerFunction?: number;
  /** Progress lines. @default - none */
  readonly progress?: (line: string) => void;
  /** A file to write every runtime log line to (`[source] message`), for a run to be read afterwards. @default - none */
  readonly logFile?: string;
}

/** What a run found. */
export interface ChaosResult {
  readonly report: InvariantReport;
  /** Faults injected, by kind, and by kind and phase (before / after the request). */
  readonly faults: Readonly<Record<string, number>>;
  /** Faults injected, by the function (its name) whose call failed. */
  readonly faultsByFunction: Readonly<Record<string, number>>;
  /** Unique jobs enqueued a second time: refused as duplicates, or accepted after the first finished. */
  readonly uniqueSecondEnqueue: { readonly refused: number; readonly accepted: number };
  /** Jids left in the retries queue's dead-letter queue (the retry function failed them 5 times). */
  readonly parkedInRetriesDlq: readonly string[];
  readonly timings: { readonly startupMs: number; readonly enqueueMs: number; readonly settleMs: number; readonly settled: boolean };
  /** Runtime log lines that say a function failed (crashes, timeouts), counted by message start. */
  readonly functionErrors: number;
  /** The runtime's warnings and errors, counted by kind (digits masked), the commonest first (15 at most). */
  readonly warningsByKind: readonly { readonly kind: string; readonly count: number }[];
  /** What is left in the scheduled and retry sets, and the log lines that name those jobs. */
  readonly leftInSets: readonly { readonly set: string; readonly jid: string; readonly dueAt: string; readonly claimedUntil?: string; readonly claimedBy?: string; readonly log: readonly string[] }[];
  /**
   * The log lines that name each job or callback the report found wrong (misplaced, parked in the
   * retries DLQ, callbacks doubled or missing), by jid (`<bid>-<event>` for a callback).
   */
  readonly traces: Readonly<Record<string, readonly string[]>>;
}

/** Runs the chaos suite once; see the module comment. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const progress = options.progress ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'hopper-chaos-'));
  const sinkFile = join(dir, 'sink.jsonl');
  writeFileSync(sinkFile, '');
  writeFileSync(join(dir, 'faults.jsonl'), '');
  const logs = new LogCollector();
  const started = Date.now();
  const local = await startLocal({
    projectDir: ROOT,
    app: 'npx tsx test/fixtures/chaos-app.ts',
    stack: 'LocalChaos',
    logs: logs.sink,
    functionPreload: [PRELOAD],
    python: PYTHON,
    sqsConcurrency: options.batchesInFlight ?? CHAOS_BATCHES_IN_FLIGHT,
    functionConcurrency: options.instancesPerFunction ?? CHAOS_INSTANCES_PER_FUNCTION,
    functionEnv: {
      PYTHONPATH: PYTHON_FAULTS_DIR,
      HOPPER_CHAOS_SINK: sinkFile,
      HOPPER_CHAOS_FAULTS: JSON.stringify({ seed: options.seed, ...options.faults, recordDir: dir }),
    },
  });
  const sqs = sqsClient(local);
  // The producer's own requests are not under test (no faults are injected into them): under the
  // run's load DynamoDB Local sometimes answers a lock timeout three times in a row.
  const dynamo = dynamoClient(local, { maxAttempts: 10 });
  try {
    const startupMs = Date.now() - started;
    progress(`runtime started in ${startupMs} ms`);
    const output = (name: string) => required(local.outputs[name], `output ${name}`);
    const env = { ...local.env, HOPPER_QUEUE_URLS: output('JobsQueueUrls'), HOPPER_STATE_TABLE: output('JobsStateTableName') };
    const client = new Client({ env, sqs, dynamo });
    const table = new StateTable(dynamo, output('JobsStateTableName'));
    const plan = chaosPlan(options.sizes, options.seed, `c${Date.now().toString(36)}`, options.python === true);

    const enqueueStart = Date.now();
    const { extra, uniqueSecondEnqueue } = await enqueuePlan(client, sqs, plan, output('JobsQueueUrls'));
    const enqueueMs = Date.now() - enqueueStart;
    progress(`enqueued ${plan.jobs.length} jobs in ${enqueueMs} ms`);

    // The jobs scheduled 20 minutes ahead become due: "now" moves past them, and the sweep runs.
    local.setClockOffset(LATER_MS + MINUTE);
    const settleStart = Date.now();
    const queueUrls = [...Object.values(parseUrls(output('JobsQueueUrls'))), output('JobsRetriesQueueUrl')];
    const settleTimeoutMs = Math.min(options.settleTimeoutMs, (options.settleBy ?? Number.POSITIVE_INFINITY) - settleStart);
    const settled = await settle(local, table, sqs, queueUrls, settleTimeoutMs, progress);
    const settleMs = Date.now() - settleStart;
    progress(`${settled ? 'settled' : 'did not settle'} after ${settleMs} ms`);
    // What the runtime itself said went wrong (throttles, timeouts, crashes, instances that would
    // not start): the first thing to read when the system did not drain.
    const runtimeWarnings = logs.entries.filter((entry) => entry.source === RUNTIME_SOURCE && (entry.level === 'warn' || entry.level === 'error'));
    const kinds = new Map<string, number>();
    for (const entry of runtimeWarnings) {
      const kind = entry.message.replace(/\d+/g, 'N').slice(0, 160);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    const warningsByKind = [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([kind, count]) => ({ kind, count }));
    if (!settled) {
      progress(`  ${runtimeWarnings.length} runtime warnings, by kind:`);
      for (const { kind, count } of warningsByKind) progress(`    ${count} × ${kind}`);
      progress('  the last ones:');
      for (const entry of runtimeWarnings.slice(-15)) progress(`    ${entry.message.slice(0, 300)}`);
    }

    const parked = await peekJids(sqs, output('JobsRetriesDlqUrl'));
    const [dead, waiting] = await Promise.all([readSet(table, 'dead'), Promise.all([readSet(table, 'scheduled'), readSet(table, 'retry')])]);
    const batchStates = await readBatches(dynamo, output('JobsStateTableName'), plan.batches.map((batch) => batch.bid));
    const report = checkInvariants([...plan.jobs, ...extra], plan.batches, {
      sink: readLines(sinkFile).filter(isSinkLine),
      dead: dead.map((entry) => ({ jid: entry.jid, ...(entry.reason === undefined ? {} : { reason: entry.reason }) })),
      waiting: [...waiting.flat().map((entry) => entry.jid), ...parked],
      batchCounts: new Map([...batchStates].map(([bid, state]) => [bid, state.counters])),
    });
    const faults: Record<string, number> = {};
    const faultsByFunction: Record<string, number> = {};
    for (const line of readLines(join(dir, 'faults.jsonl'))) {
      if (!isRecord(line)) continue;
      const kind = String(line.kind);
      faults[kind] = (faults[kind] ?? 0) + 1;
      const fn = String(line.fn);
      faultsByFunction[fn] = (faultsByFunction[fn] ?? 0) + 1;
    }
    const functionErrors = logs.entries.filter((entry) => entry.level === 'warn' && /crash|timed out|exited/i.test(entry.message)).length;
    const leftInSets = waiting.flat().map((entry) => ({
      set: entry.set,
      jid: entry.jid,
      dueAt: new Date(entry.epochMs).toISOString(),
      ...(entry.claimedUntilMs === undefined ? {} : { claimedUntil: new Date(entry.claimedUntilMs).toISOString() }),
      ...(entry.claimedBy === undefined ? {} : { claimedBy: entry.claimedBy }),
      log: logs.entries.filter((line) => line.message.includes(entry.jid)).map((line) => `[${line.source}] ${line.message}`).slice(-20),
    }));
    const suspects = [
      ...report.misplaced.map((entry) => entry.jid),
      ...parked,
      ...[...report.callbacks.doubled, ...report.callbacks.missing].map((name) => name.replace(/:(\w+)$/, '-$1')),
    ];
    if (options.logFile !== undefined) writeFileSync(options.logFile, logs.entries.map((line) => `[${line.source}] ${line.message}\n`).join(''));
    const traces = Object.fromEntries(suspects.slice(0, 50).map((jid) => [jid, logs.entries.filter((line) => line.message.includes(jid)).map((line) => `[${line.source}] ${line.message}`).slice(-40)]));
    return { report, faults, faultsByFunction, uniqueSecondEnqueue, parkedInRetriesDlq: parked, timings: { startupMs, enqueueMs, settleMs, settled }, functionErrors, warningsByKind, leftInSets, traces };
  } finally {
    sqs.destroy();
    dynamo.destroy();
    await local.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function enqueuePlan(client: Client, sqs: SQSClient, plan: ChaosPlan, queueUrlsJson: string): Promise<{ extra: ChaosJob[]; uniqueSecondEnqueue: { refused: number; accepted: number } }> {
  const now = Date.now();
  const byKind = (kind: string) => plan.jobs.filter((job) => job.kind === kind && job.input.custom?.bid === undefined);
  const inputs = (kind: string, shape: (job: ChaosJob, index: number) => JobInput) => byKind(kind).map((job, index) => shape(job, index));

  // Jobs of kind `duplicated` go to their queue as the same message twice: a duplicate delivery the
  // worker cannot tell from the original.
  const queueUrls = parseUrls(queueUrlsJson);
  await Promise.all([
    inChunks(inputs('plain', (job) => job.input), (chunk) => client.enqueueMany(chunk)),
    inChunks(inputs('limited', (job) => job.input), (chunk) => client.enqueueMany(chunk)),
    inChunks(inputs('scheduled-soon', (job, index) => ({ ...job.input, at: new Date(now + 3_000 + (index % 18) * 1_000) })), (chunk) => client.enqueueMany(chunk)),
    inChunks(inputs('scheduled-later', (job) => ({ ...job.input, at: new Date(now + LATER_MS) })), (chunk) => client.enqueueMany(chunk)),
    inChunks(byKind('duplicated'), (chunk) => Promise.all(chunk.flatMap((job) => {
      const body = serializeJob(normalizeJob(job.input, { now: new Date() }));
      const queueUrl = required(queueUrls[job.input.queue ?? 'chaos'], `the URL of queue ${job.input.queue ?? 'chaos'}`);
      return [0, 1].map(() => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })));
    }))),
    // Four batches at a time: 40 batches created at once (each a few transactions on its own item)
    // next to the workers' traffic made DynamoDB Local time out on its locks past the SDK's retries.
    inChunks(plan.batches, (chunk) => Promise.all(chunk.map(async (planned) => {
      const callback = { jobtype: 'Callback', queue: planned.callbackQueue };
      await client.batch({ bid: planned.bid, onComplete: callback, onSuccess: callback, onDeath: callback }, (batch) => batch.add(planned.jobs.map((job) => job.input)));
    })), 4),
  ]);

  const extra: ChaosJob[] = [];
  let refused = 0;
  const unique = byKind('unique');
  await inChunks(unique, (chunk) => client.enqueueMany(chunk.map((job) => ({ ...job.input, custom: { unique_for: 600 } }))));
  await Promise.all(unique.map(async (job) => {
    const again: ChaosJob = { ...job, jid: `${job.jid}-again`, kind: 'unique-again', input: { ...job.input, jid: `${job.jid}-again`, custom: { unique_for: 600 } } };
    try {
      await client.enqueue(again.input);
      extra.push(again);
    } catch (error) {
      if (!(error instanceof NotUniqueError)) throw error;
      refused += 1;
    }
  }));
  return { extra, uniqueSecondEnqueue: { refused, accepted: extra.length } };
}

async function inChunks<T>(items: readonly T[], send: (chunk: readonly T[]) => Promise<unknown>, size = 100): Promise<void> {
  const chunks: T[][] = [];
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size));
  for (const chunk of chunks) {
    try {
      await send(chunk);
    } catch (error) {
      // The producer is not under fault injection; a refusal here is a defect of the run itself.
      if (error instanceof EnqueueError) throw new Error(`enqueue refused ${error.failed.length} jobs: ${JSON.stringify(error.failed.slice(0, 3))}`);
      throw error;
    }
  }
}

/**
 * Waits until the job queues and the retries queue are empty, nothing is due in the scheduled or
 * retry set, and that has held for several polls in a row (the stream and the callbacks it sends
 * lag behind the queues). Triggers the sweep while the scheduled set has due entries, as
 * EventBridge Scheduler would each minute.
 */
async function settle(local: LocalRuntime, table: StateTable, sqs: SQSClient, queueUrls: readonly string[], timeoutMs: number, progress: (line: string) => void): Promise<boolean> {
  const sweep = local.schedules().find((schedule) => schedule.name.includes('Sweep') || schedule.logicalId.includes('Sweep'));
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let lastReport = 0;
  while (Date.now() < deadline) {
    const counts = await Promise.all(queueUrls.map((url) => queueCounts(sqs, url)));
    const inQueues = counts.reduce((sum, count) => sum + count.visible + count.inFlight + count.delayed, 0);
    const [scheduled, retry] = await Promise.all([readSet(table, 'scheduled'), readSet(table, 'retry')]);
    const nowMs = Date.now() + local.clockOffsetMs;
    const dueEntries = [...scheduled, ...retry].filter((entry) => entry.epochMs <= nowMs + 150_000);
    const due = dueEntries.length;
    // Nothing in the queues, and every entry left waits for its time (a backoff). Move "now" there,
    // as for the scheduled jobs, instead of waiting minutes of real time.
    const next = Math.min(...dueEntries.map((entry) => entry.epochMs));
    if (inQueues === 0 && due > 0 && next > nowMs + 1_000) {
      progress(`  moving the clock ${Math.round((next - nowMs) / 1000)} s ahead to the next due entry`);
      local.setClockOffset(local.clockOffsetMs + (next - nowMs) + 1_000);
    }
    if (due > 0 && sweep !== undefined) local.triggerSchedule(sweep.name);
    quiet = inQueues === 0 && due === 0 ? quiet + 1 : 0;
    if (Date.now() - lastReport > 10_000) {
      progress(`  in queues ${inQueues}, due in sets ${due}`);
      lastReport = Date.now();
    }
    if (quiet >= 5) return true;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  return false;
}

async function readSet(table: StateTable, set: SortedSetName): Promise<Awaited<ReturnType<StateTable['readSetRange']>>['entries']> {
  const entries = [];
  for await (const entry of table.streamSetRange([set])) entries.push(entry);
  return entries;
}

/** Jids of the messages in a queue, received with a short visibility so they stay there. */
async function peekJids(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const jids = new Set<string>();
  for (let round = 0; round < 20; round += 1) {
    const { Messages: messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 0 }));
    if (messages.length === 0) break;
    for (const message of messages) jids.add(jidOf(message.Body ?? ''));
  }
  return [...jids];
}

function jidOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isRecord(parsed) && isRecord(parsed.job) && typeof parsed.job.jid === 'string') return parsed.job.jid;
    if (isRecord(parsed) && typeof parsed.jid === 'string') return parsed.jid;
  } catch {
    // not JSON
  }
  return `unreadable:${body.slice(0, 40)}`;
}

function readLines(file: string): unknown[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0).map((line): unknown => JSON.parse(line));
}

function isSinkLine(line: unknown): line is SinkLine {
  return isRecord(line) && typeof line.jid === 'string';
}

function parseUrls(json: string): Record<string, string> {
  const parsed: unknown = JSON.parse(json);
  if (!isRecord(parsed)) throw new Error('queue URLs output is not an object');
  return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}
