/**
 * `hopper limits`: the per-tenant caps as a table, `set` sending the override the command line
 * spells, `unset` removing one, and usage errors that name what was wrong.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-fakes.js';

const limits = (args: string[], answers: { status: number; body?: unknown }[] = []) => runCli(['limits', ...args], answers);

describe('hopper limits', () => {
  it('lists each capped queue\'s cap and the overrides', async () => {
    const { code, stdout } = await limits(['--url', 'http://api'], [{
      status: 200,
      body: {
        declared: { email: { concurrency: 5, rate: { limit: 100, per_seconds: 60 } } },
        overrides: [{ tenant: 'acme', queue: null, cap: { concurrency: 20 }, updated_at: '2026-12-07T12:00:00.000Z' }, { tenant: 'bolt', queue: 'email', cap: { rate: { limit: 5, per_seconds: 90 } }, updated_at: '2026-12-07T12:01:00.000Z' }],
        truncated: false,
      },
    }]);
    expect(code).toBe(0);
    expect(stdout).toBe([
      'TENANT          QUEUE                 CONCURRENCY  RATE        SET AT',
      '(every tenant)  email                 5            100/minute',
      'acme            (every capped queue)  20           -           2026-12-07T12:00:00.000Z',
      'bolt            email                 -            5/90s       2026-12-07T12:01:00.000Z',
      '',
    ].join('\n'));
  });

  it('sets an override from concurrency=<n> rate=<n>/<interval> on one queue', async () => {
    const answer = { tenant: 'acme', queue: 'email', cap: { concurrency: 20, rate: { limit: 100, per_seconds: 60 } }, updated_at: '2026-12-07T12:00:00.000Z' };
    const { code, stdout, calls } = await limits(['set', 'tenant:acme', 'concurrency=20', 'rate=100/minute', '--queue', 'email', '--url', 'http://api'], [{ status: 200, body: answer }]);
    expect({ code, calls }).toEqual({ code: 0, calls: [{ method: 'PUT', path: '/v1/limits/tenants/acme', body: { queue: 'email', concurrency: 20, rate: { limit: 100, per: 'minute' } } }] });
    expect(stdout).toBe('tenant acme on queue email: concurrency 20, rate 100/minute (in force within a minute)\n');
  });

  it('removes an override on every capped queue, with the tenant id encoded', async () => {
    const { code, stdout, calls } = await limits(['unset', 'tenant:arn:aws:iam::1:role/app', '--url', 'http://api'], [{ status: 204 }]);
    expect({ code, calls }).toEqual({ code: 0, calls: [{ method: 'DELETE', path: '/v1/limits/tenants/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fapp', body: undefined }] });
    expect(stdout).toBe('override of tenant arn:aws:iam::1:role/app on every capped queue removed\n');
  });

  it.each([
    [['set', 'acme', 'concurrency=2'], 'limits set and unset need tenant:<id>, but "acme" was provided'],
    [['set', 'tenant:acme'], 'limits set needs concurrency=<n>, rate=<n>/<interval> or both'],
    [['set', 'tenant:acme', 'rate=100/week'], 'rate must be <n>/<second|minute|hour|day|<seconds>s>, e.g. 100/minute, but "100/week" was provided'],
    [['set', 'tenant:acme', 'burst=3'], 'limits set takes concurrency=<n> and rate=<n>/<interval>, but "burst=3" was provided'],
    [['drop', 'tenant:acme'], 'limits takes set or unset, but "drop" was provided'],
  ])('refuses %j with exit code 2', async (args, message) => {
    const { code, stderr, calls } = await limits([...args, '--url', 'http://api']);
    expect({ code, calls }).toEqual({ code: 2, calls: [] });
    expect(stderr).toContain(`error: ${message}\n`);
  });

  it('prints the API\'s own message when it refuses', async () => {
    const { code, stderr } = await limits(['set', 'tenant:acme', 'concurrency=2', '--queue', 'critical', '--url', 'http://api'], [{ status: 400, body: { error: { code: 'bad_parameter', message: 'body.queue must be one of the queues declaring perTenant: email, but "critical" was provided' } } }]);
    expect({ code, stderr }).toEqual({ code: 1, stderr: 'error: body.queue must be one of the queues declaring perTenant: email, but "critical" was provided\n' });
  });
});
