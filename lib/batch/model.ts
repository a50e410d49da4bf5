/**
 * The batch model: job statuses, how each change of status moves a batch's counters, and the
 * batch item as stored. Pure: no SDK is loaded here.
 *
 * A batch item (`batch#<bid>` / `batch`) holds:
 * | attribute              | type | meaning                                                      |
 * |------------------------|------|--------------------------------------------------------------|
 * | `bid`, `created_at`    | S    | identity and creation time (ISO-8601)                         |
 * | `description`          | S    | optional, free text                                           |
 * | `parent`               | S    | the parent batch's bid, for a child batch                     |
 * | `child_bids`           | SS   | bids of the child batches                                     |
 * | `callbacks`            | S    | JSON: `{ complete?, success?, death? }`, each a job input     |
 * | `total`                | N    | jobs added                                                    |
 * | `pending`              | N    | jobs that have not finished a first run                       |
 * | `succeeded`            | N    | jobs that succeeded                                           |
 * | `failures`             | N    | jobs whose last run failed (dead ones included)               |
 * | `dead`                 | N    | jobs in the dead set                                          |
 * | `open`                 | N    | fills in progress: 1 until sealed, +1 per `Batch.jobs`; callbacks wait for 0 |
 * | `sealed`               | BOOL | false until the producer seals the batch (`Batch.seal`); absent on batches from before sealing, which count as sealed |
 * | `children`             | N    | child batches                                                 |
 * | `children_complete`    | N    | child batches whose `complete` was claimed                    |
 * | `children_succeeded`   | N    | child batches whose `success` was claimed                     |
 * | `children_dead`        | N    | child batches whose `death` was claimed                       |
 * | `<event>_at`           | S    | when the `<event>` callback was claimed (fired)               |
 * | `<event>_sent_at`      | S    | when its callback job was sent                                |
 * | `<event>_parent`       | S    | the parent the callback job was added to, when it was         |
 * | `<event>_run_by`       | S    | the SQS message id whose delivery runs the callback job       |
 * | `<event>_done_at`      | S    | when the callback job succeeded (and its own batch bookkeeping was written) |
 * | `ttl`                  | N    | epoch seconds after which DynamoDB deletes the item           |
 * | `flow`                 | S    | JSON `{ id, step, attempt }`: the batch runs that step of a flow (lib/flow) |
 *
 * | `tallied_seq_<shard>`  | S    | the stream sequence number (zero-padded) of the last record of job item shard `<shard>` counted in, see `tallyDeltas` (`tallied_seq`: of job items under the batch's own key, written before the shards) |
 *
 * A job item (`batch#<bid>#<shard>` / `job#<jid>`, lib/storage/keys.ts) holds `jid`, `status` (failed, succeeded, dead; pending
 * only for a callback job added to its parent, or on batches from before tallying), `tally` (the
 * number of outcome writes whose counting is left to the batch function), `created_at`,
 * `updated_at` and `ttl`. A job has no item until its first outcome: until then it is counted in
 * `pending` only.
 *
 * An add item (`batch#<bid>` / `add#<digest>`) stands for one registration of jobs (the digest of
 * their sorted jids): `jobs` (how many), `unsent` (jids taken out again because SQS did not take
 * them), `v` (its version, for conditional changes of `unsent`), `created_at` and `ttl`.
 *
 * Invariant (once the batch function has counted every job record): `total = pending + succeeded +
 * failures`; `dead ≤ failures`.
 */
import type { AttributeRead, ItemRead } from '../aws/dynamo.js';
import { isRecord, type JobInput } from '../job/model.js';

/** Where a job of a batch stands. */
export const JOB_STATUSES = {
  /** Added, not yet finished a first run. */
  pending: 'pending',
  /** Its last run failed; retries may follow. */
  failed: 'failed',
  /** Ran successfully (final). */
  succeeded: 'succeeded',
  /** In the dead set. */
  dead: 'dead',
} as const;

export type JobStatus = keyof typeof JOB_STATUSES;

/** What a run (or the retry function) reports about a job. */
export type JobOutcome = 'succeeded' | 'failed' | 'dead';

/** The counters of a batch item. */
export const COUNTERS = [
  'total', 'pending', 'succeeded', 'failures', 'dead', 'open',
  'children', 'children_complete', 'children_succeeded', 'children_dead',
] as const;

