import { describe, expect, it } from 'vitest';
import { createCronHandler, parseCronTickEvent } from '../../lib/cron/handler.js';
import { CronDefinitionError, CronTickBusyError, InvalidCronEventError } from '../../lib/errors/cron.js';
import { cronJid, cronTickInput, resolveCron, type CronDefinition, type CronTickInput } from '../../lib/cron/definition.js';
import type { CronRunRecord, CronTickStore, TickClaim, TickClaimOptions } from '../../lib/storage/cron-store.js';
import { FakeSqs, QUEUE_URLS, TEST_ENV, memoryLog } from './worker-fakes.js';

const NOW = Date.parse('2026-11-22T02:00:01.250Z');
const TICK = '2026-11-22T02:00:00Z';

/** The cron store's semantics in memory (the DynamoDB one is exercised by the integration suite). */
class MemoryCronStore implements CronTickStore {
  readonly ticks = new Map<string, { state: 'claimed' | 'enqueued'; owner?: string; untilMs?: number; jid?: string; ttl: number }>();
  readonly runs = new Map<string, CronRunRecord>();

  async claimTick(name: string, scheduledMs: number, options: TickClaimOptions): Promise<TickClaim> {
    const key = `${name}|${scheduledMs}`;
    const existing = this.ticks.get(key);
    if (existing?.state === 'enqueued') return { status: 'enqueued', ...(existing.jid === undefined ? {} : { jid: existing.jid }) };
    if (existing !== undefined && (existing.untilMs ?? 0) >= options.nowMs) return { status: 'busy' };
    this.ticks.set(key, { state: 'claimed', owner: options.owner, untilMs: options.untilMs, ttl: options.ttl });
    return { status: 'claimed' };
  }

  async markEnqueued(name: string, scheduledMs: number, owner: string, jid: string): Promise<boolean> {
    const key = `${name}|${scheduledMs}`;
    const existing = this.ticks.get(key);
    if (existing?.owner !== owner) return false;
    this.ticks.set(key, { state: 'enqueued', jid, ttl: existing.ttl });
    return true;
  }

  async recordRun(record: CronRunRecord): Promise<boolean> {
    const existing = this.runs.get(record.name);
    if (existing !== undefined && existing.lastRunAt > record.lastRunAt) return false;
    this.runs.set(record.name, record);
    return true;
  }

  async getRun(name: string): Promise<CronRunRecord | undefined> {
    return this.runs.get(name);
  }
}

const NIGHTLY: CronDefinition = { name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: ['daily'], queue: 'critical' } };

function tickEvent(definition: CronDefinition = NIGHTLY, scheduledTime = TICK): CronTickInput {
  return cronTickInput(resolveCron(definition, ['default', 'critical']), scheduledTime);
}

function setup() {
  const store = new MemoryCronStore();
  const sqs = new FakeSqs();
  const log = memoryLog();
  const handler = createCronHandler({ env: TEST_ENV, store, sqs, now: () => new Date(NOW), log: log.sink });
  return { store, sqs, log, handler };
}

describe('cron definitions', () => {
  it('builds the schedule input with EventBridge\'s placeholder for the scheduled time', () => {
    expect(cronTickInput(resolveCron(NIGHTLY, ['default', 'critical']))).toEqual({
      hopper: 'cron', cron: 'nightly', scheduled_time: '<aws.scheduler.scheduled-time>', schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna',
      job: { jobtype: 'Report', args: ['daily'], queue: 'critical' },
    });
  });

  it('defaults the time zone to UTC', () => {
    expect(resolveCron({ name: 'n', schedule: '0 3 * * *', job: { jobtype: 'A' } }).timezone).toBe('UTC');
  });

  it.each([
    [{ ...NIGHTLY, name: 'night ly' }, 'name', 'name must be 1 to 64 letters, digits, - or _, starting with a letter or digit, but "night ly" was provided'],
    [{ ...NIGHTLY, name: 'n'.repeat(65) }, 'name', `name must be 1 to 64 letters, digits, - or _, starting with a letter or digit, but "${'n'.repeat(65)}" was provided`],
    [{ ...NIGHTLY, schedule: '0 25 * * *' }, 'schedule', 'schedule "0 25 * * *" is invalid: the hour field must be *, values from 0 to 23, ranges (a-b), steps (/n) or lists (a,b), but "25" was provided'],
    [{ ...NIGHTLY, timezone: 'Europe/Vienn' }, 'timezone', 'timezone "Europe/Vienn" is not a known IANA time zone'],
    [{ ...NIGHTLY, job: { jobtype: '' } }, 'job.jobtype', 'job.jobtype must be a string of 1 to 256 characters, but "" was provided'],
    [{ ...NIGHTLY, job: { jobtype: 'A', retry: -1 } }, 'job.retry', 'job.retry must be an integer from 0 to 1000, but number -1 was provided'],
    [{ ...NIGHTLY, job: { jobtype: 'A', queue: 'reports' } }, 'job.queue', 'job.queue "reports" is not declared; declared queues: default, critical'],
  ])('rejects %j', (definition, field, message) => {
    expect(() => resolveCron(definition, ['default', 'critical'])).toThrow(new CronDefinitionError(field, message));
    try {
      resolveCron(definition, ['default', 'critical']);
    } catch (error) {
      expect(error instanceof CronDefinitionError && error.field).toBe(field);
    }
  });

  it('refuses a job too large to travel in the schedule input', () => {
    const big = resolveCron({ ...NIGHTLY, job: { jobtype: 'A', args: ['x'.repeat(9000)] } });

    expect(() => cronTickInput(big)).toThrow(/^job makes a schedule input of 9\d{3} bytes, over the limit of 8192; pass large data by reference \(an S3 key\) in args$/);
  });

  it('derives the jid from the cron and the tick', () => {
    expect(cronJid('nightly', Date.parse(TICK))).toBe('cron:nightly:20261122T020000Z');
  });
});

