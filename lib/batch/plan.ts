/**
 * The DynamoDB writes of batch bookkeeping, as request inputs. Pure: the store (./store.ts) sends
 * them. In every transaction the batch item comes first, so cancellation reasons line up:
 * reason 0 is the batch item, reason 1 the add item of a registration (or, in a claim, the parent).
 * A job's outcome is no transaction: one conditional update of its job item (`planOutcome`),
 * counted into the batch by the batch function (`planTally`).
 *
 * Every write is conditional on the state it expects (a job's previous status, a claim not yet
 * made), and every condition asks for the item back (`ReturnValuesOnConditionCheckFailure:
 * 'ALL_OLD'`), so the store can tell a duplicate (nothing to do) from a different state (plan again)
 * without a read.
 */
import { createHash } from 'node:crypto';
import type { AttributeValue, PutItemCommandInput, TransactWriteItem, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { batchAddKey, batchJobKey, batchKey, RECENT_BATCHES, recentBatchKeys, type ItemKey } from '../storage/keys.js';
import { callbackJid } from './callbacks.js';
import {
  COUNTERS, PARENT_COUNTER, TALLIED_SEQ_ATTRIBUTE, TALLY_ATTRIBUTE, eventAttributes,
  type BatchState, type CallbackEvent, type CallbackJob, type CounterDeltas, type FlowStepRef, type JobOutcome, type JobStatus,
} from './model.js';

/** DynamoDB allows 100 items per transaction; one is the batch item. Bounds a store's re-planning rounds. */
export const JOBS_PER_TRANSACTION = 99;

type Values = Record<string, AttributeValue>;

/** What every plan needs: the table, the clock and the TTL of new items. */
export interface PlanContext {
  readonly tableName: string;
  readonly now: Date;
  /** Epoch seconds after which new items are deleted by DynamoDB's TTL. */
  readonly ttl: number;
}

/** A batch to create. */
export interface NewBatch {
  readonly bid: string;
  readonly description?: string;
  readonly parent?: string;
  readonly callbacks: Readonly<Partial<Record<CallbackEvent, CallbackJob>>>;
  /** The flow step the batch runs (lib/flow). */
  readonly flow?: FlowStepRef;
}

/** One job's change of status. */
export interface StatusChange {
  readonly jid: string;
  readonly from: JobStatus;
  readonly to: JobOutcome;
}

/** Adds job `jid` to batch `bid` as pending, unless it is there already (then the transaction fails). */
function pendingJobPut(bid: string, jid: string, now: string, context: Pick<PlanContext, 'tableName' | 'ttl'>): TransactWriteItem {
  return {
    Put: {
      TableName: context.tableName,
      Item: {
        ...key(batchJobKey(bid, jid)),
        jid: { S: jid },
        status: { S: 'pending' },
        created_at: { S: now },
        updated_at: { S: now },
        ttl: { N: String(context.ttl) },
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function key(itemKey: ItemKey): Values {
  return { pk: { S: itemKey.pk }, sk: { S: itemKey.sk } };
}

/** `ADD #c_total :c_total, …` for the non-zero deltas. */
export function counterUpdate(deltas: CounterDeltas): { expression: string; names: Record<string, string>; values: Values } {
  const names: Record<string, string> = {};
  const values: Values = {};
  const parts: string[] = [];
  for (const counter of COUNTERS) {
    const delta = deltas[counter] ?? 0;
    if (delta === 0) continue;
    names[`#c_${counter}`] = counter;
    values[`:c_${counter}`] = { N: String(delta) };
    parts.push(`#c_${counter} :c_${counter}`);
  }
  return { expression: parts.length === 0 ? '' : `ADD ${parts.join(', ')}`, names, values };
}

/** Sums the deltas of several changes. */
export function sumDeltas(all: readonly CounterDeltas[]): CounterDeltas {
  const sum: Partial<Record<(typeof COUNTERS)[number], number>> = {};
  for (const deltas of all) {
    for (const counter of COUNTERS) sum[counter] = (sum[counter] ?? 0) + (deltas[counter] ?? 0);
  }
  return sum;
}

/**
 * A new batch item: unsealed, so it holds one open fill (the producer's) until `planSeal`; callbacks
 * wait for `open = 0`, so none can fire while the producer is still adding jobs.
 */
function newBatchItem(batch: NewBatch, context: PlanContext): Values {
  const item: Values = {
    ...key(batchKey(batch.bid)),
    bid: { S: batch.bid },
    created_at: { S: context.now.toISOString() },
    callbacks: { S: JSON.stringify(batch.callbacks) },
    ttl: { N: String(context.ttl) },
    sealed: { BOOL: false },
  };
  // Listed in the recent-batches index (storage/keys.ts), newest first per day.
  const recent = recentBatchKeys(batch.bid, context.now.getTime());
  item[RECENT_BATCHES.partitionKey] = { S: recent.rpk };
  item[RECENT_BATCHES.sortKey] = { S: recent.rsk };
  for (const counter of COUNTERS) item[counter] = { N: counter === 'open' ? '1' : '0' };
  if (batch.description !== undefined) item.description = { S: batch.description };
  if (batch.parent !== undefined) item.parent = { S: batch.parent };
  if (batch.flow !== undefined) item.flow = { S: JSON.stringify(batch.flow) };
  return item;
}

/** Creates a batch that has no parent: one conditional put (an existing bid is left as it is). */
export function planCreateRoot(batch: NewBatch, context: PlanContext): PutItemCommandInput {
  return {
    TableName: context.tableName,
    Item: newBatchItem(batch, context),
    ConditionExpression: 'attribute_not_exists(pk)',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Creates a child batch and counts it in its parent, atomically: [the parent's counters, the
 * child]. The parent must exist and must not have succeeded yet.
 */
export function planCreateChild(batch: NewBatch & { readonly parent: string }, context: PlanContext): TransactWriteItem[] {
  return [
    {
      Update: {
        TableName: context.tableName,
        Key: key(batchKey(batch.parent)),
        UpdateExpression: 'ADD #children :one, #child_bids :child',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#success_at)',
        ExpressionAttributeNames: { '#children': 'children', '#child_bids': 'child_bids', '#success_at': eventAttributes('success').at },
        ExpressionAttributeValues: { ':one': { N: '1' }, ':child': { SS: [batch.bid] } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    {
      Put: {
        TableName: context.tableName,
        Item: newBatchItem(batch, context),
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  ];
}

/** Jobs per registration: each is one add item, whose `unsent` set must stay far below 400 KB. */
export const JOBS_PER_REGISTRATION = 1000;

/**
 * The registrations of `jids`: the unique jids in jid order, cut into chunks of
 * {@link JOBS_PER_REGISTRATION}, each with the digest of its jids. Adding the same jobs again
 * (a retried call, a job that runs twice and adds the same `<jid>-<n>` jobs) gives the same
 * registrations, so it counts nothing twice.
 */
export function registrationsOf(jids: readonly string[]): { readonly digest: string; readonly jids: readonly string[] }[] {
  const sorted = [...new Set(jids)].sort();
  const chunks: { digest: string; jids: string[] }[] = [];
  for (let start = 0; start < sorted.length; start += JOBS_PER_REGISTRATION) {
    const chunk = sorted.slice(start, start + JOBS_PER_REGISTRATION);
    chunks.push({ digest: createHash('sha256').update(chunk.join('\n')).digest('base64url').slice(0, 22), jids: chunk });
  }
  return chunks;
}

/**
 * Adds jobs to a batch before they are sent: [the batch's `total` and `pending` + n, an add item
 * standing for these jobs]. Because `pending` grows before any of them can run, the batch cannot
 * look finished while it is being filled. The add item exists already when the same jobs were
 * registered before; the transaction then fails and the store counts nothing.
 */
export function planRegister(bid: string, registration: { readonly digest: string; readonly jids: readonly string[] }, context: PlanContext): TransactWriteItem[] {
  const now = context.now.toISOString();
  return [
    registrationCounters(bid, registration.jids.length, context),
    {
      Put: {
        TableName: context.tableName,
        Item: {
          ...key(batchAddKey(bid, registration.digest)),
          jobs: { N: String(registration.jids.length) },
          v: { N: '0' },
          created_at: { S: now },
          ttl: { N: String(context.ttl) },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  ];
}

/** The batch's `total` and `pending` moved by `delta` jobs; growing is refused once success fired. */
function registrationCounters(bid: string, delta: number, context: PlanContext): TransactWriteItem {
  const counters = counterUpdate({ total: delta, pending: delta });
  const growing = delta > 0;
  return {
    Update: {
      TableName: context.tableName,
      Key: key(batchKey(bid)),
      UpdateExpression: counters.expression,
      ConditionExpression: growing ? 'attribute_exists(pk) AND attribute_not_exists(#success_at)' : 'attribute_exists(pk)',
      ExpressionAttributeNames: { ...counters.names, ...(growing ? { '#success_at': eventAttributes('success').at } : {}) },
      ExpressionAttributeValues: counters.values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * Moves registered jobs in or out of their registration's `unsent` set, with the batch's `total`
 * and `pending`: `out` takes jobs SQS did not take out of the batch (− n), `in` counts them again
 * when the same registration is repeated (+ n). Conditional on the add item's version `v`, so two
 * callers cannot move the same jobs twice; a failed condition returns the item to plan again from.
 */
export function planUnsent(bid: string, digest: string, change: { readonly jids: readonly string[]; readonly direction: 'in' | 'out'; readonly version: number }, context: PlanContext): TransactWriteItem[] {
  const out = change.direction === 'out';
  return [
    registrationCounters(bid, out ? -change.jids.length : change.jids.length, context),
    {
      Update: {
        TableName: context.tableName,
        Key: key(batchAddKey(bid, digest)),
        UpdateExpression: `SET #v = :next ${out ? 'ADD' : 'DELETE'} #unsent :jids`,
        ConditionExpression: '#v = :v',
        ExpressionAttributeNames: { '#v': 'v', '#unsent': 'unsent' },
        ExpressionAttributeValues: { ':v': { N: String(change.version) }, ':next': { N: String(change.version + 1) }, ':jids': { SS: [...change.jids] } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  ];
}

/** The statuses an outcome may be written over (./model.ts `TRANSITIONS`, a missing item being pending). */
const OUTCOME_FROM: Readonly<Record<JobOutcome, readonly JobStatus[]>> = {
  succeeded: ['pending', 'failed', 'dead'],
  failed: ['pending'],
  dead: ['pending', 'failed'],
};

/**
 * Writes one job's outcome on its job item, conditional on a status it may change from, and
 * increments its `tally` so the batch function counts the change from the stream record (the old
 * image holds the status it had). A duplicate report (a success after success) fails the
 * condition, writes nothing and so counts nothing. One write unit for a job item under 1 KB.
 */
export function planOutcome(bid: string, jid: string, to: JobOutcome, context: PlanContext): UpdateItemCommandInput {
  const from = OUTCOME_FROM[to];
  const now = context.now.toISOString();
  return {
    TableName: context.tableName,
    Key: key(batchJobKey(bid, jid)),
    UpdateExpression: 'SET #status = :to, #jid = :jid, #updated_at = :now, #created_at = if_not_exists(#created_at, :now), #ttl = if_not_exists(#ttl, :ttl) ADD #tally :one',
    ConditionExpression: `attribute_not_exists(#status) OR #status IN (${from.map((_, index) => `:from${index}`).join(', ')})`,
    ExpressionAttributeNames: { '#status': 'status', '#jid': 'jid', '#updated_at': 'updated_at', '#created_at': 'created_at', '#ttl': 'ttl', '#tally': TALLY_ATTRIBUTE },
    ExpressionAttributeValues: {
      ':to': { S: to }, ':jid': { S: jid }, ':now': { S: now }, ':ttl': { N: String(context.ttl) }, ':one': { N: '1' },
      ...Object.fromEntries(from.map((status, index) => [`:from${index}`, { S: status }])),
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Stream sequence numbers are 21 to 40 digits: padded to 40, they compare as strings. */
export function paddedSequence(sequenceNumber: string): string {
  return sequenceNumber.padStart(40, '0');
}

/** The records of one job item shard that a tally counts: its guard attribute and their sequence numbers. */
export interface TalliedRange {
  /** The batch item attribute guarding the shard (model.ts `talliedSeqAttribute`). */
  readonly guard: string;
  readonly first: string;
  readonly last: string;
}

/**
 * Counts job records of one batch in, once: [the batch's counters moved by `deltas`, each shard's
 * guard set to the last of its records' sequence numbers], on condition that no record of any of
 * those shards from its first one on was counted before. Records of one partition key (one shard of
 * the batch's job items) reach the stream in the order of their writes and the batch function in
 * that order (a retry starts again at or before the records it counted); the store drops those at
 * or before their shard's guard and plans again when the condition fails.
 */
export function planTally(bid: string, deltas: CounterDeltas, ranges: readonly TalliedRange[], context: Pick<PlanContext, 'tableName'>): UpdateItemCommandInput {
  const counters = counterUpdate(deltas);
  const names: Record<string, string> = {};
  const values: Values = {};
  const sets: string[] = [];
  const conditions: string[] = ['attribute_exists(pk)'];
  ranges.forEach((range, index) => {
    names[`#seq${index}`] = range.guard;
    values[`:first${index}`] = { S: paddedSequence(range.first) };
    values[`:last${index}`] = { S: paddedSequence(range.last) };
    sets.push(`#seq${index} = :last${index}`);
    conditions.push(`(attribute_not_exists(#seq${index}) OR #seq${index} < :first${index})`);
  });
  return {
    TableName: context.tableName,
    Key: key(batchKey(bid)),
    UpdateExpression: `SET ${sets.join(', ')} ${counters.expression}`.trim(),
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: { ...counters.names, ...names },
    ExpressionAttributeValues: { ...counters.values, ...values },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Which parts of a claim to write (the store drops parts whose items turned out missing). */
export interface ClaimOptions {
  /** Move the parent's `children_<event>` counters (a child batch whose parent still exists). */
  readonly withParent: boolean;
  /** Events whose callback job is added to the parent (those with a callback). @default - all with a callback */
  readonly registerInParent?: readonly CallbackEvent[];
}

/**
 * Claims `events` of a batch at once: sets each `<event>_at`, on condition that none is set yet.
 * For a child batch whose parent is still there, the same transaction moves the parent's
 * `children_<event>` counters and adds the child's callback jobs to the parent, so the parent does
 * not finish before its children's callbacks have run. Items: [the batch, the parent, one callback
 * job item per registered event].
 */
export function planClaim(state: BatchState, events: readonly CallbackEvent[], context: PlanContext, options: ClaimOptions): TransactWriteItem[] {
  const now = context.now.toISOString();
  const parent = options.withParent ? state.parent : undefined;
  const registered = registeredEvents(state, events, options);
  const names: Record<string, string> = {};
  const values: Values = { ':now': { S: now } };
  const sets: string[] = [];
  const conditions: string[] = [];
  events.forEach((event, index) => {
    const attributes = eventAttributes(event);
    names[`#at${index}`] = attributes.at;
    sets.push(`#at${index} = :now`);
    conditions.push(`attribute_not_exists(#at${index})`);
    if (parent !== undefined && registered.includes(event)) {
      names[`#parent${index}`] = attributes.parent;
      values[':parent'] = { S: parent };
      sets.push(`#parent${index} = :parent`);
    }
  });
  const claim: TransactWriteItem = {
    Update: {
      TableName: context.tableName,
      Key: key(batchKey(state.bid)),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
  if (parent === undefined) return [claim];
  const deltas: CounterDeltas[] = events.map((event) => ({ [PARENT_COUNTER[event]]: 1 }));
  if (registered.length > 0) deltas.push({ total: registered.length, pending: registered.length });
  const counters = counterUpdate(sumDeltas(deltas));
  return [
    claim,
    {
      Update: {
        TableName: context.tableName,
        Key: key(batchKey(parent)),
        UpdateExpression: counters.expression,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: counters.names,
        ExpressionAttributeValues: counters.values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    ...registered.map((event) => pendingJobPut(parent, callbackJid(state.bid, event), now, context)),
  ];
}

/** The events a claim plan registers in the parent, in the order of their items (after the first two). */
export function registeredEvents(state: BatchState, events: readonly CallbackEvent[], options: ClaimOptions): CallbackEvent[] {
  if (!options.withParent || state.parent === undefined) return [];
  return events.filter((event) => state.callbacks[event] !== undefined && (options.registerInParent?.includes(event) ?? true));
}

/** Marks the callback jobs of `events` as sent (each once). */
export function planMarkSent(bid: string, events: readonly CallbackEvent[], context: Pick<PlanContext, 'tableName' | 'now'>): UpdateItemCommandInput {
  const names: Record<string, string> = {};
  events.forEach((event, index) => { names[`#sent${index}`] = eventAttributes(event).sentAt; });
  const indexes = events.map((_, index) => index);
  return {
    TableName: context.tableName,
    Key: key(batchKey(bid)),
    UpdateExpression: `SET ${indexes.map((index) => `#sent${index} = :now`).join(', ')}`,
    ConditionExpression: ['attribute_exists(pk)', ...indexes.map((index) => `attribute_not_exists(#sent${index})`)].join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':now': { S: context.now.toISOString() } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Claims the run of `event`'s callback job for the SQS message `messageId`: the first message to
 * get here runs the job, a redelivery of that same message may run it again (its earlier run
 * crashed), any other message is a second send of the same callback and must not run it. A retry
 * (`retry`: the job failed before, and the retry function sent it again as a new message) takes
 * over the run. Nothing runs once the job is done (`<event>_done_at`): a copy delivered after a run
 * that succeeded is not run again.
 */
export function planClaimCallbackRun(bid: string, event: CallbackEvent, messageId: string, context: Pick<PlanContext, 'tableName'> & { readonly retry?: boolean }): UpdateItemCommandInput {
  const attributes = eventAttributes(event);
  return {
    TableName: context.tableName,
    Key: key(batchKey(bid)),
    UpdateExpression: 'SET #run = :message',
    ConditionExpression: context.retry === true
      ? 'attribute_exists(pk) AND attribute_not_exists(#done)'
      : 'attribute_exists(pk) AND attribute_not_exists(#done) AND (attribute_not_exists(#run) OR #run = :message)',
    ExpressionAttributeNames: { '#run': attributes.runBy, '#done': attributes.doneAt },
    ExpressionAttributeValues: { ':message': { S: messageId } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Marks `event`'s callback job done: no copy of it runs after this (see `planClaimCallbackRun`). */
export function planMarkCallbackDone(bid: string, event: CallbackEvent, context: Pick<PlanContext, 'tableName' | 'now'>): UpdateItemCommandInput {
  return {
    TableName: context.tableName,
    Key: key(batchKey(bid)),
    UpdateExpression: 'SET #done = :now',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#done)',
    ExpressionAttributeNames: { '#done': eventAttributes(event).doneAt },
    ExpressionAttributeValues: { ':now': { S: context.now.toISOString() } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Seals the batch: its producer has added every job, so it closes the fill it held since creation
 * (`sealed = true`, `open − 1`), once. Sealing again, or sealing a batch from before sealing
 * existed (no `sealed`), fails its condition and changes nothing.
 */
export function planSeal(bid: string, context: Pick<PlanContext, 'tableName'>): UpdateItemCommandInput {
  return {
    TableName: context.tableName,
    Key: key(batchKey(bid)),
    UpdateExpression: 'SET #sealed = :true ADD #open :minus',
    ConditionExpression: 'attribute_exists(pk) AND #sealed = :false',
    ExpressionAttributeNames: { '#sealed': 'sealed', '#open': 'open' },
    ExpressionAttributeValues: { ':true': { BOOL: true }, ':false': { BOOL: false }, ':minus': { N: '-1' } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Opens (+1) or closes (−1) a fill of the batch; callbacks wait while any fill is open. */
export function planOpen(bid: string, delta: 1 | -1, context: Pick<PlanContext, 'tableName'>): UpdateItemCommandInput {
  return {
    TableName: context.tableName,
    Key: key(batchKey(bid)),
    UpdateExpression: 'ADD #open :delta',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#open': 'open' },
    ExpressionAttributeValues: { ':delta': { N: String(delta) } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}
