/**
 * The API function on the local runtime: the fixture stack's synthesized template (real api
 * function bundle, real worker bundle, real retry function) on fauxqs and DynamoDB Local, driven
 * over HTTP through its function URL like a producer or the CLI would, with `ApiClient`.
 *
 * Measures what issue 6 asks: 50 jobs under `concurrent(5)` never exceed 5 in flight; a producer
 * over its quota gets 429s with the right Retry-After and discards exactly what was refused; a
 * queue over `maxBacklog` sheds with 503 and recovers once drained. `ApiClient<typeof jobs>`'s typed
 * calls (enqueue, queues, pause and resume, sets, batches, crons, stats) against the same API.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, JobDiscardedError } from '../../lib/api-client/index.js';
import { ApiResponseError } from '../../lib/errors/api-client.js';
import type { jobs } from '../fixtures/handlers/hopper-worker.js';
import { LOCAL_IDENTITY } from '../../local/emulators.js';
import { LogCollector } from '../../local/log.js';
import { startLocal, type LocalRuntime } from '../../local/runtime.js';
import { number, records, text } from '../fixtures/json.js';
import { dynamoClient, eventually, logicalIdOf, maxOverlap } from '../fixtures/local-helpers.js';
import { METERED_PER_HOUR, SHED_MAX_BACKLOG } from '../fixtures/stacks/api-stack.js';

const logs = new LogCollector();
let local: LocalRuntime;
let dynamo: DynamoDBClient;
let api: ApiClient;
let apiUrl: string;

beforeAll(async () => {
  local = await startLocal({ app: 'npx tsx test/fixtures/api-app.ts', stack: 'LocalApi', logs: logs.sink });
  dynamo = dynamoClient(local);
  apiUrl = local.functionUrl(logicalIdOf(local.functions, 'JobsApiFunction'));
  api = new ApiClient({ url: apiUrl });
});

afterAll(async () => {
  dynamo?.destroy();
  await local?.stop();
});

/** Every observation the worker left, by jid. */
async function ran(): Promise<Map<string, Record<string, unknown>>> {
  const table = local.tableName(logicalIdOf(local.tables, 'Observations'));
  const found = new Map<string, Record<string, unknown>>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(start === undefined ? {} : { ExclusiveStartKey: start }) }));
    for (const item of page.Items ?? []) {
      const data: unknown = JSON.parse(item.data?.S ?? '{}');
      if (typeof data === 'object' && data !== null) found.set(item.pk?.S ?? '', Object.fromEntries(Object.entries(data)));
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return found;
}

async function call(method: string, path: string, body?: unknown) {
  return api.request(method, path, body);
}

