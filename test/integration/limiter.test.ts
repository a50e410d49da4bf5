/**
 * Limiters against DynamoDB Local: the conditional writes keep every limit under concurrent
 * callers. One emulator per file; each test uses its own limiter names. Clocks are injected
 * (every caller of a test shares one fake `now`), so nothing here depends on timing except the
 * first test, which only needs the calls to finish.
 */
import { randomUUID } from 'node:crypto';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import {
  CONTENTION_RETRY_AFTER_MS,
  DynamoLimiterStore,
  LIMITS_TABLE,
  limiter,
  limiterKey,
  limiterStoreOf,
  type LimiterOptions,
  type LimiterType,
  type Permit,
  type Refusal,
} from '../../lib/limiters/index.js';
import { quotaKey } from '../../lib/limiters/keys.js';
import { checkQuotas, quotaExceededResponse, resolveQuotas } from '../../lib/quota/index.js';
import { LOCAL_IDENTITY, localAwsEnv, startEmulators, type Emulators } from '../../local/emulators.js';

let emulators: Emulators;
let client: DynamoDBClient;
const tableName = `limits-${randomUUID().slice(0, 8)}`;
const T0 = Date.UTC(2026, 10, 22, 12); // aligned to every named interval

beforeAll(async () => {
  emulators = await startEmulators();
  client = new DynamoDBClient({
    endpoint: emulators.endpoints.dynamodb,
    region: LOCAL_IDENTITY.region,
    credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
  });
  await client.send(new CreateTableCommand({
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: LIMITS_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: LIMITS_TABLE.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: LIMITS_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: LIMITS_TABLE.sortKey, KeyType: 'RANGE' },
    ],
  }));
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: LIMITS_TABLE.ttlAttribute, Enabled: true } }));
});

afterAll(async () => {
  client?.destroy();
  await emulators?.stop();
});

/** A fresh store (its own usage counters) and options with a clock the test sets. */
function setup(startMs = T0) {
  const store = new DynamoLimiterStore({ tableName, client });
  let nowMs = startMs;
  const options: LimiterOptions = { store, now: () => nowMs };
  return { store, options, setNow: (ms: number) => (nowMs = ms) };
}

const uniqueName = (kind: string) => `${kind}:${randomUUID().slice(0, 8)}`;
const allowedCount = (answers: readonly (Permit | Refusal)[]) => answers.filter((answer) => answer.allowed).length;
const refusals = (answers: readonly (Permit | Refusal)[]) => answers.flatMap((answer) => (answer.allowed ? [] : [answer.retryAfterMs]));

async function readQuota(scope: string, id: string) {
  return readKey(quotaKey(scope, id));
}

async function readItem(name: string, type: LimiterType) {
  return readKey(limiterKey(name, type));
}

async function readKey({ pk, sk }: { pk: string; sk: string }) {
  const output = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }));
  return output.Item ?? {};
}

describe('concurrent', () => {
  it('keeps 50 concurrent blocks under a limit of 5 to at most 5 in flight, and runs them all', { timeout: 180_000 }, async () => {
    const store = new DynamoLimiterStore({ tableName, client });
    const name = uniqueName('erp');
    let inFlight = 0;
    let maxInFlight = 0;
    let ran = 0;
    const block = async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight -= 1;
      ran += 1;
    };
    await Promise.all(Array.from({ length: 50 }, () => limiter(name, { type: 'concurrent', limit: 5, wait: 120 }, { store }).run(block)));
    expect(ran).toBe(50);
    expect(maxInFlight).toBeLessThanOrEqual(5);
    // Every lease was given back.
    expect((await readItem(name, 'concurrent')).n).toEqual({ N: '0' });
  });

  it('grants exactly the limit to simultaneous callers and tells the rest to ask again soon (nothing held long yet)', async () => {
    const { options } = setup();
    const name = uniqueName('erp');
    const erp = limiter(name, { type: 'concurrent', limit: 5, lockTimeout: 30 }, options);
    const answers = await Promise.all(Array.from({ length: 12 }, () => erp.acquire()));
    expect(allowedCount(answers)).toBe(5);
    expect(refusals(answers)).toEqual(Array.from({ length: 7 }, () => 50));
  });

  it('tells a refused caller when the lease is likely to end, from how long the last lease was held', async () => {
    const { options, setNow } = setup();
    const name = uniqueName('erp');
    const erp = limiter(name, { type: 'concurrent', limit: 1, lockTimeout: 30, wait: 0 }, options);
    await erp.run(() => setNow(T0 + 400));
    expect((await readItem(name, 'concurrent')).h).toEqual({ N: '400' });
    setNow(T0 + 1_000);
    expect((await erp.acquire()).allowed).toBe(true);
    setNow(T0 + 1_100);
    expect(await erp.acquire()).toEqual({ allowed: false, retryAfterMs: 300, retryAfterSeconds: 1 });
  });

  it('lets a lease expire when its holder never releases it', async () => {
    const { options, setNow } = setup();
    const name = uniqueName('erp');
    const erp = limiter(name, { type: 'concurrent', limit: 2, lockTimeout: 10 }, options);
    expect(allowedCount([await erp.acquire(), await erp.acquire()])).toBe(2);
    setNow(T0 + 9_999);
    expect(await erp.acquire()).toEqual({ allowed: false, retryAfterMs: 1, retryAfterSeconds: 1 });
    setNow(T0 + 10_000);
    expect((await erp.acquire()).allowed).toBe(true);
    // The two dead leases were removed in the same write that added the new one.
    const item = await readItem(name, 'concurrent');
    expect({ n: item.n, entries: Object.keys(item).filter((key) => key.startsWith('e_')).length }).toEqual({ n: { N: '1' }, entries: 1 });
  });

  it('frees a slot as soon as a lease is released, and tolerates a second release', async () => {
    const { options } = setup();
    const erp = limiter(uniqueName('erp'), { type: 'concurrent', limit: 1 }, options);
    const first = await erp.acquire();
    expect((await erp.acquire()).allowed).toBe(false);
    if (!first.allowed) throw new Error('expected the first lease');
    await first.release();
    await first.release();
    expect((await erp.acquire()).allowed).toBe(true);
    expect((await erp.acquire()).allowed).toBe(false);
  });

  it('costs one write unit to acquire and one to release', async () => {
    const { store, options } = setup();
    await limiter(uniqueName('erp'), { type: 'concurrent', limit: 5 }, options).run(() => undefined);
    expect(store.usage).toEqual({ requests: 2, conditionFailures: 0, writeUnits: 2 });
  });
});

