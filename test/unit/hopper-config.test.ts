/**
 * The typed configuration (lib/config/hopper-config.ts): one object per environment, each value
 * parsed once on first use, errors naming the variable; and a function's parts read it through
 * that one object rather than each reading the environment.
 */
import { describe, expect, it } from 'vitest';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { createRetryHandler } from '../../lib/retry/handler.js';
import { createSchedulerHandler } from '../../lib/scheduler/handler.js';
import { TEST_ENV } from './worker-fakes.js';

/** `env` behind a proxy that counts how often each variable is read. */
function counted(env: Record<string, string>): { env: Record<string, string>; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const proxy = new Proxy(env, {
    get(target, key, receiver) {
      if (typeof key === 'string') reads.set(key, (reads.get(key) ?? 0) + 1);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { env: proxy, reads };
}

describe('HopperConfig', () => {
  it('is one object per environment object, whose values are typed', () => {
    const env = { ...TEST_ENV, HOPPER_DEFAULT_RETRY: '3', HOPPER_QUEUE_VISIBILITY: '{"default":180}', HOPPER_QUEUE_CONCURRENCY: '{"default":{"jobs":4,"perInvocation":2}}', HOPPER_STATS: 'on', HOPPER_METRICS: 'off' };
    const config = HopperConfig.of(env);

    expect(HopperConfig.of(env)).toBe(config);
    expect(HopperConfig.of({ ...env })).not.toBe(config);
    expect({
      stateTable: config.stateTable,
      retriesQueueUrl: config.retriesQueueUrl,
      queues: Object.keys(config.queueUrls()),
      defaultRetry: config.defaultRetry,
      deadTtlDays: config.deadTtlDays,
      visibility: config.queueVisibility,
      concurrency: config.queueConcurrency,
      statsOn: config.statsOn,
      metrics: config.metrics,
    }).toEqual({
      stateTable: TEST_ENV.HOPPER_STATE_TABLE,
      retriesQueueUrl: TEST_ENV.HOPPER_RETRIES_QUEUE_URL,
      queues: Object.keys(JSON.parse(TEST_ENV.HOPPER_QUEUE_URLS) as object),
      defaultRetry: 3,
      deadTtlDays: 180,
      visibility: { default: 180 },
      concurrency: { default: { jobs: 4, perInvocation: 2 } },
      statsOn: true,
      metrics: { enabled: false },
    });
  });

  it('parses each value once, on first use', () => {
    const { env, reads } = counted({ ...TEST_ENV });
    const config = HopperConfig.of(env);
    expect(reads.get('HOPPER_QUEUE_URLS')).toBeUndefined();

    for (let index = 0; index < 3; index += 1) void config.queueUrls();
    expect(reads.get('HOPPER_QUEUE_URLS')).toBe(1);
  });

  it('names a variable that is missing or malformed, and does not keep the failure', () => {
    const env: Record<string, string> = { HOPPER_DEFAULT_RETRY: 'many' };
    const config = HopperConfig.of(env);

    expect(() => config.stateTable).toThrow(ConfigurationError);
    expect(() => config.stateTable).toThrow(/HOPPER_STATE_TABLE is not set/);
    expect(() => config.defaultRetry).toThrow(/HOPPER_DEFAULT_RETRY must be a non-negative integer, but "many" was provided/);
    expect(() => config.queueUrls('give the producer HOPPER_QUEUE_URLS')).toThrow(/give the producer HOPPER_QUEUE_URLS/);
  });

  it('gives AWS clients the region, credentials and each service\'s endpoint', () => {
    const config = HopperConfig.of({ AWS_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret', AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:2' });

    expect(config.clientConfig('sqs')).toEqual({ region: 'eu-central-1', credentials: { accessKeyId: 'id', secretAccessKey: 'secret' }, endpoint: 'http://127.0.0.1:2' });
    expect(config.clientConfig('dynamodb')).toMatchObject({ endpoint: 'http://127.0.0.1:1' });
    expect(HopperConfig.of({}).clientConfig('lambda')).toEqual({});
  });

  it('is what a function\'s parts read: building the retry or scheduler handler reads each of Hopper\'s variables at most once', () => {
    for (const build of [
      (env: Record<string, string>) => createRetryHandler({ env }),
      (env: Record<string, string>) => createSchedulerHandler({ env }),
    ]) {
      const { env, reads } = counted({ ...TEST_ENV, HOPPER_STATS: 'on', HOPPER_DEAD_TTL_DAYS: '30', HOPPER_QUEUE_MAX_RECEIVES: '{"default":5}' });
      build(env);
      const hopper = [...reads].filter(([name]) => name.startsWith('HOPPER_'));
      expect(hopper.length).toBeGreaterThan(2);
      for (const [name, count] of hopper) expect(count, name).toBe(1);
    }
  });
});