export type Counter = (typeof COUNTERS)[number];

/** How much each counter moves. */
export type CounterDeltas = Partial<Record<Counter, number>>;

/**
 * The changes of status a job may go through, and what each does to its batch's counters. A
 * change not listed (succeeded → anything, failed → failed, …) changes nothing: that is what makes
 * a duplicate report harmless.
 */
export const TRANSITIONS: Readonly<Record<JobOutcome, Partial<Record<JobStatus, CounterDeltas>>>> = {
  succeeded: {
    pending: { pending: -1, succeeded: 1 },
    failed: { failures: -1, succeeded: 1 },
    // A dead job retried by hand that then succeeds.
    dead: { failures: -1, dead: -1, succeeded: 1 },
  },
  failed: {
    pending: { pending: -1, failures: 1 },
  },
  dead: {
    pending: { pending: -1, failures: 1, dead: 1 },
    failed: { dead: 1 },
  },
};

/** The counter deltas of `from → to`, or undefined when that change does nothing. */
export function transitionDeltas(from: JobStatus, to: JobOutcome): CounterDeltas | undefined {
  return TRANSITIONS[to][from];
}

/** The job item attribute an outcome write increments, so the batch function counts that write. */
export const TALLY_ATTRIBUTE = 'tally';

/** The batch item attribute holding the last job record counted in (of job items under the batch's own key). */
export const TALLIED_SEQ_ATTRIBUTE = 'tallied_seq';

/**
 * The batch item attribute holding the last record counted in of job item shard `shard`: records of
 * one partition key reach the stream in order, so each shard has its own guard.
 */
export function talliedSeqAttribute(shard: number | undefined): string {
  return shard === undefined ? TALLIED_SEQ_ATTRIBUTE : `${TALLIED_SEQ_ATTRIBUTE}_${shard}`;
}

/**
 * The counter deltas of one job item stream record, when its write is one the batch function counts:
 * the write incremented `tally` (an outcome written by `BatchStore.record`, or by a worker in another
 * language) and changed the status along a listed transition. A job item without an old image was
 * pending. Writes that leave `tally` alone (a pending callback job added by a claim, or items of
 * batches from before tallying, whose counters moved in the same transaction) count nothing.
 */
export function tallyDeltas(oldImage: ItemRead | undefined, newImage: ItemRead | undefined): CounterDeltas | undefined {
  const tallyAfter = Number(newImage?.[TALLY_ATTRIBUTE]?.N ?? '0');
  const tallyBefore = Number(oldImage?.[TALLY_ATTRIBUTE]?.N ?? '0');
  if (!(tallyAfter > tallyBefore)) return undefined;
  const to = readJobStatus(newImage);
  if (to === undefined || to === 'pending') return undefined;
  return transitionDeltas(readJobStatus(oldImage) ?? 'pending', to);
}

/** The batch events that have callbacks, in the order they are claimed. */
export const CALLBACK_EVENTS = ['complete', 'success', 'death'] as const;

export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

/** The counter of the parent that a child's claimed event moves. */
export const PARENT_COUNTER: Readonly<Record<CallbackEvent, Counter>> = {
  complete: 'children_complete',
  success: 'children_succeeded',
  death: 'children_dead',
};

/** A callback: the job to enqueue when the event happens (its jid is chosen by Hopper). */
export type CallbackJob = Omit<JobInput, 'jid' | 'at' | 'created_at'>;

/** A batch as read from its item. */
export interface BatchState {
  readonly bid: string;
  readonly createdAt: string;
  readonly description?: string;
  readonly parent?: string;
  readonly childBids: readonly string[];
  readonly counters: Readonly<Record<Counter, number>>;
  /** The producer has said it added every job (`Batch.seal`): until then no callback fires. */
  readonly sealed: boolean;
  readonly callbacks: Readonly<Partial<Record<CallbackEvent, CallbackJob>>>;
  /** When each event was claimed. */
  readonly claimedAt: Readonly<Partial<Record<CallbackEvent, string>>>;
  /** When each event's callback job was sent. */
  readonly sentAt: Readonly<Partial<Record<CallbackEvent, string>>>;
  /** The parent each event's callback job was added to. */
  readonly callbackParent: Readonly<Partial<Record<CallbackEvent, string>>>;
  /** The flow step this batch runs (lib/flow), when it runs one. */
  readonly flow?: FlowStepRef;
  readonly ttl?: number;
}