describe('window', () => {
  it('admits exactly N of many concurrent callers per trailing window', async () => {
    const { options, setNow } = setup();
    const name = uniqueName('api');
    const callers = () => Promise.all(Array.from({ length: 20 }, () => limiter(name, { type: 'window', limit: 7, per: 'minute' }, options).acquire()));

    const first = await callers();
    expect({ allowed: allowedCount(first), retryAfterMs: new Set(refusals(first)) }).toEqual({ allowed: 7, retryAfterMs: new Set([60_000]) });

    setNow(T0 + 59_999);
    const stillFull = await callers();
    expect({ allowed: allowedCount(stillFull), retryAfterMs: new Set(refusals(stillFull)) }).toEqual({ allowed: 0, retryAfterMs: new Set([1]) });

    // The window has moved past all 7: callers race to remove them and exactly 7 get in again.
    setNow(T0 + 60_000);
    expect(allowedCount(await callers())).toBe(7);
  });
});

describe('bucket', () => {
  it('admits exactly the limit per aligned second and opens the next bucket on time', async () => {
    const { options, setNow } = setup();
    const name = uniqueName('api');
    const callers = () => Promise.all(Array.from({ length: 15 }, () => limiter(name, { type: 'bucket', limit: 5, per: 'second' }, options).acquire()));

    setNow(T0 + 250);
    const first = await callers();
    expect({ allowed: allowedCount(first), retryAfterMs: new Set(refusals(first)) }).toEqual({ allowed: 5, retryAfterMs: new Set([750]) });
    setNow(T0 + 1_000);
    expect(allowedCount(await callers())).toBe(5);
  });

  it('sets a TTL an hour after the bucket ends, and costs one write unit per call in a busy bucket', async () => {
    const { store, options } = setup();
    const name = uniqueName('api');
    const api = limiter(name, { type: 'bucket', limit: 100, per: 'minute' }, options);
    await api.acquire();
    const opening = store.usage;
    await api.acquire();
    expect((await readItem(name, 'bucket')).ttl).toEqual({ N: String((T0 + 60_000) / 1000 + 3_600) });
    expect({ opening, busy: { requests: store.usage.requests - opening.requests, writeUnits: store.usage.writeUnits - opening.writeUnits } }).toEqual({
      opening: { requests: 2, conditionFailures: 1, writeUnits: 1 },
      busy: { requests: 1, writeUnits: 1 },
    });
  });
});

describe('leaky', () => {
  it('admits a burst of exactly the capacity, then drips at the rate', async () => {
    const { options, setNow } = setup();
    const name = uniqueName('shop');
    const callers = (count: number) => Promise.all(Array.from({ length: count }, () => limiter(name, { type: 'leaky', limit: 10, per: 10 }, options).acquire()));

    const burst = await callers(15);
    expect({ allowed: allowedCount(burst), retryAfterMs: new Set(refusals(burst)) }).toEqual({ allowed: 10, retryAfterMs: new Set([1_000]) });
    setNow(T0 + 1_000);
    expect(allowedCount(await callers(5))).toBe(1);
    setNow(T0 + 3_500);
    expect(allowedCount(await callers(5))).toBe(2);
  });

  it('costs one write per call quiet or busy, once the store knows the regime; two when it flips', async () => {
    const { store, options, setNow } = setup();
    const geocoder = limiter(uniqueName('geocoder'), { type: 'leaky', limit: 10, per: 'second' }, options);
    const writes = async (at: number) => {
      setNow(at);
      const before = store.usage.requests;
      expect((await geocoder.acquire()).allowed).toBe(true);
      return store.usage.requests - before;
    };

    // Quiet: calls a second apart, each finds the bucket drained (a tenth of a second after a call).
    const quiet = [await writes(T0), await writes(T0 + 1_000), await writes(T0 + 2_000), await writes(T0 + 3_000)];
    // Busy: calls 10 ms apart keep the bucket draining; then quiet again.
    const busy = [await writes(T0 + 3_010), await writes(T0 + 3_020), await writes(T0 + 3_030)];
    const quietAgain = [await writes(T0 + 5_000), await writes(T0 + 6_000)];

    expect({ quiet, busy, quietAgain }).toEqual({ quiet: [2, 1, 1, 1], busy: [1, 1, 1], quietAgain: [2, 1] });
  });
});

