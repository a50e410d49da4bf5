/**
 * What a user relies on, tried from the outside on the local runtime (the fixture stack's
 * synthesized template, real worker and Hopper functions on fauxqs and DynamoDB Local): jobs sent
 * to SQS with `Client`, through the API with `ApiClient` and raw HTTP; what ran is read from the
 * worker's output (one `ran` line per job, with its start and end).
 *
 * - a queue's `maxConcurrency` is the most jobs running at once, for caps of 1, 3 and 50 under a
 *   burst of 300 jobs;
 * - a batch filled in two adds, with a job finishing in between and a job adding to it, fires
 *   each callback once, after its last job;
 * - a flow starts each step once, after its parents and the jobs they spawned; a failure on a
 *   `fail` edge cancels the dependants, on an `ignore` edge lets them run; flow callbacks fire once;
 *   a step gets its parents' kept results (`ctx.flow.parents()`, docs/flows.md's import pipeline);
 *   a failed flow retried through the API runs its failed step again, and only what follows it;
 * - a unique conflict through the API is a 409 with the holder's jid, and `ApiClient` raises
 *   `NotUniqueError` at once;
 * - a burst against a paused queue with `maxBacklog: 5` is accepted exactly 5 times;
 * - 50 jobs of 0.5 s on a `concurrent(2)` limiter, without `wait`, finish within twice the
 *   ideal 12.5 s;
 * - a `ctx.once` step runs once for a job delivered twice, and for a job whose worker crashed right
 *   after the step: the later delivery gets the step's value;
 * - a tracked job's progress, state and result, read with `Client` and through the API;
 * - an iterating job runs as slices of a 3 s worker, each item once, progress never going back,
 *   and resumes from its checkpoint after its worker crashed mid-way;
 * - a tiered queue routes each job to its tier's queue by `custom.tier` and `custom.priority`, and
 *   the governor, run by its schedule, gives a backlogged tier the room the others do not use,
 *   never more than the queue's maxConcurrency in all, every job running once.
 */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../lib/api-client/index.js';
import { Client } from '../../lib/client/client.js';
import { job } from '../../lib/flow/model.js';
import { NotUniqueError } from '../../lib/errors/unique.js';
import { isRecord } from '../../lib/job/model.js';
import { LOCAL_IDENTITY } from '../../local/emulators.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { records } from '../fixtures/json.js';
import { eventually, logicalIdOf, maxOverlap, printRuntimeLogsOnFailure } from '../fixtures/local-helpers.js';
import { PROMISE_CAPS, PROMISE_MAX_BACKLOG, PROMISE_TENANT_CAP, PROMISE_TIERS } from '../fixtures/stacks/promises-stack.js';

const logs = new LogCollector();
let local: LocalRuntime;
let client: Client;
let api: ApiClient;

beforeAll(async () => {
  local = await startLocal({ app: 'npx tsx test/fixtures/promises-app.ts', stack: 'LocalPromises', logs: logs.sink });
  client = new Client({
    env: { ...local.env, HOPPER_QUEUE_URLS: local.outputs.JobsQueueUrls ?? '', HOPPER_STATE_TABLE: local.tableName(logicalIdOf(local.tables, 'JobsStateTable')) },
  });
  api = new ApiClient({ url: local.functionUrl(logicalIdOf(local.functions, 'JobsApiFunction')), maxAge: 10_000 });
});

afterAll(async () => {
  await local?.stop();
});

printRuntimeLogsOnFailure(logs);

/** One job the worker ran, as its `ran` line says. */
interface Run {
  readonly jid: string;
  readonly jobtype: string;
  readonly queue: string;
  readonly start: number;
  readonly end: number;
  readonly bid: unknown;
  readonly args: readonly unknown[];
  /** The tier whose queue the job came from (a tiered queue's jobs only). */
  readonly tier: string | undefined;
}

/** Every `ran` line the worker printed so far. */
function runs(): Run[] {
  return logs.entries.flatMap((entry) => {
    if (!entry.message.startsWith('{')) return [];
    let line: unknown;
    try {
      line = JSON.parse(entry.message);
    } catch {
      return [];
    }
    if (!isRecord(line) || line.message !== 'ran' || typeof line.jid !== 'string') return [];
    return [{
      jid: line.jid, jobtype: String(line.jobtype), queue: String(line.queue), start: Number(line.start), end: Number(line.end), bid: line.bid,
      args: Array.isArray(line.args) ? line.args : [], tier: typeof line.tier === 'string' ? line.tier : undefined,
    }];
  });
}

/** Runs of the given jids, once every one of them ran. */
/**
 * Pauses `queue` and waits until its mapping is `Disabled`: a receive already in progress when the
 * pause came still runs its messages, so only then does nothing leave the queue.
 */
async function pauseFully(queue: string): Promise<void> {
  expect((await api.request('POST', `/v1/queues/${queue}/pause`)).status).toBe(200);
  await eventually(async () => records((await api.request('GET', '/v1/queues')).body, 'queues').find((entry) => entry.name === queue && entry.mapping_state === 'Disabled'), 30_000, `queue ${queue} to be fully paused`);
}