describe('the API on the local runtime', () => {
  it('enqueues through the function URL, stamping the tenant mapped from the caller\'s IAM identity', async () => {
    const jid = await api.enqueue({ jobtype: 'Record', args: ['hello'], custom: { tenant: 'forged' } });

    const seen = await eventually(async () => (await ran()).get(jid), 30_000, `job ${jid} to run`);
    expect(seen).toEqual({ queue: 'default', tenant: 'local-producer', args: ['hello'] });
    // The stack output the CLI looks for names the same local URL.
    expect(local.outputs.JobsApiUrl).toBe(apiUrl);
    // The fixture's queues are in nested stacks (nestedStacks), named under one prefix, and their
    // URLs reached the parent's output through the nested stacks' outputs.
    const urls = JSON.parse(local.outputs.JobsQueueUrls ?? '{}') as Record<string, string>;
    expect(Object.keys(urls)).toEqual(['default', 'limited', 'shed', 'metered', 'planned']);
    for (const [name, url] of Object.entries(urls)) expect(url).toMatch(new RegExp(`/hopper-[0-9a-f]{8}-${name}$`));
  });

  it('accepts SigV4-signed requests as a deployed URL requires (the local URL does not check them)', async () => {
    const signed = new ApiClient({ url: apiUrl, credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey }, region: LOCAL_IDENTITY.region });
    const queues = await signed.request('GET', '/v1/queues');
    expect({ status: queues.status, names: records(queues.body, 'queues').map((queue) => queue.name) }).toEqual({ status: 200, names: ['default', 'limited', 'shed', 'metered', 'planned'] });
  });

  it('answers unknown routes and bad parameters with JSON errors', async () => {
    const [missing, bad] = await Promise.all([call('GET', '/v1/nothing'), call('GET', '/v1/dead?limit=5000')]);
    expect([missing.status, bad.status]).toEqual([404, 400]);
    expect(bad.body).toEqual({ error: { code: 'bad_parameter', message: 'limit must be an integer from 1 to 1000, but "5000" was provided', parameter: 'limit' } });
  });

  async function runLimited(jobtype: string, prefix: string, count: number) {
    const jids = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
    const response = await call('POST', '/v1/jobs', { jobs: jids.map((jid) => ({ jobtype, jid, queue: 'limited' })) });
    expect(response.status).toBe(202);
    return eventually(async () => {
      const all = await ran();
      const found = jids.flatMap((jid) => {
        const data = all.get(jid);
        return data === undefined ? [] : [{ start: Number(data.start), end: Number(data.end), rescheduled: Number(data.limited_count) }];
      });
      return found.length === jids.length ? found : undefined;
    }, 150_000, `${count} ${jobtype} jobs`);
  }

  it('keeps 50 concurrent jobs under ctx.limiter concurrent(5) to at most 5 in flight, measured', { timeout: 180_000 }, async () => {
    const held = await runLimited('Limited', 'lim', 50);

    const measured = maxOverlap(held);
    console.info(`limiter (wait 25 s): 50 jobs, max in flight ${measured}, rescheduled ${held.filter((job) => job.rescheduled > 0).length}`);
    expect(measured).toBeLessThanOrEqual(5);
    // The jobs did run side by side: the limit was reached, not avoided.
    expect(measured).toBeGreaterThanOrEqual(2);
  });

  it('puts jobs a limiter refuses back on their queue with jitter, without a retry, and still never exceeds the limit', { timeout: 180_000 }, async () => {
    const held = await runLimited('LimitedNoWait', 'nowait', 20);

    const measured = maxOverlap(held);
    const rescheduled = held.filter((job) => job.rescheduled > 0).length;
    console.info(`limiter (no wait): 20 jobs, max in flight ${measured}, rescheduled ${rescheduled}, most reschedules of one job ${Math.max(...held.map((job) => job.rescheduled))}`);
    expect(measured).toBeLessThanOrEqual(5);
    expect(rescheduled).toBeGreaterThan(0);
    // Nothing went to the retries path: no job reached the dead set (the JobSystem allows 0 retries).
    expect(records((await call('GET', '/v1/dead?jobtype=LimitedNoWait')).body)).toEqual([]);
  });

  it('answers a producer over its queue quota with 429 and the exact Retry-After, and the client discards exactly what was refused', async () => {
    const requests: number[] = [];
    const counting = new ApiClient({
      url: apiUrl,
      maxAge: 10_000,
      fetch: async (input, init) => {
        requests.push(Date.now());
        return fetch(input, init);
      },
    });
    const outcomes = [];
    for (let index = 0; index < 12; index += 1) {
      outcomes.push(await counting.enqueue({ jobtype: 'Record', queue: 'metered', args: [index] }).then(() => 'accepted', (error: unknown) => (error instanceof JobDiscardedError ? 'discarded' : 'failed')));
    }

    expect(outcomes).toEqual([...Array(METERED_PER_HOUR).fill('accepted'), ...Array(12 - METERED_PER_HOUR).fill('discarded')]);
    // One refused request; after it the client sent nothing more to the closed queue.
    expect(requests).toHaveLength(METERED_PER_HOUR + 1);
    expect(counting.discarded()).toEqual({ total: 7, byReason: { rate_limited: 7 }, byScope: { 'queue:metered': 7 } });

    const refused = await call('POST', '/v1/jobs', { jobtype: 'Record', queue: 'metered' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    // 5 per hour: a point every 720 s, the first one taken seconds ago.
    expect(retryAfter).toBeGreaterThan(690);
    expect(retryAfter).toBeLessThanOrEqual(720);
    expect({ status: refused.status, limits: refused.headers.get('x-hopper-rate-limits') }).toEqual({ status: 429, limits: `${retryAfter}:metered:queue:quota_exceeded` });
    expect(refused.body).toMatchObject({ error: { code: 'quota_exceeded', retry_after: retryAfter, limits: [{ scope: 'queue', id: 'metered', queues: ['metered'], retry_after: retryAfter, reason: 'quota_exceeded' }] } });

    const limits = await call('GET', '/v1/limits');
    expect(limits.body).toMatchObject({ quotas: { buckets: expect.arrayContaining([expect.objectContaining({ scope: 'queue', id: 'metered', state: expect.objectContaining({ available: 0, capacity: 5 }) })]) } });
  });

  it('sheds a queue over maxBacklog with 503 while it is paused, and recovers once resumed and drained', { timeout: 180_000 }, async () => {
    expect((await call('POST', '/v1/queues/shed/pause')).body).toMatchObject({ queue: 'shed', paused: true });
    const queues = await call('GET', '/v1/queues');
    expect(queues.body).toMatchObject({ queues: expect.arrayContaining([expect.objectContaining({ name: 'shed', paused: true })]) });

    const filled = await call('POST', '/v1/jobs', { jobs: Array.from({ length: SHED_MAX_BACKLOG }, (_, index) => ({ jobtype: 'Record', queue: 'shed', args: [index] })) });
    expect(filled.status).toBe(202);

    // The API reads queue sizes at most every 5 s per instance: keep offering until it sees the backlog.
    const shedStarted = Date.now();
    const refusal = await eventually(async () => {
      const response = await call('POST', '/v1/jobs', { jobtype: 'Record', queue: 'shed', args: ['probe'] });
      return response.status === 503 ? response : undefined;
    }, 30_000, 'a 503 from the shed queue');
    console.info(`backlog: 503 after ${Date.now() - shedStarted} ms, Retry-After ${refusal.headers.get('retry-after')}`);
    // Paused: nothing drains, so the estimate falls back to 30 s.
    expect({ retryAfter: refusal.headers.get('retry-after'), limits: refusal.headers.get('x-hopper-rate-limits') }).toEqual({ retryAfter: '30', limits: '30:shed:queue:max_backlog' });
    expect(refusal.body).toMatchObject({ error: { code: 'backlog_exceeded' } });

    const client = new ApiClient({ url: apiUrl, maxAge: 5_000 });
    await expect(client.enqueue({ jobtype: 'Record', queue: 'shed' })).rejects.toMatchObject({ reason: 'backlog', scope: 'queue:shed' });
    expect(await client.enqueue({ jobtype: 'Record', queue: 'default' })).toEqual(expect.any(String));

    // A resume soon after the pause may find the mapping still disabling: 409 busy, ask again.
    const resumedAnswer = await eventually(async () => {
      const response = await call('POST', '/v1/queues/shed/resume');
      if (response.status === 409) {
        expect(response.body).toMatchObject({ error: { code: 'busy', retry_after: 5 } });
        return undefined;
      }
      return response;
    }, 30_000, 'the shed queue to resume');
    expect(resumedAnswer.body).toMatchObject({ queue: 'shed', paused: false });
    const resumed = Date.now();
    await eventually(async () => {
      const response = await call('POST', '/v1/jobs', { jobtype: 'Record', queue: 'shed', args: ['after'] });
      return response.status === 202 ? response : undefined;
    }, 60_000, 'the shed queue to accept again');
    console.info(`backlog: accepted again ${Date.now() - resumed} ms after resume`);
  });

  it('lists, retries and deletes dead jobs through the API', { timeout: 120_000 }, async () => {
    const jid = await api.enqueue({ jobtype: 'Fail', jid: 'dead-1' });
    const entry = await eventually(async () => {
      const page = await call('GET', '/v1/dead?jobtype=Fail');
      return records(page.body).find((candidate) => candidate.jid === jid);
    }, 60_000, 'the job in the dead set');
    expect(entry.error).toEqual({ errtype: 'UnrecoverableJobError', message: 'asked to fail' });
    // Found by its jid on DynamoDB Local: its shard of each set read with a filter on the jid.
    const found = await api.find(jid);
    expect(found).toMatchObject({ jid, tracked: null, iteration: null, complete: true, entries: [{ set: 'dead', jid, id: entry.id }] });
    expect(found.summary).toMatch(/^dead since \S+: UnrecoverableJobError: asked to fail$/);
    // Counted on DynamoDB Local (a COUNT query per shard): at least this entry.
    expect((await api.setCounts()).dead).toMatchObject({ count: expect.any(Number), capped: false });
    expect((await api.setCounts()).dead.count).toBeGreaterThanOrEqual(1);

    const id = text(entry, 'id');
    const path = `/v1/dead/${encodeURIComponent(id)}`;
    expect((await call('POST', `${path}/retry`)).body).toEqual({ id, jid, queue: 'default', enqueued: true, removed: true });
    // It fails again and comes back under a new failure time.
    const again = await eventually(async () => {
      return records((await call('GET', '/v1/dead?jobtype=Fail')).body).find((candidate) => candidate.jid === jid && candidate.id !== id);
    }, 60_000, 'the retried job back in the dead set');
    const againPath = `/v1/dead/${encodeURIComponent(text(again, 'id'))}`;
    expect((await call('DELETE', againPath)).status).toBe(204);
    expect((await call('GET', againPath)).status).toBe(404);
  });

  it('runs a scheduled job now on request', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const jid = await api.enqueue({ jobtype: 'Record', jid: 'later-1', at, args: ['scheduled'] });
    const listed = records((await call('GET', '/v1/scheduled')).body).find((candidate) => candidate.jid === jid);
    if (listed === undefined) throw new Error('the job is not in the scheduled set');

    expect((await call('POST', `/v1/scheduled/${encodeURIComponent(text(listed, 'id'))}/retry`)).status).toBe(200);
    expect(await eventually(async () => (await ran()).get(jid), 30_000, 'the scheduled job to run')).toMatchObject({ args: ['scheduled'] });
  });

  it('lists a job of a listScheduled queue due in two minutes in the scheduled set, where it can be deleted; one due within a minute goes to SQS', { timeout: 60_000 }, async () => {
    const jid = await api.enqueue({ jobtype: 'Record', queue: 'planned', at: new Date(Date.now() + 120_000).toISOString(), args: ['listed'] });
    const listed = records((await call('GET', '/v1/scheduled?queue=planned')).body).find((candidate) => candidate.jid === jid);
    if (listed === undefined) throw new Error('the job of the listed queue is not in the scheduled set');
    expect(listed).toMatchObject({ queue: 'planned', jobtype: 'Record' });
    expect((await call('DELETE', `/v1/scheduled/${encodeURIComponent(text(listed, 'id'))}`)).status).toBe(204);
    expect(records((await call('GET', '/v1/scheduled?queue=planned')).body).map((entry) => entry.jid)).not.toContain(jid);

    const soon = await api.enqueue({ jobtype: 'Record', queue: 'planned', at: new Date(Date.now() + 2_000).toISOString(), args: ['soon'] });
    expect(records((await call('GET', '/v1/scheduled?queue=planned')).body).map((entry) => entry.jid)).not.toContain(soon);
    expect(await eventually(async () => (await ran()).get(soon), 30_000, 'the job due in 2 s to run')).toMatchObject({ queue: 'planned', args: ['soon'] });
  });

  it('reports processed counts in /v1/stats once workers flush', async () => {
    const stats = await call('GET', '/v1/stats?minutes=10');
    const history = records(stats.body, 'history');
    expect(stats.status).toBe(200);
    expect(history).toHaveLength(10);
    // Instances write their first counts at once, then every ten seconds or thousand jobs: some counts may
    // still be in memory.
    expect(number(stats.body, 'processed')).toBeGreaterThan(0);
    expect(history.reduce((sum, minute) => sum + number(minute, 'processed'), 0)).toBe(number(stats.body, 'processed'));
  });

  it('answers ApiClient<typeof jobs>\'s typed calls: enqueue by jobtype, pause and resume, sets, batches, crons, stats', { timeout: 120_000 }, async () => {
    const typed = new ApiClient<typeof jobs>({ url: apiUrl });
    const jid = await typed.enqueue('Record', ['typed'], { jid: 'typed-1', expiresIn: '1h' });
    expect(await eventually(async () => (await ran()).get(jid), 30_000, 'the typed job to run')).toMatchObject({ args: ['typed'] });
    const later = await typed.schedule({ jobtype: 'Record', args: ['later'] }, { in: '2h' });
    expect((await typed.entries('scheduled')).entries.map((entry) => entry.jid)).toContain(later);
    expect(await typed.deleteAll('scheduled', { jobtype: 'Record' })).toMatchObject({ deleted: 1, failed: [] });

    // Lambda refuses a change while the previous one is applied: the call says when to ask again.
    const untilAccepted = <T>(change: () => Promise<T>) => eventually(async () => {
      try {
        return await change();
      } catch (error) {
        if (error instanceof ApiResponseError && error.code === 'busy') {
          expect(error.retryAfterSeconds).toBe(5);
          return undefined;
        }
        throw error;
      }
    }, 30_000, 'the mapping change to be accepted');
    expect(await untilAccepted(() => typed.pauseQueue('default'))).toMatchObject({ queue: 'default', paused: true });
    expect(await untilAccepted(() => typed.resumeQueue('default'))).toMatchObject({ queue: 'default', paused: false });
    const queue = (await typed.queues()).find((candidate) => candidate.name === 'default');
    expect(queue).toMatchObject({ name: 'default', paused: false, max_concurrency: null });
    await expect(typed.pauseQueue('nope')).rejects.toMatchObject({ status: 404, code: 'not_found' });

    const dead = await typed.enqueue('Fail', [], { jid: 'typed-dead' });
    const page = await eventually(async () => {
      const found = await typed.entries('dead', { jobtype: 'Fail' });
      return found.entries.some((entry) => entry.jid === dead) ? found : undefined;
    }, 60_000, 'the failed job in the dead set');
    const entry = page.entries.find((candidate) => candidate.jid === dead);
    expect(entry?.error).toEqual({ errtype: 'UnrecoverableJobError', message: 'asked to fail' });
    expect(await typed.entry('dead', entry?.id ?? '')).toMatchObject({ jid: dead, queue: 'default' });
    expect(await typed.entry('dead', '0000000000000#nobody')).toBeUndefined();
    const retried = await typed.retryDead({ jobtype: 'Fail' });
    expect(retried.retried).toBeGreaterThanOrEqual(1);
    expect(retried.failed).toEqual([]);

    expect(await typed.batch('never-made')).toBeUndefined();
    expect(await typed.crons()).toEqual([]);
    await expect(typed.triggerCron('nightly')).rejects.toBeInstanceOf(ApiResponseError);
    expect((await typed.stats({ minutes: 5 })).history).toHaveLength(5);
    expect(Array.isArray(await typed.cohorts({ minutes: 5 }))).toBe(true);
    expect((await typed.redriveRetries()).done).toBe(true);
  });
});