describe('parseCronTickEvent', () => {
  it.each([
    [null, 'event', 'invalid cron event: the event must be a JSON object'],
    [{ ...tickEvent(), scheduled_time: '<aws.scheduler.scheduled-time>' }, 'scheduled_time', 'invalid cron event: scheduled_time must be an ISO-8601 time (<aws.scheduler.scheduled-time>), but "<aws.scheduler.scheduled-time>" was provided'],
    [{ ...tickEvent(), cron: 7 }, 'cron', "invalid cron event: cron must be the cron's name, but 7 was provided"],
    [{ ...tickEvent(), job: { jobtype: 'A', args: 'x' } }, 'job.args', 'invalid cron event: job.args must be an array'],
    [{ ...tickEvent(), timezone: 'Mars/Olympus' }, 'timezone', 'invalid cron event: timezone "Mars/Olympus" is not a known IANA time zone'],
  ])('rejects %j naming the field', (event, field, message) => {
    expect(() => parseCronTickEvent(event)).toThrow(new InvalidCronEventError(field, message.replace(/^invalid cron event: /, '')));
  });
});

describe('createCronHandler', () => {
  it('enqueues a fresh job for the tick and records the last and next run', async () => {
    const { handler, sqs, store } = setup();

    const result = await handler(tickEvent(), { awsRequestId: 'r1', getRemainingTimeInMillis: () => 10_000 });

    expect(result).toEqual({ status: 'enqueued', cron: 'nightly', jid: 'cron:nightly:20261122T020000Z', scheduledTime: '2026-11-22T02:00:00.000Z', nextRunAt: '2026-11-23T02:00:00.000Z' });
    expect(sqs.sentTo(QUEUE_URLS.critical)).toEqual([{
      delaySeconds: undefined,
      body: {
        jid: 'cron:nightly:20261122T020000Z', jobtype: 'Report', args: ['daily'], queue: 'critical', retry: 25,
        created_at: '2026-11-22T02:00:01.250Z', enqueued_at: '2026-11-22T02:00:01.250Z',
      },
    }]);
    expect(await store.getRun('nightly')).toEqual({
      name: 'nightly', schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna', jobtype: 'Report', queue: 'critical',
      lastRunAt: '2026-11-22T02:00:00.000Z', lastJid: 'cron:nightly:20261122T020000Z', nextRunAt: '2026-11-23T02:00:00.000Z', updatedAt: '2026-11-22T02:00:01.250Z',
    });
    // The claim lasts the invocation's remaining time plus 30 s.
    expect([...store.ticks.values()]).toEqual([{ state: 'enqueued', jid: 'cron:nightly:20261122T020000Z', ttl: Date.parse(TICK) / 1000 + 3 * 86_400 }]);
  });

  it('enqueues a tick delivered twice once', async () => {
    const { handler, sqs, log } = setup();

    const first = await handler(tickEvent());
    const second = await handler(tickEvent());

    // One Enqueued metric, for the one job sent.
    expect(log.lines.filter((line) => '_aws' in line).map(({ _aws, ...fields }) => fields)).toEqual([{ Queue: 'critical', JobType: 'Report', Enqueued: 1 }]);

    expect(first.status).toBe('enqueued');
    expect(second).toMatchObject({ status: 'duplicate', jid: first.jid });
    expect(sqs.sentTo(QUEUE_URLS.critical)).toHaveLength(1);
    expect(log.lines).toContainEqual(expect.objectContaining({ message: 'duplicate tick; already enqueued', cron: 'nightly', jid: first.jid }));
  });

  it('fails a tick another invocation holds, so that Lambda retries it, and enqueues it once the claim lapsed', async () => {
    const { store, sqs } = setup();
    await store.claimTick('nightly', Date.parse(TICK), { owner: 'crashed', nowMs: NOW - 1000, untilMs: NOW + 60_000, ttl: 0 });
    let now = NOW;
    const handler = createCronHandler({ env: TEST_ENV, store, sqs, now: () => new Date(now), log: () => undefined });

    await expect(handler(tickEvent())).rejects.toThrow(CronTickBusyError);
    now = NOW + 60_001;
    const retried = await handler(tickEvent());

    expect(retried.status).toBe('enqueued');
    expect(sqs.sentTo(QUEUE_URLS.critical)).toHaveLength(1);
  });

  it('keeps the newest run when ticks arrive out of order', async () => {
    const { handler, store } = setup();

    await handler(tickEvent(NIGHTLY, '2026-11-23T02:00:00Z'));
    await handler(tickEvent(NIGHTLY, '2026-11-22T02:00:00Z'));

    expect((await store.getRun('nightly'))?.lastRunAt).toBe('2026-11-23T02:00:00.000Z');
  });

  it('takes the tick id from the scheduled time, not the clock', async () => {
    const { handler } = setup();

    const late = await handler(tickEvent(NIGHTLY, '2026-11-21T02:00:00Z'));

    expect(late.jid).toBe('cron:nightly:20261121T020000Z');
  });

  it('computes the next run in the cron\'s time zone across a DST change', async () => {
    const { handler } = setup();

    const result = await handler(tickEvent(NIGHTLY, '2026-03-28T02:00:00Z'));

    expect(result.nextRunAt).toBe('2026-03-29T01:00:00.000Z');
  });
});