/** Resumes `queue`, asking again while its mapping is still mid-change (409 busy). */
async function resume(queue: string): Promise<void> {
  await eventually(async () => ((await api.request('POST', `/v1/queues/${queue}/resume`)).status === 200 ? true : undefined), 30_000, `queue ${queue} to resume`);
}

async function ranAll(jids: readonly string[], timeoutMs: number, what: string): Promise<Run[]> {
  const wanted = new Set(jids);
  return eventually(async () => {
    const found = runs().filter((run) => wanted.has(run.jid));
    return new Set(found.map((run) => run.jid)).size === wanted.size ? found : undefined;
  }, timeoutMs, what);
}

describe('a queue\'s maxConcurrency counts jobs, end to end', () => {
  it.each([
    ['cap1', PROMISE_CAPS.cap1, 10],
    ['cap3', PROMISE_CAPS.cap3, 20],
    ['cap50', PROMISE_CAPS.cap50, 200],
  ] as const)('%s: 300 jobs sent at once never run more than %i at a time', async (queue, cap, workMs) => {
    const jids = Array.from({ length: 300 }, (_, index) => `${queue}-${index}`);
    const started = Date.now();
    await client.enqueueMany(jids.map((jid) => ({ jobtype: 'Span', jid, args: [workMs], queue })));

    const ran = await ranAll(jids, 240_000, `300 jobs on ${queue}`);

    const peak = maxOverlap(ran);
    console.info(`maxConcurrency ${cap}: 300 jobs of ${workMs} ms in ${Date.now() - started} ms, peak ${peak} at once`);
    expect(peak).toBeLessThanOrEqual(cap);
    // The cap was reached, not avoided: the jobs did run side by side up to it.
    expect(peak).toBeGreaterThanOrEqual(Math.ceil(cap / 2));
    const listed = records((await api.request('GET', '/v1/queues')).body, 'queues').find((entry) => entry.name === queue);
    expect(listed?.max_concurrency).toBe(cap);
  }, 300_000);
});

describe('batches', () => {
  it('fires each callback once, after the last job, when filled in two adds with a job done in between and a job adding to it', { timeout: 180_000 }, async () => {
    const bid = `promise-batch-${Date.now().toString(36)}`;
    const callback = (label: string) => ({ jobtype: 'BatchDone', args: [label], queue: 'batches' });
    await client.batch({ bid, onComplete: callback('complete'), onSuccess: callback('success') }, async (batch) => {
      await batch.add([{ jobtype: 'Step', jid: `${bid}-first`, queue: 'batches' }]);
      await ranAll([`${bid}-first`], 60_000, 'the first job of the batch');
      // Every job added so far has run and is counted (the batch function counts it from the
      // stream): a batch that is still being filled must not finish.
      const between = await eventually(async () => {
        const status = await client.getBatch(bid);
        return status?.succeeded === 1 ? status : undefined;
      }, 30_000, 'the first job to be counted');
      expect(between).toMatchObject({ total: 1, succeeded: 1, pending: 0, complete: false, sealed: false });
      await batch.add([{ jobtype: 'AddMore', jid: `${bid}-fanout`, args: [2], queue: 'batches' }]);
    });

    const [complete, success] = await Promise.all([`${bid}-complete`, `${bid}-success`].map((jid) => ranAll([jid], 90_000, `callback ${jid}`)));
    // Let a second copy of a callback show up, if there were one.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const all = runs();
    const jobs = all.filter((run) => run.bid === bid && run.jobtype !== 'BatchDone');
    const callbacks = all.filter((run) => run.jobtype === 'BatchDone' && run.jid.startsWith(`${bid}-`));

    expect(jobs.map((run) => run.jobtype).sort()).toEqual(['AddMore', 'Step', 'Step', 'Step']);
    expect(callbacks.map((run) => run.jid).sort()).toEqual([`${bid}-complete`, `${bid}-success`]);
    const lastJobEnd = Math.max(...jobs.map((run) => run.end));
    for (const fired of [...(complete ?? []), ...(success ?? [])]) expect(fired.start).toBeGreaterThanOrEqual(lastJobEnd);
    // A callback receives the batch's status first, then its own args.
    expect(success?.[0]?.args).toEqual([expect.objectContaining({ bid, event: 'success', total: 4, succeeded: 4, pending: 0, failures: 0 }), 'success']);
  });
});

