/**
 * `GET /v1/limits/tenants`, `PUT` and `DELETE /v1/limits/tenants/{tenant}`: the declared per-tenant
 * caps and the overrides an operator sets at runtime, with clear 400s for what would never apply.
 */
import { describe, expect, it } from 'vitest';
import { apiFixture, NOW, urlEvent } from './api-fakes.js';

const CAPPED = { tenantCaps: { default: { cap: { concurrency: 5, rate: { limit: 100, perSeconds: 60 } }, leaseSeconds: 30 } } };

describe('tenant cap overrides over the API', () => {
  it('sets an override on one queue and on every capped queue, lists them with the declared caps, and removes one', async () => {
    const { call } = apiFixture(CAPPED);

    const onQueue = await call(urlEvent({ method: 'PUT', path: '/v1/limits/tenants/acme', body: { queue: 'default', concurrency: 20, rate: { limit: 10, per: 'second' } } }));
    const everywhere = await call(urlEvent({ method: 'PUT', path: '/v1/limits/tenants/bolt', body: { rate: { limit: 5, per: 90 } } }));
    const listed = await call(urlEvent({ method: 'GET', path: '/v1/limits/tenants' }));

    const at = new Date(NOW).toISOString();
    expect({ status: onQueue.statusCode, body: onQueue.json }).toEqual({ status: 200, body: { tenant: 'acme', queue: 'default', cap: { concurrency: 20, rate: { limit: 10, per_seconds: 1 } }, updated_at: at } });
    expect(everywhere.json).toEqual({ tenant: 'bolt', queue: null, cap: { rate: { limit: 5, per_seconds: 90 } }, updated_at: at });
    expect(listed.json).toEqual({
      declared: { default: { concurrency: 5, rate: { limit: 100, per_seconds: 60 } } },
      overrides: [onQueue.json, everywhere.json],
      truncated: false,
    });

    const removed = await call(urlEvent({ method: 'DELETE', path: '/v1/limits/tenants/acme', query: 'queue=default' }));
    const again = await call(urlEvent({ method: 'DELETE', path: '/v1/limits/tenants/acme', query: 'queue=default' }));
    expect({ removed: removed.statusCode, again: again.statusCode, message: again.json }).toEqual({
      removed: 204, again: 404, message: { error: expect.objectContaining({ message: 'tenant "acme" has no override on queue "default"' }) },
    });
    expect((await call(urlEvent({ method: 'GET', path: '/v1/limits/tenants' }))).json).toMatchObject({ overrides: [everywhere.json] });
  });

  it('refuses what would never apply or is malformed, naming the field', async () => {
    const { call } = apiFixture(CAPPED);
    const put = async (body: unknown, tenant = 'acme') => {
      const response = await call(urlEvent({ method: 'PUT', path: `/v1/limits/tenants/${tenant}`, body }));
      return { status: response.statusCode, message: (response.json as { error: { message: string } }).error.message };
    };

    expect(await put({ queue: 'critical', concurrency: 2 })).toEqual({ status: 400, message: 'body.queue must be one of the queues declaring perTenant: default, but "critical" was provided' });
    expect(await put({ concurrency: 0 })).toEqual({ status: 400, message: 'body.concurrency must be an integer from 1 to 1000, but 0 was provided' });
    expect(await put({ rate: { limit: 5, per: 'week' } })).toEqual({ status: 400, message: 'body.rate.perSeconds must be an integer number of seconds from 1 to 2592000, but "week" was provided' });
    expect(await put({ queue: 'default' })).toEqual({ status: 400, message: 'body must be concurrency, rate or both, but neither was provided' });
    expect(await put({ concurrency: 2, burst: 3 })).toEqual({ status: 400, message: 'body.burst must be absent (an override has queue, concurrency and rate), but number 3 was provided' });

    const { call: uncapped } = apiFixture();
    const refused = await uncapped(urlEvent({ method: 'PUT', path: '/v1/limits/tenants/acme', body: { concurrency: 2 } }));
    expect({ status: refused.statusCode, json: refused.json }).toMatchObject({ status: 400, json: { error: { message: expect.stringContaining('declared on a queue (perTenant)') } } });
  });
});