/** A step of a flow, in its attempt: what a step's batch and its job are marked with. */
export interface FlowStepRef {
  readonly id: string;
  readonly step: string;
  readonly attempt: number;
}

/** Reads a {@link FlowStepRef} (a batch item's `flow`, a job's `custom.flow`), or undefined. */
export function readFlowStepRef(value: unknown): FlowStepRef | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!isRecord(parsed) || typeof parsed.id !== 'string' || typeof parsed.step !== 'string' || typeof parsed.attempt !== 'number') return undefined;
  return { id: parsed.id, step: parsed.step, attempt: parsed.attempt };
}

/**
 * Attribute names of the claim, the sent mark, the callback's parent, the run claim (the SQS
 * message whose delivery runs the callback job) and the done mark of `event`.
 */
export function eventAttributes(event: CallbackEvent): { readonly at: string; readonly sentAt: string; readonly parent: string; readonly runBy: string; readonly doneAt: string } {
  return { at: `${event}_at`, sentAt: `${event}_sent_at`, parent: `${event}_parent`, runBy: `${event}_run_by`, doneAt: `${event}_done_at` };
}

/**
 * Reads a batch item (or a stream image of one). Returns undefined for an item that is not a batch
 * (no `bid`), so a reader never fails on one odd item.
 */
export function readBatchItem(item: ItemRead): BatchState | undefined {
  const bid = item.bid?.S;
  if (bid === undefined) return undefined;
  const counters = readCounters(item);
  const claimedAt: Partial<Record<CallbackEvent, string>> = {};
  const sentAt: Partial<Record<CallbackEvent, string>> = {};
  const callbackParent: Partial<Record<CallbackEvent, string>> = {};
  for (const event of CALLBACK_EVENTS) {
    const names = eventAttributes(event);
    const at = item[names.at]?.S;
    const sent = item[names.sentAt]?.S;
    const parent = item[names.parent]?.S;
    if (at !== undefined) claimedAt[event] = at;
    if (sent !== undefined) sentAt[event] = sent;
    if (parent !== undefined) callbackParent[event] = parent;
  }
  const description = item.description?.S;
  const parent = item.parent?.S;
  const ttl = item.ttl?.N;
  const flow = readFlowStepRef(item.flow?.S);
  return {
    bid,
    createdAt: item.created_at?.S ?? '',
    ...(description === undefined ? {} : { description }),
    ...(parent === undefined ? {} : { parent }),
    childBids: [...(item.child_bids?.SS ?? [])].sort(),
    counters,
    sealed: item.sealed?.BOOL !== false,
    callbacks: readCallbacks(item.callbacks?.S),
    claimedAt,
    sentAt,
    callbackParent,
    ...(flow === undefined ? {} : { flow }),
    ...(ttl === undefined ? {} : { ttl: Number(ttl) }),
  };
}

/** The status of a job item, or undefined when the item is missing or not a job item. */
export function readJobStatus(item: ItemRead | undefined): JobStatus | undefined {
  const status = item?.status?.S;
  return isJobStatus(status) ? status : undefined;
}

function isJobStatus(value: string | undefined): value is JobStatus {
  return value !== undefined && Object.hasOwn(JOB_STATUSES, value);
}

function readCounters(item: ItemRead): Record<Counter, number> {
  const read = (name: Counter): number => numberOf(item[name]);
  return {
    total: read('total'),
    pending: read('pending'),
    succeeded: read('succeeded'),
    failures: read('failures'),
    dead: read('dead'),
    open: read('open'),
    children: read('children'),
    children_complete: read('children_complete'),
    children_succeeded: read('children_succeeded'),
    children_dead: read('children_dead'),
  };
}

function numberOf(value: AttributeRead | undefined): number {
  const parsed = Number(value?.N ?? '0');
  return Number.isFinite(parsed) ? parsed : 0;
}

function readCallbacks(text: string | undefined): Partial<Record<CallbackEvent, CallbackJob>> {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isRecord(parsed)) return {};
  const callbacks: Partial<Record<CallbackEvent, CallbackJob>> = {};
  for (const event of CALLBACK_EVENTS) {
    const callback = parsed[event];
    if (isRecord(callback) && typeof callback.jobtype === 'string') callbacks[event] = { ...callback, jobtype: callback.jobtype };
  }
  return callbacks;
}