describe('flows', () => {
  const onQueue = (jobtype: string, args: readonly unknown[] = []) => job(jobtype, args, { queue: 'batches' });
  const callback = (label: string) => ({ jobtype: 'BatchDone', args: [label], queue: 'batches' });
  /** Runs of the jobs of flow `id` (its steps, what they spawned, its callbacks). */
  const flowRuns = (id: string) => runs().filter((run) => run.jid.startsWith(`${id}.`) || run.jid.startsWith(`${id}-`) || (typeof run.bid === 'string' && run.bid.startsWith(`${id}.`)));

  it('starts each step once, after all its parents and what they spawned, and fires its callbacks once', { timeout: 180_000 }, async () => {
    const id = `flow-ok-${Date.now().toString(36)}`;
    const submitted = await client.flow({
      id,
      description: 'fetch, fan out, join',
      steps: {
        fetch: onQueue('Step'),
        fan: onQueue('Spawn', [3]).after('fetch'),
        slow: onQueue('Span', [1_500]).after('fetch'),
        join: onQueue('Step').after(['fan', 'slow']),
      },
      onSuccess: callback('flow-success'),
      onFailure: callback('flow-failure'),
      onComplete: callback('flow-complete'),
    });
    expect(submitted).toEqual({ id, created: true });

    await ranAll([`${id}-success`, `${id}-complete`], 120_000, 'the flow callbacks');
    // Let a second copy of a step or a callback show up, if there were one.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const ran = flowRuns(id);
    const jids = ran.map((run) => run.jid);
    expect(new Set(jids).size).toBe(jids.length);
    expect(ran.map((run) => run.jobtype).sort()).toEqual(['BatchDone', 'BatchDone', 'Span', 'Spawn', 'Step', 'Step', 'Step', 'Step', 'Step']);
    const one = (jid: string): Run => {
      const found = ran.find((run) => run.jid === jid);
      if (found === undefined) throw new Error(`${jid} did not run`);
      return found;
    };
    const spawned = ran.filter((run) => run.bid === `${id}.fan.1` && run.jobtype === 'Step');
    expect(spawned).toHaveLength(3);
    expect(one(`${id}.fan.1`).start).toBeGreaterThanOrEqual(one(`${id}.fetch.1`).end);
    expect(one(`${id}.slow.1`).start).toBeGreaterThanOrEqual(one(`${id}.fetch.1`).end);
    const join = one(`${id}.join.1`);
    for (const parent of [one(`${id}.slow.1`), one(`${id}.fan.1`), ...spawned]) expect(join.start).toBeGreaterThanOrEqual(parent.end);
    for (const jid of [`${id}-success`, `${id}-complete`]) expect(one(jid).start).toBeGreaterThanOrEqual(join.end);
    expect(one(`${id}-success`).args).toEqual([
      { flow_id: id, event: 'success', status: 'succeeded', description: 'fetch, fan out, join', steps: { fetch: 'succeeded', fan: 'succeeded', slow: 'succeeded', join: 'succeeded' }, created_at: expect.any(String) },
      'flow-success',
    ]);

    const view = await client.getFlow(id);
    expect(view).toMatchObject({ id, status: 'succeeded', settled: true, retries: 0 });
    expect(view?.steps.map((step) => [step.name, step.status, step.attempt, step.bid])).toEqual([
      ['fetch', 'succeeded', 1, `${id}.fetch.1`], ['fan', 'succeeded', 1, `${id}.fan.1`], ['slow', 'succeeded', 1, `${id}.slow.1`], ['join', 'succeeded', 1, `${id}.join.1`],
    ]);
  });

  it('fails on a `fail` edge: the dependants never start, onFailure fires once; an `ignore` edge lets the rest run', { timeout: 180_000 }, async () => {
    const stamp = Date.now().toString(36);
    const failing = `flow-fail-${stamp}`;
    const ignoring = `flow-ignore-${stamp}`;
    await client.flow({
      id: failing,
      steps: {
        a: onQueue('Step'),
        b: onQueue('Report', [0, true]).after('a'),
        c: onQueue('Step').after('b'),
        d: onQueue('Step').after('b', { onFailure: 'continue' }),
      },
      onSuccess: callback('flow-success'),
      onFailure: callback('flow-failure'),
      onComplete: callback('flow-complete'),
    });
    await client.flow({
      id: ignoring,
      steps: { a: onQueue('Report', [0, true]), b: onQueue('Step').after('a', { onFailure: 'ignore' }) },
      onSuccess: callback('flow-success'),
      onFailure: callback('flow-failure'),
    });

    await ranAll([`${failing}-failure`, `${failing}-complete`, `${ignoring}.b.1`, `${ignoring}-success`], 120_000, 'the flows to settle');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(flowRuns(failing).map((run) => run.jid).sort()).toEqual([`${failing}-complete`, `${failing}-failure`, `${failing}.a.1`]);
    expect(flowRuns(ignoring).map((run) => run.jid).sort()).toEqual([`${ignoring}-success`, `${ignoring}.b.1`]);
    const view = await client.getFlow(failing);
    expect(view).toMatchObject({ status: 'failed', settled: true, failedStep: 'b' });
    expect(view?.steps.map((step) => [step.name, step.status])).toEqual([['a', 'succeeded'], ['b', 'failed'], ['c', 'cancelled'], ['d', 'cancelled']]);
    expect((await client.getFlow(ignoring))?.status).toBe('succeeded');
  });

  it('passes each step its parents\' kept results: the import pipeline of docs/flows.md, one job per row', { timeout: 180_000 }, async () => {
    const id = `flow-import-${Date.now().toString(36)}`;
    const csv = 'sku,name\nA1,apple\nB2,pear\nC3,plum\n';
    await client.flow({
      id,
      description: 'import products.csv',
      steps: {
        fetch: job('FetchRows', [csv], { queue: 'batches', custom: { result: true } }),
        split: job('SplitRows', [], { queue: 'batches', custom: { result: true } }).after('fetch'),
        summarize: job('Summarize', [], { queue: 'batches' }).after('split'),
      },
      onSuccess: callback('imported'),
    });

    await ranAll([`${id}-success`], 120_000, 'the import flow');
    const ran = flowRuns(id);
    const one = (jid: string): Run => {
      const found = ran.find((run) => run.jid === jid);
      if (found === undefined) throw new Error(`${jid} did not run`);
      return found;
    };
    const rows = ran.filter((run) => run.jobtype === 'ImportRow');
    expect(one(`${id}.split.1`).args).toEqual([['A1,apple', 'B2,pear', 'C3,plum']]);
    expect(rows.map((run) => [run.bid, run.args])).toEqual(expect.arrayContaining([[`${id}.split.1`, ['A1,apple']], [`${id}.split.1`, ['B2,pear']], [`${id}.split.1`, ['C3,plum']]]));
    expect(rows).toHaveLength(3);
    const summarize = one(`${id}.summarize.1`);
    expect(summarize.args).toEqual([{ rows: 3 }]);
    for (const row of rows) expect(summarize.start).toBeGreaterThanOrEqual(row.end);
  });

  it('retries a failed flow from its failed step (POST /v1/flows/{id}/retry, as hopper flow retry): the steps that succeeded do not run again', { timeout: 180_000 }, async () => {
    const id = `flow-retry-${Date.now().toString(36)}`;
    await client.flow({
      id,
      steps: { a: onQueue('Step'), b: job('FailFirst', [], { queue: 'batches', retry: 0 }).after('a'), c: onQueue('Step').after('b') },
      onSuccess: callback('flow-success'),
      onFailure: callback('flow-failure'),
    });
    await ranAll([`${id}-failure`], 120_000, 'the flow to fail');
    expect((await client.getFlow(id))?.steps.map((step) => [step.name, step.status, step.attempt])).toEqual([['a', 'succeeded', 1], ['b', 'failed', 1], ['c', 'cancelled', 0]]);

    const retried = await api.request('POST', `/v1/flows/${id}/retry`);
    expect(retried.status).toBe(200);
    await ranAll([`${id}-success-1`], 120_000, 'the retried flow');
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    expect(flowRuns(id).map((run) => run.jid).sort()).toEqual([`${id}-failure`, `${id}-success-1`, `${id}.a.1`, `${id}.b.2`, `${id}.c.1`]);
    const view = await client.getFlow(id);
    expect(view).toMatchObject({ status: 'succeeded', settled: true, retries: 1 });
    expect(view?.steps.map((step) => [step.name, step.status, step.attempt])).toEqual([['a', 'succeeded', 1], ['b', 'succeeded', 2], ['c', 'succeeded', 1]]);
  });
});

