/**
 * Quotas are keyed on the caller's authenticated IAM identity (mapped through the tenant map),
 * never on anything the request body says: a producer cannot escape its quota by naming another
 * tenant, and one producer spending its quota leaves another's untouched.
 */
import { describe, expect, it } from 'vitest';
import { tenantOf } from '../../lib/api/event.js';
import { withoutRolePath } from '../../lib/aws/principal.js';
import { resolveQuotas } from '../../lib/quota/index.js';
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

describe('tenants and quotas of roles with a path (IAM Identity Center)', () => {
  // The role's ARN has a path; its sessions, as the Function URL passes them, do not.
  const ssoRole = 'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Dev_0123abcd';
  const ssoSession = roleSession('AWSReservedSSO_Dev_0123abcd');

  it('matches a tenant configured by the role ARN with its path', () => {
    expect(ssoSession.userArn).toBe('arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123abcd/session-1');
    expect(tenantOf(ssoSession, { [ssoRole]: 'platform-team' })).toBe('platform-team');
    expect(withoutRolePath(ssoRole)).toBe('arn:aws:iam::111122223333:role/AWSReservedSSO_Dev_0123abcd');
    // A user keeps its path: the Function URL passes a user's ARN with it.
    expect(withoutRolePath('arn:aws:iam::111122223333:user/ci/deployer')).toBe('arn:aws:iam::111122223333:user/ci/deployer');
  });

  it('charges the configured tenant\'s quota, and applies a quota keyed by the role ARN with its path', async () => {
    const mapped = apiFixture({ tenants: { [ssoRole]: 'platform-team' }, quotas: resolveQuotas({ default: { limit: 1, per: 'minute' }, tenants: { 'platform-team': { limit: 2, per: 'minute' } } }) });
    const byRole = apiFixture({ tenants: {}, quotas: resolveQuotas({ default: { limit: 1, per: 'minute' }, tenants: { [ssoRole]: { limit: 3, per: 'minute' } } }) });

    const mappedStatuses = [];
    for (let i = 0; i < 3; i += 1) mappedStatuses.push((await mapped.call(post({ jobtype: 'A' }, ssoSession))).statusCode);
    const byRoleStatuses = [];
    for (let i = 0; i < 4; i += 1) byRoleStatuses.push((await byRole.call(post({ jobtype: 'A' }, ssoSession))).statusCode);

    expect(mappedStatuses).toEqual([202, 202, 429]);
    expect(byRoleStatuses).toEqual([202, 202, 202, 429]);
    const tenants = mapped.sqs.batches.flatMap((batch) => batch.entries.map((entry) => JSON.parse(entry.MessageBody ?? '{}').custom?.tenant));
    expect(tenants).toEqual(['platform-team', 'platform-team']);
  });
});