describe('points', () => {
  it('takes the estimate, settles the actual cost, and refills at the rate', async () => {
    const { options, setNow } = setup();
    const shopify = limiter(uniqueName('shopify'), { type: 'points', capacity: 100, refill: 10, per: 'second' }, options);

    const answers = await Promise.all(Array.from({ length: 3 }, () => shopify.acquire(40)));
    expect({ allowed: allowedCount(answers), retryAfterMs: refusals(answers) }).toEqual({ allowed: 2, retryAfterMs: [2_000] });

    // 80 points in use; a block estimated at 20 that cost 5 leaves 85 in use.
    expect(await shopify.run(20, (charge) => charge.settle(5))).toBeUndefined();
    expect(await shopify.acquire(16)).toEqual({ allowed: false, retryAfterMs: 100, retryAfterSeconds: 1 });
    setNow(T0 + 100);
    expect((await shopify.acquire(16)).allowed).toBe(true);
  });

  it('charges a block that cost more than estimated, past the capacity', async () => {
    const { options } = setup();
    const shopify = limiter(uniqueName('shopify'), { type: 'points', capacity: 100, refill: 10, per: 'second' }, options);
    await shopify.run(10, (charge) => charge.settle(150));
    expect(await shopify.acquire(1)).toEqual({ allowed: false, retryAfterMs: 5_100, retryAfterSeconds: 6 });
  });
});

describe('quotas', () => {
  it('admits concurrent enqueues up to the tenant quota and answers the rest with 429 and the exact Retry-After', async () => {
    const { store } = setup();
    const quotas = resolveQuotas({ default: { limit: 10, per: 'minute' } });
    const tenant = uniqueName('tenant');
    const decisions = await Promise.all(Array.from({ length: 3 }, () => checkQuotas(quotas, { tenant, queue: 'default', jobs: 4 }, { store, now: () => T0 })));
    const refused = decisions.flatMap((decision) => (decision.allowed ? [] : [decision]));
    expect({ allowed: decisions.length - refused.length, refused: refused.length }).toEqual({ allowed: 2, refused: 1 });
    // 8 of 10 taken: 4 more need 2 points to drip back, one every 6 s.
    const [refusal] = refused;
    if (refusal === undefined) throw new Error('expected a refusal');
    expect(quotaExceededResponse(refusal).headers).toMatchObject({ 'Retry-After': '12', 'X-Hopper-Rate-Limits': '12::tenant:quota_exceeded' });
    expect(Object.keys(await readQuota('tenant', tenant))).toEqual(expect.arrayContaining(['t', 's', 'ttl']));
  });
});

describe('bounded retries', () => {
  it('gives up after maxAttempts conditional writes and asks the caller to come back in a second', async () => {
    // A new bucket item needs two writes (the first assumes a busy bucket), so one attempt is not enough.
    const store = new DynamoLimiterStore({ tableName, client, maxAttempts: 1 });
    const api = limiter(uniqueName('api'), { type: 'bucket', limit: 5, per: 'second' }, { store, now: () => T0 });
    expect(await api.acquire()).toEqual({ allowed: false, retryAfterMs: CONTENTION_RETRY_AFTER_MS, retryAfterSeconds: 1 });
    expect(store.usage).toEqual({ requests: 1, conditionFailures: 1, writeUnits: 0 });
  });
});

describe('limiterStoreOf', () => {
  it('uses the table and endpoint of the environment', async () => {
    const env = { ...localAwsEnv(emulators.endpoints), [ENV.limitsTable]: tableName };
    const store = limiterStoreOf(HopperConfig.of(env));
    const erp = limiter(uniqueName('erp'), { type: 'concurrent', limit: 1 }, { store, now: () => T0 });
    expect((await erp.acquire()).allowed).toBe(true);
    expect((await erp.acquire()).allowed).toBe(false);
  });

  it('says which variable is missing on first use, not when created', async () => {
    const store = limiterStoreOf(HopperConfig.of({}));
    const erp = limiter('erp', { type: 'concurrent', limit: 1 }, { store });
    await expect(erp.acquire()).rejects.toThrow(ConfigurationError);
    await expect(erp.acquire()).rejects.toThrow(/HOPPER_LIMITS_TABLE/);
  });
});