describe('unique jobs through the API', () => {
  it('answers 409 with the jid holding the lock, and ApiClient raises NotUniqueError at once', { timeout: 60_000 }, async () => {
    const job = { jobtype: 'Hold', args: [8_000], queue: 'unique', custom: { unique_for: 600 } };
    const first = await api.enqueue({ ...job, jid: 'unique-first' });

    const raw = await api.request('POST', '/v1/jobs', { ...job, jid: 'unique-second' });
    const requests: string[] = [];
    const counting = new ApiClient({ url: local.functionUrl(logicalIdOf(local.functions, 'JobsApiFunction')), maxAge: 30_000, fetch: async (input, init) => { requests.push(String(input)); return fetch(input, init); } });
    const startedMs = Date.now();
    const error = await counting.enqueue({ ...job, jid: 'unique-third' }).catch((caught: unknown) => caught);

    expect(first).toBe('unique-first');
    expect(raw.status).toBe(409);
    expect(raw.body).toMatchObject({ error: { code: 'not_unique', jid: 'unique-second', existing_jid: 'unique-first', enqueued: [] } });
    expect(error).toBeInstanceOf(NotUniqueError);
    expect(error).toMatchObject({ jid: 'unique-third', existingJid: 'unique-first' });
    // At once: one request, nothing retried or discarded (a refusal is not backed off and sent again).
    expect({ requests: requests.length, discarded: counting.discarded().total }).toEqual({ requests: 1, discarded: 0 });
  });
});

describe('backlog limits', () => {
  it('accepts exactly maxBacklog jobs of a burst to a paused queue, then answers 503', { timeout: 120_000 }, async () => {
    await pauseFully('shed');
    const statuses: number[] = [];
    const paced: number[] = [];
    try {
      for (let index = 0; index < 12; index += 1) statuses.push((await api.request('POST', '/v1/jobs', { jobtype: 'Span', args: [0], queue: 'shed', jid: `shed-${index}` })).status);
      for (let index = 0; index < 4; index += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        paced.push((await api.request('POST', '/v1/jobs', { jobtype: 'Span', args: [0], queue: 'shed', jid: `shed-paced-${index}` })).status);
      }
    } finally {
      await resume('shed');
    }

    console.info(`maxBacklog ${PROMISE_MAX_BACKLOG}: back-to-back ${statuses.join(' ')}; one per 250 ms afterwards ${paced.join(' ')}`);
    expect(statuses).toEqual([...Array(PROMISE_MAX_BACKLOG).fill(202), ...Array(12 - PROMISE_MAX_BACKLOG).fill(503)]);
    expect(paced).toEqual([503, 503, 503, 503]);
    // What was accepted runs once the queue is resumed: exactly the limit, nothing more.
    await ranAll(Array.from({ length: PROMISE_MAX_BACKLOG }, (_, index) => `shed-${index}`), 60_000, 'the accepted shed jobs');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(runs().filter((run) => run.queue === 'shed').length).toBe(PROMISE_MAX_BACKLOG);
  });
});

