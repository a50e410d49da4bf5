/**
 * Unique-job locks, as request inputs. Pure: ./store.ts sends them.
 *
 * A job with `custom.unique_for: <seconds>` holds a lock on the digest of (jobtype, queue, args) —
 * SHA-256 of their canonical JSON, so key order inside args does not matter. The lock item
 * (`unique#<digest>` / `lock`) holds the holder's `jid`, and `ttl` = the job's due time +
 * `unique_for`: DynamoDB's TTL deletes it some time after that, and until then every condition
 * treats an expired lock as free (TTL deletion can lag by days).
 */
import { createHash } from 'node:crypto';
import type { DeleteItemCommandInput, PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { canonicalJson } from '../job/canonical-json.js';
import type { Job } from '../job/model.js';
import { uniqueLockKey, type ItemKey } from '../storage/keys.js';

/** When a unique job gives its lock back. */
export const UNIQUE_UNTIL = {
  /** When it succeeds (or dies): no second copy is enqueued while it waits or retries. */
  success: 'success',
  /** When it starts: a second copy may be enqueued while it runs. */
  start: 'start',
} as const;

export type UniqueUntil = keyof typeof UNIQUE_UNTIL;

/** A job's uniqueness settings, when it has them. */
export interface UniqueSpec {
  readonly forSeconds: number;
  readonly until: UniqueUntil;
}

/** The uniqueness settings of `job` (`custom.unique_for`, `custom.unique_until`), or undefined. */
export function uniqueSpecOf(job: Pick<Job, 'custom'>): UniqueSpec | undefined {
  const forSeconds = job.custom?.unique_for;
  if (forSeconds === undefined) return undefined;
  return { forSeconds, until: job.custom?.unique_until ?? UNIQUE_UNTIL.success };
}

/** The digest a job's lock is keyed by: SHA-256 (hex) of the canonical JSON of `[jobtype, queue, args]`. */
export function uniqueDigest(job: Pick<Job, 'jobtype' | 'queue' | 'args'>): string {
  return createHash('sha256').update(canonicalJson([job.jobtype, job.queue, job.args], 'args')).digest('hex');
}

/** The key of `job`'s lock. */
export function lockKeyOf(job: Pick<Job, 'jobtype' | 'queue' | 'args'>): ItemKey {
  return uniqueLockKey(uniqueDigest(job));
}

/**
 * Takes the lock for `job`, due at `dueMs`, for `spec.forSeconds` after that. Succeeds when no lock
 * is there, when the one there has expired, or when `job` itself holds it (an enqueue retried after
 * an ambiguous failure).
 */
export function planAcquire(job: Job, spec: UniqueSpec, context: { readonly tableName: string; readonly nowMs: number; readonly dueMs: number }): PutItemCommandInput {
  const key = lockKeyOf(job);
  const ttl = Math.ceil(Math.max(context.nowMs, context.dueMs) / 1000) + spec.forSeconds;
  return {
    TableName: context.tableName,
    Item: {
      pk: { S: key.pk },
      sk: { S: key.sk },
      jid: { S: job.jid },
      jobtype: { S: job.jobtype },
      queue: { S: job.queue },
      locked_at: { S: new Date(context.nowMs).toISOString() },
      expires_at: { S: new Date(ttl * 1000).toISOString() },
      ttl: { N: String(ttl) },
    },
    ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now OR #jid = :jid',
    ExpressionAttributeNames: { '#ttl': 'ttl', '#jid': 'jid' },
    ExpressionAttributeValues: { ':now': { N: String(Math.floor(context.nowMs / 1000)) }, ':jid': { S: job.jid } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Gives `job`'s lock back, if `job` still holds it (a later holder's lock is left alone). */
export function planRelease(job: Job, tableName: string): DeleteItemCommandInput {
  const key = lockKeyOf(job);
  return {
    TableName: tableName,
    Key: { pk: { S: key.pk }, sk: { S: key.sk } },
    ConditionExpression: '#jid = :jid',
    ExpressionAttributeNames: { '#jid': 'jid' },
    ExpressionAttributeValues: { ':jid': { S: job.jid } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}
