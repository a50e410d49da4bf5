/**
 * The SQS message group of a job: its tenant. On a standard queue a `MessageGroupId` turns on
 * Amazon SQS fair queues, which serve quiet tenants first while one tenant has a disproportionate
 * share of the messages in flight — fairness at no extra request. Every path that sends a job
 * message takes its group from here (docs/decisions.md, "Tenant as message group").
 */
import { createHash } from 'node:crypto';
import { isRecord, type Job } from './model.js';

/** What SQS accepts as a `MessageGroupId` (the same on FIFO and standard queues). */
export const MESSAGE_GROUP_ID = {
  maxLength: 128,
  /** Letters, digits and ASCII punctuation, `!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`: no space, nothing else. */
  pattern: /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/,
  /** The prefix of the group of a tenant that is not a valid group id itself. */
  hashedPrefix: 'tenant-sha256:',
} as const;

/**
 * Why `value` is not a `MessageGroupId` SQS accepts, or undefined when it is.
 *
 * @example
 * messageGroupIdProblem('acme')      // undefined
 * messageGroupIdProblem('a b')       // 'may contain only letters, digits and ASCII punctuation, but has " "'
 */
export function messageGroupIdProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MESSAGE_GROUP_ID.maxLength) return `must be at most ${MESSAGE_GROUP_ID.maxLength} characters, but has ${value.length}`;
  if (MESSAGE_GROUP_ID.pattern.test(value)) return undefined;
  const bad = [...value].find((char) => !MESSAGE_GROUP_ID.pattern.test(char)) ?? '';
  return `may contain only letters, digits and ASCII punctuation, but has ${JSON.stringify(bad)}`;
}

/**
 * The message group of a tenant: the tenant itself when SQS accepts it as a group id, otherwise
 * `tenant-sha256:` and the SHA-256 of its UTF-8 bytes in hex (78 characters). Hashing keeps one
 * tenant one group whatever its name (a principal ARN can pass 128 characters; a tenant may hold a
 * space or a letter outside ASCII), so a send never fails for its tenant.
 *
 * @example
 * messageGroupOfTenant('acme') // 'acme'
 */
export function messageGroupOfTenant(tenant: string): string {
  if (messageGroupIdProblem(tenant) === undefined) return tenant;
  return MESSAGE_GROUP_ID.hashedPrefix + createHash('sha256').update(tenant, 'utf8').digest('hex');
}

/** The message group a job is sent with: its tenant's (`custom.tenant`); none without a tenant. */
export function messageGroupOf(job: Pick<Job, 'custom'>): string | undefined {
  return groupOfTenantField(job.custom?.tenant);
}

/** The group of a `custom.tenant` value as found (a job's, or a body's not yet validated). */
function groupOfTenantField(tenant: unknown): string | undefined {
  return typeof tenant === 'string' && tenant.length > 0 ? messageGroupOfTenant(tenant) : undefined;
}

/**
 * The message group of a message body Hopper sent: a job, or a failure envelope (`{ hopper:
 * 'failure', job }`) — for moving messages it did not make itself (the admin redrive). None when
 * the body is neither or has no tenant.
 */
export function messageGroupOfBody(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const job = parsed.hopper === 'failure' ? parsed.job : parsed;
  const custom = isRecord(job) ? job.custom : undefined;
  return groupOfTenantField(isRecord(custom) ? custom.tenant : undefined);
}
