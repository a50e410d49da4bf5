/**
 * Per-tenant caps and throttles in the worker: a job over its tenant's cap or its throttle goes back
 * on its queue with one more hold counted, delayed, never failed and with its retries untouched;
 * other tenants run; an override from the limits table replaces the declared cap, read at most
 * once per tenant per 30 seconds.
 */
import { describe, expect, it } from 'vitest';
import { parseTenantCaps } from '../../lib/config/tenant-caps.js';
import { limiter, MemoryLimiterStore } from '../../lib/limiters/index.js';
import { cachedOverrides, MemoryTenantOverrides } from '../../lib/limiters/tenant-overrides.js';
import { effectiveCap, tenantLimiterName, validateTenantCap } from '../../lib/limiters/tenant-caps.js';
import { nextHeldAttempt } from '../../lib/limiters/reschedule.js';
import { randomFromText } from '../../lib/common/random.js';
import { parseJob } from '../../lib/job/model.js';
import { createWorker, type JobHandler } from '../../lib/worker/index.js';
import { FakeSqs, QUEUE_URLS, TEST_ENV, lambdaContext, memoryLog, sqsEvent, sqsRecord } from './worker-fakes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handler that records, per tenant, how many of its runs overlap. */
function perTenantCounter(runMs: number) {
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  const ran: string[] = [];
  const handler: JobHandler = async (_args, ctx) => {
    const tenant = ctx.job.custom?.tenant ?? '-';
    running.set(tenant, (running.get(tenant) ?? 0) + 1);
    peak.set(tenant, Math.max(peak.get(tenant) ?? 0, running.get(tenant) ?? 0));
    await sleep(runMs);
    running.set(tenant, (running.get(tenant) ?? 0) - 1);
    ran.push(ctx.jid);
  };
  return { peak, ran, handler };
}

function worker(caps: Record<string, unknown>, jobs: Record<string, JobHandler>, options: { store?: MemoryLimiterStore; overrides?: MemoryTenantOverrides } = {}) {
  const sqs = new FakeSqs();
  const log = memoryLog();
  const store = options.store ?? new MemoryLimiterStore();
  const handler = createWorker({
    jobs, env: { ...TEST_ENV, HOPPER_TENANT_CAPS: JSON.stringify(caps) }, clients: { sqs }, limiterStore: store, log: log.sink,
    tenantOverrides: options.overrides ?? new MemoryTenantOverrides(),
  });
  return { sqs, log, handler, store };
}

const job = (jid: string, custom: Record<string, unknown>) => sqsRecord({ body: { jobtype: 'Work', jid, args: [], created_at: '2026-11-22T12:00:00.000Z', custom } });

