/**
 * The item layout of sorted-set entries (scheduled, retry, dead) in the state table, and the
 * conversion between entries and DynamoDB items. Pure: no SDK is loaded here.
 *
 * | attribute     | type | present                                                     |
 * |---------------|------|-------------------------------------------------------------|
 * | `pk`, `sk`    | S    | always; built by lib/storage/keys.ts (`<set>#<shard>`, `<ms>#<jid>`) |
 * | `jid`         | S    | always (for a body that was not a job: its SQS message id)  |
 * | `queue`       | S    | when known                                                  |
 * | `jobtype`     | S    | when the entry holds a job                                  |
 * | `job`         | S    | the job as JSON (what goes back on the queue)               |
 * | `raw`         | S    | instead of `job`, the body of a message that was not a job  |
 * | `errtype`     | S    | why the entry is there (dead, retry)                        |
 * | `error`       | S    | the message that goes with `errtype`                        |
 * | `retry_count` | N    | from `job.failure`, when present                            |
 * | `at`          | S    | scheduled and retry sets: the due time, ISO-8601            |
 * | `failed_at`   | S    | dead set: the time of the failure, ISO-8601                 |
 * | `ttl`         | N    | dead set: epoch seconds after which DynamoDB deletes it     |
 * | `claimed_until` | N  | while a mover holds the entry: epoch ms its claim lasts     |
 * | `claimed_by`  | S    | with `claimed_until`: who holds the claim (one sweep, one call) |
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { normalizeJob, serializeJob, type Job } from '../job/model.js';
import { parseTimeSortKey, setEntryKey, type ItemKey, type SortedSetName } from './keys.js';

/** A DynamoDB item in the low-level attribute-value format. */
export type Item = Record<string, AttributeValue>;

/** Why an entry is in its set (the error that put it there). */
export interface EntryReason {
  readonly errtype: string;
  readonly message: string;
}

/** What a new sorted-set entry holds: a job, or the raw body of a message that was not one. */
export type EntryPayload =
  | { readonly job: Job }
  | {
      readonly raw: string;
      /** The identifier shown for it (the SQS message id). */
      readonly jid: string;
      readonly queue?: string;
    };

/** An entry to write into a sorted set. */
export type NewSetEntry = EntryPayload & {
  /** The entry's place in the set: due time (scheduled, retry) or failure time (dead). */
  readonly epochMs: number;
  readonly reason?: EntryReason;
  /** Epoch seconds after which DynamoDB's TTL deletes the entry. @default - kept until deleted */
  readonly ttl?: number;
};

/** An entry read back from a sorted set. */
export interface SetEntry {
  readonly set: SortedSetName;
  /** Primary key, for {@link StateTable.deleteSetEntry}. */
  readonly key: ItemKey;
  readonly epochMs: number;
  readonly jid: string;
  readonly queue?: string;
  readonly jobtype?: string;
  /** The stored job; absent for raw entries (and for a stored job that no longer validates). */
  readonly job?: Job;
  /** The raw body, for entries that were never a valid job (or whose stored job is unreadable). */
  readonly raw?: string;
  readonly reason?: EntryReason;
  readonly ttl?: number;
  /** Epoch ms until which a mover holds the entry (it is being sent to its queue). */
  readonly claimedUntilMs?: number;
  /** Who holds the claim. */
  readonly claimedBy?: string;
}

/** The jid an entry is filed under. */
export function entryJid(entry: EntryPayload): string {
  return 'job' in entry ? entry.job.jid : entry.jid;
}

/** Builds the item for `entry` in `set`. The same entry always gives the same item. */
export function toItem(set: SortedSetName, entry: NewSetEntry): Item {
  const key = setEntryKey(set, entry.epochMs, entryJid(entry));
  const item: Item = { pk: { S: key.pk }, sk: { S: key.sk }, jid: { S: entryJid(entry) } };
  if ('job' in entry) {
    item.queue = { S: entry.job.queue };
    item.jobtype = { S: entry.job.jobtype };
    item.job = { S: serializeJob(entry.job) };
    if (entry.job.failure !== undefined) item.retry_count = { N: String(entry.job.failure.retry_count) };
  } else {
    if (entry.queue !== undefined) item.queue = { S: entry.queue };
    item.raw = { S: entry.raw };
  }
  if (entry.reason !== undefined) {
    item.errtype = { S: entry.reason.errtype };
    item.error = { S: entry.reason.message };
  }
  const time = new Date(entry.epochMs).toISOString();
  if (set === 'dead') item.failed_at = { S: time };
  else item.at = { S: time };
  if (entry.ttl !== undefined) item.ttl = { N: String(Math.trunc(entry.ttl)) };
  return item;
}

/**
 * Reads an item back. Returns undefined for an item that is not a sorted-set entry (its sort key
 * does not parse), so a reader never fails on one odd item.
 */
export function fromItem(set: SortedSetName, item: Item): SetEntry | undefined {
  const pk = item.pk?.S;
  const sk = item.sk?.S;
  if (pk === undefined || sk === undefined) return undefined;
  const parsed = parseTimeSortKey(sk);
  if (parsed === undefined) return undefined;
  const jobText = item.job?.S;
  const job = jobText === undefined ? undefined : readJob(jobText);
  const raw = item.raw?.S ?? (job === undefined ? jobText : undefined);
  const queue = item.queue?.S;
  const jobtype = item.jobtype?.S;
  const errtype = item.errtype?.S;
  const ttl = item.ttl?.N;
  const claimedUntil = item.claimed_until?.N;
  const claimedBy = item.claimed_by?.S;
  return {
    set,
    key: { pk, sk },
    epochMs: parsed.epochMs,
    jid: item.jid?.S ?? parsed.jid,
    ...(queue === undefined ? {} : { queue }),
    ...(jobtype === undefined ? {} : { jobtype }),
    ...(job === undefined ? {} : { job }),
    ...(raw === undefined ? {} : { raw }),
    ...(errtype === undefined ? {} : { reason: { errtype, message: item.error?.S ?? '' } }),
    ...(ttl === undefined ? {} : { ttl: Number(ttl) }),
    ...(claimedUntil === undefined ? {} : { claimedUntilMs: Number(claimedUntil) }),
    ...(claimedBy === undefined ? {} : { claimedBy }),
  };
}

function readJob(text: string): Job | undefined {
  try {
    // Stored jobs were valid when written; the clock only matters for defaults they already have.
    return normalizeJob(JSON.parse(text), { now: new Date(0) });
  } catch {
    return undefined;
  }
}