describe('a concurrent limiter without a wait', () => {
  it('runs 50 jobs of 0.5 s on concurrent(2) within twice the ideal 12.5 s, never more than 2 at once', { timeout: 180_000 }, async () => {
    const jids = Array.from({ length: 50 }, (_, index) => `storm-${index}`);
    const started = Date.now();
    await client.enqueueMany(jids.map((jid) => ({ jobtype: 'Storm', jid, queue: 'storm' })));

    const ran = await ranAll(jids, 120_000, 'the 50 storm jobs');

    const elapsedMs = Math.max(...ran.map((run) => run.end)) - started;
    console.info(`limiter storm: 50 jobs of 0.5 s on concurrent(2) in ${elapsedMs} ms (ideal 12500 ms), peak ${maxOverlap(ran)} at once`);
    expect(maxOverlap(ran)).toBeLessThanOrEqual(2);
    expect(elapsedMs).toBeLessThanOrEqual(25_000);
  });
});

describe('a job that crashes its worker on a queue with the default maxReceiveCount', () => {
  it('reaches the retry function after its 5 deliveries (WorkerCrashed in the dead set, with retry 0), not the retries DLQ', { timeout: 120_000 }, async () => {
    // fauxqs keeps a message's receive count when redrive moves it, as AWS may: the retries queue's
    // maxReceiveCount must leave room for the 5 receives the job brings from its queue.
    await client.enqueue({ jobtype: 'Exit', jid: 'crash-default', queue: 'crashing', retry: 0 });

    const deadline = Date.now() + 100_000;
    let entry: unknown;
    while (entry === undefined && Date.now() < deadline) {
      const response = await api.request('GET', '/v1/dead?queue=crashing');
      const entries = isRecord(response.body) && Array.isArray(response.body.entries) ? response.body.entries : [];
      entry = entries.find((candidate) => JSON.stringify(candidate).includes('"crash-default"'));
      if (entry === undefined) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }

    const text = JSON.stringify(entry);
    expect(text).toContain('WorkerCrashed');
    expect(text).toContain('no result after 5 deliveries');
    const sqs = new SQSClient({ endpoint: local.endpoints.sqs, region: LOCAL_IDENTITY.region, credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey } });
    try {
      const parked = await sqs.send(new ReceiveMessageCommand({ QueueUrl: local.outputs.JobsRetriesDlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
      expect(parked.Messages ?? []).toEqual([]);
    } finally {
      sqs.destroy();
    }
  });
});

describe('ctx.once', () => {
  /** The `charged` lines of job `jid` so far. */
  const charged = (jid: string) => logs.entries.filter((entry) => entry.message.includes('"message":"charged"') && entry.message.includes(`"jid":"${jid}"`));

  it('charges once for a job SQS delivers twice; the second delivery gets the first one\'s receipt', { timeout: 60_000 }, async () => {
    await client.enqueue({ jobtype: 'Charge', jid: 'once-twice', args: ['a'], queue: 'cap50' });
    await ranAll(['once-twice'], 30_000, 'the first delivery');
    await client.enqueue({ jobtype: 'Charge', jid: 'once-twice', args: ['a'], queue: 'cap50' });
    const ran = await eventually(async () => {
      const found = runs().filter((run) => run.jid === 'once-twice');
      return found.length === 2 ? found : undefined;
    }, 30_000, 'the second delivery');

    expect(charged('once-twice')).toHaveLength(1);
    expect(ran.map((run) => run.args)).toEqual([[{ receipt: 'receipt-a' }], [{ receipt: 'receipt-a' }]]);
  });

  it('does not charge again when the worker crashed right after the charge: the redelivery gets the receipt', { timeout: 60_000 }, async () => {
    await client.enqueue({ jobtype: 'Charge', jid: 'once-crash', args: ['b'], queue: 'crashing' });

    const [run] = await ranAll(['once-crash'], 45_000, 'the delivery after the crash');

    expect(charged('once-crash')).toHaveLength(1);
    expect(run?.args).toEqual([{ receipt: 'receipt-b' }]);
    // The crash did happen, after the charge: the function exited and the batch came back.
    expect(logs.entries.some((entry) => entry.message.includes('CrasherFunction') && entry.message.includes('Runtime exited with error'))).toBe(true);
  });
});

describe('tracked jobs', () => {
  it('keep their progress, state and result, read with Client.status and Client.result and through the API', { timeout: 60_000 }, async () => {
    const jid = await client.enqueue({ jobtype: 'Report', args: [20], queue: 'cap50', custom: { result: true } });
    expect(await client.result(jid, { wait: 30, pollEvery: 0.2 })).toEqual({ rows: 20 });

    expect(await client.status(jid)).toMatchObject({ jid, jobtype: 'Report', queue: 'cap50', state: 'succeeded', attempt: 1, progress: 100, result: { rows: 20 } });
    expect(await api.result(jid)).toEqual({ rows: 20 });
    expect((await api.request('GET', `/v1/jobs/${jid}`)).body).toMatchObject({ jid, state: 'succeeded', progress: 100, result: { rows: 20 }, error: null });

    const failing = await client.enqueue({ jobtype: 'Report', args: [4, true], queue: 'cap50', custom: { track: true } });
    const failed = await eventually(async () => {
      const status = await client.status(failing);
      return status?.state === 'failed' ? status : undefined;
    }, 30_000, 'the failing report to fail');
    // Its last progress (100 after step 4 of 4) was written with the failure, though it came within 3 s of the previous.
    expect(failed).toMatchObject({ progress: 100, message: 'step 4 of 4', error: { errtype: 'Error', message: 'report source unavailable' }, result: undefined });
    await expect(client.result(failing)).rejects.toMatchObject({ name: 'JobResultError', problem: 'failed' });

    // A job that asked for nothing leaves nothing: its progress calls cost no write.
    const untracked = await client.enqueue({ jobtype: 'Report', args: [3], queue: 'cap50' });
    await ranAll([untracked], 30_000, 'the untracked report');
    expect(await client.status(untracked)).toBeUndefined();
    expect((await api.request('GET', `/v1/jobs/${untracked}`)).status).toBe(404);
  });
});

/** The `item` lines (index and slice) the worker printed for job `jid`, in order. */
function items(jid: string): { index: number; slice: number }[] {
  return logs.entries.flatMap((entry) => {
    if (!entry.message.startsWith('{')) return [];
    const line: unknown = JSON.parse(entry.message);
    if (!isRecord(line) || line.message !== 'item' || line.jid !== jid) return [];
    return [{ index: Number(line.index), slice: Number(line.slice) }];
  });
}

describe('an iterating job', () => {
  it('runs 120 items of 100 ms as slices of a 3 s worker, each item once, its progress never going back, through a crash at item 70', { timeout: 120_000 }, async () => {
    const jid = await client.enqueue({ jobtype: 'WalkEvery', args: [120, 100, 70], queue: 'iterating', custom: { result: true } });
    const seen: number[] = [];
    const result = await eventually(async () => {
      const status = await client.status(jid);
      if (status?.progress !== undefined) seen.push(status.progress);
      return status?.state === 'succeeded' ? status : undefined;
    }, 100_000, 'the iterating job to finish');

    expect(result).toMatchObject({ state: 'succeeded', attempt: 1, progress: 100, result: { items: 120 } });
    const done = items(jid);
    // Each item once, in order, with one jid: the crash at item 70 resumed at item 70 (a checkpoint after every item).
    expect(done.map((item) => item.index)).toEqual(Array.from({ length: 120 }, (_, index) => index));
    const slices = new Set(done.map((item) => item.slice));
    console.info(`iterating job: ${slices.size} slices, ${seen.length} progress readings`);
    // 2.2 s of items at most per 3 s invocation: at least six slices, one after the other: each
    // slice's items are one run, never interleaved with another's. (A message's custom.slice counts
    // the slices taken before it, the crashed one included; a message SQS delivered twice, whose
    // copy was turned away while the first held the iteration, comes back later with its own
    // number, so the numbers need not rise.)
    expect(slices.size).toBeGreaterThanOrEqual(6);
    const runsOfSlices = done.filter((item, index) => index === 0 || done[index - 1]?.slice !== item.slice).length;
    expect(runsOfSlices).toBe(slices.size);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.length).toBeGreaterThan(3);
    expect(logs.entries.some((entry) => entry.message.includes('IteratorFunction') && entry.message.includes('Runtime exited with error'))).toBe(true);
    expect(runs().filter((run) => run.jid === jid)).toHaveLength(1);
    // The same job sent again once finished: acknowledged without an item, its state and result kept.
    await client.enqueue({ jobtype: 'WalkEvery', jid, args: [120, 100, 70], queue: 'iterating', custom: { result: true } });
    await eventually(async () => (logs.entries.filter((entry) => entry.message.includes('iteration held or finished by another delivery') && entry.message.includes(jid)).length > 0 ? true : undefined), 30_000, 'the copy to be acknowledged');
    expect(items(jid)).toHaveLength(120);
    expect(await client.status(jid)).toMatchObject({ state: 'succeeded', progress: 100, result: { items: 120 } });
    // No retry was used and nothing reached the dead set.
    const dead = await api.request('GET', '/v1/dead?queue=iterating');
    expect(isRecord(dead.body) ? dead.body.entries : undefined).toEqual([]);
  });
});

describe('jobs redriven after throttled deliveries', () => {
  it('are sent back uncharged and all run, none charged a retry (with retry 0 a charge would kill them)', { timeout: 150_000 }, async () => {
    // One reserved instance, 1 s per job, maxReceiveCount 2 and a 3 s visibility timeout: most of
    // the burst is throttled through two visibility timeouts and redriven without a handler run.
    // A throttled batch is tried again 1 s after its receive, so a job may start with 2 s of its
    // visibility left: a job longer than that would outlive its message (redelivered while it runs,
    // then charged as a crash, on AWS as here), and 1 s leaves a second for a loaded machine.
    const jids = Array.from({ length: 12 }, (_, index) => `throttled-${index}`);
    await client.enqueueMany(jids.map((jid) => ({ jobtype: 'Span', jid, args: [1_000], queue: 'throttled', retry: 0 })));

    await ranAll(jids, 120_000, 'the throttled burst');

    const retryLines = logs.entries.filter((entry) => entry.source.startsWith('JobsRetryFunction')).map((entry) => entry.message);
    const uncharged = retryLines.filter((line) => line.includes('sent back without charging a retry') && line.includes('throttled-'));
    console.info(`throttled burst: ${uncharged.length} uncharged redrives`);
    expect(uncharged.length).toBeGreaterThan(0);
    const dead = await api.request('GET', '/v1/dead?queue=throttled');
    expect(isRecord(dead.body) ? dead.body.entries : undefined).toEqual([]);
  });
});

describe('per-tenant caps and throttles', () => {
  it('never run more of a tenant\'s jobs at once than its cap, an override set at runtime included; every job runs once, none fails', { timeout: 180_000 }, async () => {
    // An override raises cedar's cap before its first job (the worker reads it then; a changed
    // override is read again within 30 s: worker-tenant-caps.test.ts).
    expect(await api.setTenantCap('cedar', { queue: 'tenants', concurrency: 4 })).toMatchObject({ tenant: 'cedar', queue: 'tenants', cap: { concurrency: 4 } });
    const tenants = ['acme', 'bolt', 'cedar'] as const;
    const jids = Array.from({ length: 24 }, (_, index) => tenants.map((tenant) => `${tenant}-${index}`)).flat();
    const started = Date.now();
    await client.enqueueMany(jids.map((jid) => ({ jobtype: 'Span', jid, args: [300], queue: 'tenants', retry: 0, custom: { tenant: jid.split('-')[0] } })));

    const ran = await ranAll(jids, 150_000, 'every tenant\'s jobs');

    const peaks = Object.fromEntries(tenants.map((tenant) => [tenant, maxOverlap(ran.filter((run) => run.jid.startsWith(`${tenant}-`)))]));
    const held = logs.entries.filter((entry) => entry.message.includes('held back by its limits') && entry.message.includes('hopper.tenant:tenants:')).length;
    console.info(`per-tenant caps: 72 jobs of 300 ms in ${Date.now() - started} ms, peaks ${JSON.stringify(peaks)}, ${held} holds`);
    expect(peaks.acme).toBeLessThanOrEqual(PROMISE_TENANT_CAP);
    expect(peaks.bolt).toBeLessThanOrEqual(PROMISE_TENANT_CAP);
    expect(peaks.cedar).toBeLessThanOrEqual(4);
    expect(peaks.cedar).toBeGreaterThan(PROMISE_TENANT_CAP);
    expect(held).toBeGreaterThan(0);
    // Each job ran once: a hold is not a failure, and no retry (there are none) was needed.
    expect(ran).toHaveLength(jids.length);
    const dead = await api.request('GET', '/v1/dead?queue=tenants');
    expect(isRecord(dead.body) ? dead.body.entries : undefined).toEqual([]);
    expect(await api.removeTenantCap('cedar', 'tenants')).toBe(true);
  });

  it('start at most `limit` of a throttle key\'s jobs per interval, the rest later, each once', { timeout: 120_000 }, async () => {
    // 3 per 2 s: a burst of 3, then one every 667 ms.
    const throttle = { key: 'promises:sync', limit: 3, per: 2 };
    const jids = Array.from({ length: 12 }, (_, index) => `throttle-${index}`);
    await client.enqueueMany(jids.map((jid) => ({ jobtype: 'Span', jid, args: [10], queue: 'tenants', retry: 0, custom: { throttle } })));

    const starts = (await ranAll(jids, 100_000, 'the throttled jobs')).map((run) => run.start).sort((a, b) => a - b);

    const intervalMs = (throttle.per * 1000) / throttle.limit;
    // In any stretch of time t, a leaky bucket admits at most its burst plus t / interval; one more
    // for the time between the limiter's admission and the handler's start.
    for (const [i, first] of starts.entries()) {
      for (let j = i; j < starts.length; j += 1) expect(j - i + 1).toBeLessThanOrEqual(throttle.limit + Math.floor(((starts[j] ?? first) - first) / intervalMs) + 1);
    }
    console.info(`throttle 3 per 2 s: 12 jobs started over ${(starts.at(-1) ?? 0) - (starts[0] ?? 0)} ms`);
    expect((starts.at(-1) ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual((jids.length - throttle.limit - 1) * intervalMs);
  });
});

describe('priority tiers', () => {
  const tierNames = Object.keys(PROMISE_TIERS.tiers);

  /** The tiers of queue `tiered` as `GET /v1/queues` lists them. */
  async function listedTiers(): Promise<Record<string, unknown>[]> {
    const queue = records((await api.request('GET', '/v1/queues')).body, 'queues').find((entry) => entry.name === 'tiered');
    return records(queue, 'tiers');
  }

  /** Tier name → its mapping's MaximumConcurrency, as `GET /v1/queues` shows it. */
  async function tierConcurrency(): Promise<Record<string, number>> {
    return Object.fromEntries((await listedTiers()).map((tier) => [String(tier.name), Number(tier.concurrency)]));
  }

  function governorSchedule(): string {
    const found = local.schedules().find((schedule) => schedule.logicalId.startsWith('JobsGovernor'));
    if (found === undefined) throw new Error(`no governor schedule among ${local.schedules().map((schedule) => schedule.logicalId).join(', ')}`);
    return found.name;
  }

  beforeAll(() => {
    // The test runs the governor itself: its every-minute schedule would otherwise move the
    // mappings at a time the test does not choose.
    local.setScheduleEnabled(governorSchedule(), false);
  });

  it('routes each job to its tier\'s queue by custom.tier, custom.priority or neither; the job keeps its queue', { timeout: 60_000 }, async () => {
    const sent = [
      { custom: { tier: 'bulk' }, tier: 'bulk' },
      { custom: { tier: 'critical' }, tier: 'critical' },
      { custom: { priority: 9 }, tier: 'critical' },
      { custom: { priority: 6 }, tier: 'critical' },
      { custom: { priority: 5 }, tier: 'default' },
      { custom: { priority: 3 }, tier: 'default' },
      { custom: { priority: 2 }, tier: 'bulk' },
      { custom: { priority: 0 }, tier: 'bulk' },
      { custom: {}, tier: 'default' },
    ];
    const prefix = `route-${Date.now().toString(36)}`;
    const jids = await api.enqueueMany(sent.map(({ custom }, index) => ({ jobtype: 'Span', jid: `${prefix}-${index}`, args: [0], queue: 'tiered', custom })));

    const ran = await ranAll(jids, 45_000, 'the routed jobs');

    const byJid = new Map(ran.map((run) => [run.jid, run]));
    expect(jids.map((jid) => [byJid.get(jid)?.queue, byJid.get(jid)?.tier])).toEqual(sent.map(({ tier }) => ['tiered', tier]));
    const refused = await api.request('POST', '/v1/jobs', { jobtype: 'Span', args: [0], queue: 'tiered', custom: { tier: 'urgent' } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('custom.tier');
  });

  it('gives a backlogged bulk tier the room critical does not use when the governor runs, never more than maxConcurrency in all; every job runs once', { timeout: 180_000 }, async () => {
    // As deployed (and as an idle queue's governor leaves it): the floors of 2, the rest to critical.
    expect(await tierConcurrency()).toEqual({ critical: 8, default: 2, bulk: 2 });
    const prefix = `bulk-${Date.now().toString(36)}`;
    const jids = Array.from({ length: 120 }, (_, index) => `${prefix}-${index}`);
    await api.enqueueMany(jids.map((jid) => ({ jobtype: 'Span', jid, args: [500], queue: 'tiered', custom: { tier: 'bulk' } })));
    await eventually(async () => (Number((await listedTiers()).find((tier) => tier.name === 'bulk')?.size) > 0 ? true : undefined), 30_000, 'a bulk backlog');
    const triggeredAt = Date.now();

    local.triggerSchedule(governorSchedule());

    const samples: Record<string, number>[] = [];
    const raised = await eventually(async () => {
      const concurrency = await tierConcurrency();
      samples.push(concurrency);
      return (concurrency.bulk ?? 0) > 2 ? concurrency : undefined;
    }, 30_000, 'the governor to raise the bulk tier');
    expect(raised).toEqual({ critical: 2, default: 2, bulk: 8 });
    // Critical jobs sent while bulk's backlog drains still start within their tier's target.
    const urgent = Array.from({ length: 4 }, (_, index) => `${prefix}-critical-${index}`);
    const sentAt = Date.now();
    await api.enqueueMany(urgent.map((jid) => ({ jobtype: 'Span', jid, args: [0], queue: 'tiered', custom: { tier: 'critical' } })));
    const ran = await ranAll([...jids, ...urgent], 150_000, 'the bulk and critical jobs');
    samples.push(await tierConcurrency());

    for (const sample of samples) expect(tierNames.reduce((sum, name) => sum + (sample[name] ?? 0), 0)).toBeLessThanOrEqual(PROMISE_TIERS.maxConcurrency);
    expect(ran).toHaveLength(jids.length + urgent.length);
    const bulkAfter = ran.filter((run) => run.tier === 'bulk' && run.start > triggeredAt);
    const peak = maxOverlap(bulkAfter);
    console.info(`tiers: bulk ran up to ${peak} at once after the governor's round (2 before); critical waited ${ran.filter((run) => run.tier === 'critical').map((run) => run.start - sentAt).join(', ')} ms`);
    expect(peak).toBeGreaterThan(2);
    expect(peak).toBeLessThanOrEqual(8);
    for (const run of ran.filter((entry) => entry.tier === 'critical')) expect(run.start - sentAt).toBeLessThan(PROMISE_TIERS.tiers.critical.targetAge.toMilliseconds());
  });
});
