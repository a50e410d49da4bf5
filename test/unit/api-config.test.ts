import { describe, expect, it } from 'vitest';
import { HopperConfig } from '../../lib/config/hopper-config.js';
import { apiConfigOf } from '../../lib/api/config.js';
import { createApiHandler } from '../../lib/api/handler.js';
import { ConfigurationError } from '../../lib/errors/base.js';
import { urlEvent } from './api-fakes.js';
import { TEST_ENV } from './worker-fakes.js';

describe('apiConfigOf', () => {
  it('reads the variables the construct sets', () => {
    const config = apiConfigOf(HopperConfig.of({
      ...TEST_ENV,
      HOPPER_QUEUE_MAPPINGS: '{"default":"uuid-1"}',
      HOPPER_BACKLOG_LIMITS: '{"default":{"maxBacklog":10,"maxLatency":60}}',
      HOPPER_TENANTS: '{"arn:aws:iam::1:role/P":"acme"}',
      HOPPER_QUOTAS: '{"default":{"limit":5,"per":"second"}}',
      HOPPER_API_MAX_BODY_BYTES: '4096',
      HOPPER_DEFAULT_RETRY: '3',
      HOPPER_CRONS: '[{"name":"nightly","schedule":"0 3 * * *","timezone":"Europe/Vienna","job":{"jobtype":"Report","args":[1],"queue":"critical"}}]',
      HOPPER_QUEUE_TIERS: '{"default":{"defaultTier":"default","tiers":[{"name":"urgent","url":"https://q/urgent","targetSeconds":5},{"name":"default","url":"https://q/default","targetSeconds":60}]}}',
      HOPPER_TIER_MAPPINGS: '{"default":{"invocations":6,"perInvocation":5,"mappings":{"urgent":"uuid-2","default":"uuid-1"}}}',
    }));
    const crons = config.crons.map((cron) => ({ name: cron.name, schedule: cron.expression.eventBridge, timezone: cron.timezone, job: cron.job }));

    expect(crons).toEqual([{ name: 'nightly', schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Vienna', job: { jobtype: 'Report', args: [1], queue: 'critical' } }]);
    expect({ ...config, quotas: config.quotas.default, crons: config.crons.length }).toEqual({
      queueUrls: JSON.parse(TEST_ENV.HOPPER_QUEUE_URLS),
      queueMappings: { default: 'uuid-1' },
      backlogLimits: { default: { maxBacklog: 10, maxLatency: 60 } },
      tenants: { 'arn:aws:iam::1:role/P': 'acme' },
      tenantCaps: {},
      quotas: { type: 'points', capacity: 5, refill: 5, intervalMs: 1000, waitMs: 0 },
      maxBodyBytes: 4096,
      defaultRetry: 3,
      crons: 1,
      queueConcurrency: {},
      queueTiers: { default: { names: ['urgent', 'default'], defaultTier: 'default', tiers: [
        { name: 'urgent', url: 'https://q/urgent', targetSeconds: 5 }, { name: 'default', url: 'https://q/default', targetSeconds: 60 },
      ] } },
      tierMappings: { default: { invocations: 6, perInvocation: 5, mappings: { urgent: 'uuid-2', default: 'uuid-1' } } },
    });
  });

  it.each([
    { env: { HOPPER_BACKLOG_LIMITS: '{"default":{"maxBacklog":0}}' }, message: 'environment variable HOPPER_BACKLOG_LIMITS: default.maxBacklog must be a positive integer, but 0 was provided' },
    { env: { HOPPER_TENANTS: '[1]' }, message: 'environment variable HOPPER_TENANTS must be a JSON object of name to string' },
    { env: { HOPPER_QUEUE_MAPPINGS: 'nope' }, message: 'environment variable HOPPER_QUEUE_MAPPINGS must be a JSON object of name to string, but it is not JSON' },
    { env: { HOPPER_QUOTAS: '{"default":{"limit":1,"per":"fortnight"}}' }, message: 'quotas.default.per must be' },
    { env: { HOPPER_CRONS: '{}' }, message: 'environment variable HOPPER_CRONS must be a JSON array of cron definitions' },
    { env: { HOPPER_CRONS: '[{"name":"x","schedule":"61 * * * *","job":{"jobtype":"J"}}]' }, message: 'environment variable HOPPER_CRONS: [0].schedule: schedule "61 * * * *" is invalid' },
    { env: { HOPPER_CRONS: '[{"name":"x","schedule":"0 * * * *","job":{"args":[]}}]' }, message: 'environment variable HOPPER_CRONS: [0].job: job must be an object with a jobtype' },
  ])('names the variable when $message', ({ env, message }) => {
    expect(() => apiConfigOf(HopperConfig.of({ ...TEST_ENV, ...env }))).toThrow(ConfigurationError);
    expect(() => apiConfigOf(HopperConfig.of({ ...TEST_ENV, ...env }))).toThrow(message);
  });
});

describe('createApiHandler', () => {
  it('answers 500 with a JSON error and logs the cause when it cannot start, and tries again on the next request', async () => {
    const lines: string[] = [];
    let attempts = 0;
    const handler = createApiHandler({
      log: (line) => lines.push(line),
      context: () => {
        attempts += 1;
        throw new ConfigurationError('environment variable HOPPER_LIMITS_TABLE is not set');
      },
    });

    const first = await handler(urlEvent({ method: 'GET', path: '/v1/queues' }));
    await handler(urlEvent({ method: 'GET', path: '/v1/queues' }));

    expect({ status: first.statusCode, body: JSON.parse(first.body) }).toEqual({
      status: 500,
      body: { error: { code: 'internal_error', message: "internal error (request request-1); the function's logs have the details" } },
    });
    expect(lines[0]).toContain('HOPPER_LIMITS_TABLE is not set');
    expect(attempts).toBe(2);
  });
});
