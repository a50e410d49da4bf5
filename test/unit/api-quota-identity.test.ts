/**
 * Quotas are keyed on the caller's authenticated IAM identity (mapped through the tenant map),
 * never on anything the request body says: a producer cannot escape its quota by naming another
 * tenant, and one producer spending its quota leaves another's untouched.
 */
import { describe, expect, it } from 'vitest';
import { apiFixture, roleSession, urlEvent } from './api-fakes.js';

const post = (body: unknown, iam = roleSession()) => urlEvent({ method: 'POST', path: '/v1/jobs', body, iam });

describe('quotas keyed on the authenticated identity', () => {
  it('charges the tenant the identity maps to, whatever custom.tenant the body claims', async () => {
    const { call } = apiFixture();
    for (let i = 0; i < 3; i += 1) expect((await call(post({ jobtype: 'A', custom: { tenant: `tenant-${i}` } }))).statusCode).toBe(202);

    const escaping = await call(post({ jobtype: 'A', custom: { tenant: 'someone-else' } }));

    expect(escaping.statusCode).toBe(429);
    expect(escaping.json).toMatchObject({ error: { limits: [{ scope: 'tenant', id: 'acme' }] } });
  });

  it('keeps a separate bucket for another identity, named by its role ARN', async () => {
    const { call, sqs } = apiFixture();
    for (let i = 0; i < 3; i += 1) await call(post({ jobtype: 'A' }));

    const other = await call(post({ jobtype: 'A' }, roleSession('Other')));

    expect(other.statusCode).toBe(202);
    expect((await call(post({ jobtype: 'A' }))).statusCode).toBe(429);
    const tenants = sqs.batches.flatMap((batch) => batch.entries.map((entry) => JSON.parse(entry.MessageBody ?? '{}').custom?.tenant));
    expect(tenants).toEqual(['acme', 'acme', 'acme', 'arn:aws:iam::111122223333:role/Other']);
  });
});