describe('per-tenant caps in the worker', () => {
  it('runs at most a tenant\'s concurrency at once and holds the rest back, delayed, with no retry used', async () => {
    const { peak, ran, handler: work } = perTenantCounter(20);
    const { sqs, handler } = worker({ default: { cap: { concurrency: 2 }, leaseSeconds: 30 } }, { Work: work });

    const result = await handler(sqsEvent([
      ...Array.from({ length: 5 }, (_, index) => job(`a-${index}`, { tenant: 'acme' })),
      ...Array.from({ length: 3 }, (_, index) => job(`b-${index}`, { tenant: 'bolt' })),
    ]), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect({ acme: peak.get('acme'), bolt: peak.get('bolt') }).toEqual({ acme: 2, bolt: 2 });
    const back = sqs.sentTo(QUEUE_URLS.default);
    // Two of each tenant ran; the others went back, each with one hold counted and its retry intact.
    expect(ran.length + back.length).toBe(8);
    expect(ran.filter((jid) => jid.startsWith('a-')).length).toBe(2);
    for (const sent of back) {
      expect(sent.body).toEqual(expect.objectContaining({ retry: 25, custom: expect.objectContaining({ held_count: 1 }) }));
      expect(sent.body).not.toHaveProperty('failure');
      expect(sent.delaySeconds).toBeGreaterThanOrEqual(1);
    }
  });

  it('lets jobs without a tenant, and queues without perTenant, run unchecked', async () => {
    const { peak, handler: work } = perTenantCounter(10);
    const { sqs, handler } = worker({ critical: { cap: { concurrency: 1 }, leaseSeconds: 30 } }, { Work: work });

    await handler(sqsEvent(Array.from({ length: 4 }, (_, index) => job(`a-${index}`, { tenant: 'acme' }))), lambdaContext());

    expect({ acme: peak.get('acme'), sent: sqs.sentTo(QUEUE_URLS.default).length }).toEqual({ acme: 4, sent: 0 });
  });

  it('applies a tenant\'s override from the limits table in place of the declared cap', async () => {
    const overrides = new MemoryTenantOverrides();
    await overrides.set({ tenant: 'acme', cap: { concurrency: 4 }, updatedAt: '2026-12-07T00:00:00.000Z' });
    await overrides.set({ tenant: 'bolt', queue: 'default', cap: { concurrency: 1 }, updatedAt: '2026-12-07T00:00:00.000Z' });
    const { peak, handler: work } = perTenantCounter(20);
    const { handler } = worker({ default: { cap: { concurrency: 2 }, leaseSeconds: 30 } }, { Work: work }, { overrides });

    await handler(sqsEvent([
      ...Array.from({ length: 5 }, (_, index) => job(`a-${index}`, { tenant: 'acme' })),
      ...Array.from({ length: 3 }, (_, index) => job(`b-${index}`, { tenant: 'bolt' })),
    ]), lambdaContext());

    expect({ acme: peak.get('acme'), bolt: peak.get('bolt') }).toEqual({ acme: 4, bolt: 1 });
  });

  it('holds a tenant back by its rate: a burst of `limit`, the rest delayed', async () => {
    const { ran, handler: work } = perTenantCounter(0);
    const { sqs, handler } = worker({ default: { cap: { rate: { limit: 3, perSeconds: 60 } }, leaseSeconds: 30 } }, { Work: work });

    await handler(sqsEvent(Array.from({ length: 5 }, (_, index) => job(`a-${index}`, { tenant: 'acme' }))), lambdaContext());

    const back = sqs.sentTo(QUEUE_URLS.default);
    expect({ ran: ran.length, back: back.length }).toEqual({ ran: 3, back: 2 });
    // The next start is 20 s away (60 s / 3): the delay is at least that.
    for (const sent of back) expect(sent.delaySeconds).toBeGreaterThanOrEqual(20);
  });

  it('gives back the tenant\'s lease when the queue\'s own lease refuses the job', async () => {
    const store = new MemoryLimiterStore();
    await limiter('hopper.queue:default', { type: 'concurrent', limit: 1, lockTimeout: 30 }, { store }).acquire();
    const sqs = new FakeSqs();
    const handler = createWorker({
      jobs: { Work: async () => undefined },
      env: { ...TEST_ENV, HOPPER_TENANT_CAPS: JSON.stringify({ default: { cap: { concurrency: 1 }, leaseSeconds: 30 } }), HOPPER_QUEUE_CONCURRENCY: JSON.stringify({ default: { jobs: 1, perInvocation: 1, leaseSeconds: 30 } }) },
      clients: { sqs }, limiterStore: store, tenantOverrides: new MemoryTenantOverrides(), deadlineMarginMs: 3_000,
    });

    await handler(sqsEvent([job('a-0', { tenant: 'acme' })]), lambdaContext(() => 3_100));

    // Back unchanged (the queue's turn, not the tenant's), and the tenant's slot is free again.
    expect(sqs.sentTo(QUEUE_URLS.default)).toEqual([expect.objectContaining({ body: expect.objectContaining({ jid: 'a-0', custom: { tenant: 'acme' } }) })]);
    expect((await limiter(tenantLimiterName('concurrency', 'default', 'acme'), { type: 'concurrent', limit: 1, wait: 0 }, { store }).acquire()).allowed).toBe(true);
  });
});

describe('throttle by key', () => {
  it('starts at most `limit` of a key\'s jobs per interval, across tenants, and delays the rest', async () => {
    const { ran, handler: work } = perTenantCounter(0);
    const { sqs, handler } = worker({}, { Work: work });
    const throttle = { key: 'sync:42', limit: 2, per: 'minute' };

    await handler(sqsEvent([
      ...Array.from({ length: 4 }, (_, index) => job(`t-${index}`, { throttle })),
      job('other', { throttle: { ...throttle, key: 'sync:43' } }),
    ]), lambdaContext());

    const back = sqs.sentTo(QUEUE_URLS.default);
    expect({ ran: ran.filter((jid) => jid.startsWith('t-')).length, other: ran.includes('other'), back: back.length }).toEqual({ ran: 2, other: true, back: 2 });
    for (const sent of back) expect(sent.body).toEqual(expect.objectContaining({ custom: { throttle, held_count: 1 } }));
  });

  it('is checked with the job: a malformed throttle names its field', () => {
    const parse = (throttle: unknown) => () => parseJob(JSON.stringify({ jobtype: 'Work', args: [], custom: { throttle } }), { now: new Date(0) });
    expect(parse('x')).toThrow('custom.throttle must be an object { key, limit, per }, but "x" was provided');
    expect(parse({ key: 'a b', limit: 1, per: 'minute' })).toThrow('custom.throttle.key must be a string of 1 to 160 letters, digits or _ . : @ / + = -, but "a b" was provided');
    expect(parse({ key: 'k', limit: 0, per: 'minute' })).toThrow('custom.throttle.limit must be an integer from 1 to 1000000000, but number 0 was provided');
    expect(parse({ key: 'k', limit: 1, per: 'week' })).toThrow("custom.throttle.per must be 'second', 'minute', 'hour', 'day' or a whole number of seconds from 1 to 2592000, but \"week\" was provided");
  });
});

describe('tenant caps: rules', () => {
  it('checks a cap and names the offending field', () => {
    expect(validateTenantCap('body', { concurrency: 3, rate: { limit: 10, perSeconds: 60 } })).toEqual({ concurrency: 3, rate: { limit: 10, perSeconds: 60 } });
    expect(() => validateTenantCap('body', { concurrency: 0 })).toThrow('body.concurrency must be an integer from 1 to 1000, but 0 was provided');
    expect(() => validateTenantCap('body', { rate: { limit: 5 } })).toThrow('body.rate.perSeconds must be an integer number of seconds from 1 to 2592000, but undefined was provided');
    expect(() => validateTenantCap('body', { burst: 5 })).toThrow('body.burst must be absent (a cap has only concurrency and rate), but 5 was provided');
  });

  it('takes each part from the queue\'s override, else the tenant\'s, else the declared cap', () => {
    const declared = { concurrency: 5, rate: { limit: 100, perSeconds: 60 } };
    expect(effectiveCap(declared, { concurrency: 20 }, undefined)).toEqual({ concurrency: 20, rate: { limit: 100, perSeconds: 60 } });
    expect(effectiveCap(declared, { concurrency: 20 }, { concurrency: 8 })).toEqual({ concurrency: 8, rate: { limit: 100, perSeconds: 60 } });
    expect(effectiveCap(declared, undefined, { rate: { limit: 1, perSeconds: 1 } })).toEqual({ concurrency: 5, rate: { limit: 1, perSeconds: 1 } });
  });

  it('names a tenant\'s limiters by queue and tenant, hashing ids that are not name characters', () => {
    expect(tenantLimiterName('concurrency', 'email', 'acme')).toBe('hopper.tenant:email:acme');
    expect(tenantLimiterName('rate', 'email', 'arn:aws:iam::123456789012:role/app')).toBe('hopper.tenant-rate:email:arn:aws:iam::123456789012:role/app');
    const hashed = tenantLimiterName('concurrency', 'email', 'Acme Corp');
    expect(hashed).toMatch(/^hopper\.tenant:email:sha256:[0-9a-f]{32}$/);
    expect(tenantLimiterName('concurrency', 'email', 'Acme Corp!')).not.toBe(hashed);
    // A plain tenant that would take the name past a limiter name's 200 characters is hashed too.
    expect(tenantLimiterName('rate', 'q'.repeat(64), 't'.repeat(120))).toBe(`hopper.tenant-rate:${'q'.repeat(64)}:sha256:8a8a5d1720ec82d648d06e57f2755b94`);
    expect(tenantLimiterName('rate', 'q'.repeat(64), 't'.repeat(115))).toBe(`hopper.tenant-rate:${'q'.repeat(64)}:${'t'.repeat(115)}`);
  });

  // clients/python/tests/test_tenant_caps.py asserts the same literals of the Python worker.
  it('hashes the UTF-8 of a tenant id to these exact names, which the Python worker computes too', () => {
    expect(tenantLimiterName('concurrency', 'email', 'Acme Corp')).toBe('hopper.tenant:email:sha256:a73cb4563ee2e72ce0ce805d444364ec');
    expect(tenantLimiterName('rate', 'email', 'zürich')).toBe('hopper.tenant-rate:email:sha256:201f10d5d64518d86d2d3a47d28675d1');
    expect(tenantLimiterName('concurrency', 'email', 'sha256:abc')).toBe('hopper.tenant:email:sha256:67e9bc3cfd2163c2978358dfe00d2f91');
    expect(tenantLimiterName('concurrency', 'email', 'a'.repeat(121))).toBe('hopper.tenant:email:sha256:e9615320128cc7a3d6078e9af0560318');
    expect(tenantLimiterName('concurrency', 'email', 'a'.repeat(120))).toBe(`hopper.tenant:email:${'a'.repeat(120)}`);
  });

  it('delays a held job by what the Python worker computes for the same jid and hold', () => {
    const held = parseJob(JSON.stringify({ jobtype: 'Work', jid: 'report-7', args: [], custom: { tenant: 'acme', held_count: 2 } }), { now: new Date(0) });
    // Seeded as lib/worker/record.ts seeds it: `${jid}#held#${previous held_count}`.
    expect(nextHeldAttempt(held, 20, randomFromText('report-7#held#2'))).toEqual({ delaySeconds: 29, heldCount: 3, job: { ...held, custom: { tenant: 'acme', held_count: 3 } } });
  });

  it('spreads holds out more the more often a job was held, never failing it', () => {
    const held = parseJob(JSON.stringify({ jobtype: 'Work', args: [], custom: { held_count: 40 } }), { now: new Date(0) });
    expect(nextHeldAttempt(held, 2, () => 0.5)).toEqual({ delaySeconds: 2 + Math.floor(0.5 * Math.min(300, 2 * 41)), heldCount: 41, job: { ...held, custom: { held_count: 41 } } });
    expect(nextHeldAttempt(held, 0.2, () => 0).delaySeconds).toBe(1);
  });

  it('reads HOPPER_TENANT_CAPS and names the queue of a malformed entry', () => {
    expect(parseTenantCaps({ HOPPER_TENANT_CAPS: '{"email":{"cap":{"concurrency":5},"leaseSeconds":30}}' })).toEqual({ email: { cap: { concurrency: 5 }, leaseSeconds: 30 } });
    expect(() => parseTenantCaps({ HOPPER_TENANT_CAPS: '{"email":{"cap":{"concurrency":-1},"leaseSeconds":30}}' })).toThrow(
      'environment variable HOPPER_TENANT_CAPS: email.cap.concurrency must be an integer from 1 to 1000, but -1 was provided',
    );
    expect(() => parseTenantCaps({ HOPPER_TENANT_CAPS: '{"email":{"cap":{}}}' })).toThrow('HOPPER_TENANT_CAPS: email must be { cap, leaseSeconds }');
  });
});

describe('the override cache', () => {
  it('reads a tenant once per 30 seconds, and asks again after a failed read', async () => {
    let reads = 0;
    let fail = false;
    let nowMs = 0;
    const read = cachedOverrides({
      read: async (tenant) => {
        reads += 1;
        if (fail) throw new Error('throttled');
        return { queues: {}, all: { concurrency: tenant.length } };
      },
    }, { nowMs: () => nowMs });

    await read('acme');
    nowMs = 29_999;
    await read('acme');
    expect(reads).toBe(1);
    nowMs = 30_000;
    fail = true;
    await expect(read('acme')).rejects.toThrow('throttled');
    fail = false;
    expect(await read('acme')).toEqual({ queues: {}, all: { concurrency: 4 } });
    expect(reads).toBe(3);
  });
});
