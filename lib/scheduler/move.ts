/**
 * Moves entries out of the scheduled and retry sets.
 *
 * A sweep ({@link moveDue}) sends, or puts into the dead set, then deletes, with no claim: the
 * scheduler function runs one invocation at a time (reserved concurrency 1), so no other sweep
 * reads the same entries. It skips an entry an admin call holds. A crash between the send and the
 * delete leaves the entry for the next sweep, which sends it again: at-least-once, never lost.
 *
 * An admin call ("run now", "retry", {@link moveEntries}) may run beside a sweep, so it claims each
 * entry first (a conditional update, `claimed_until` + `claimed_by`), sends second, and deletes on
 * the condition that the claim is still its own. A crash after the claim leaves the entry until
 * the claim lapses; a send that fails releases the claim. An admin call that claims an entry in
 * the instant between a sweep's read of it and that sweep's send can see it sent twice, the one
 * overlap left: the price of not paying a claim write for every scheduled job.
 */
import type { QueueTiers } from '../config/queue-tiers.js';
import { mapSettled } from '../common/concurrency.js';
import type { ItemKey } from '../storage/keys.js';
import { jobMessage, sendInBatches, type OutgoingMessage, type SqsBatchSender } from '../aws/sqs-batch.js';
import type { SetEntry } from '../storage/set-items.js';
import type { StateTable } from '../storage/state-table.js';
import type { Logger } from '../observability/logger.js';
import { planMove, type MovePlan } from './plan.js';
import { serializeJob } from '../job/model.js';
import { callHook, deadJobOf, hasClientChain, runClientChain, type AnyMiddleware, type EnqueueVia } from '../middleware/chain.js';

/** The storage a mover needs: a `StateTable`, or a test's stand-in. */
export type MoverTable = Pick<StateTable, 'claimSetEntry' | 'deleteSetEntry' | 'releaseClaim' | 'putSetEntry'>;

/** What placing due jobs needs, whoever moves them. */
export interface PlacerDeps {
  /** Where dead entries go. */
  readonly table: Pick<StateTable, 'putSetEntry'>;
  readonly sqs: SqsBatchSender;
  /** Queue name → URL. */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The queues' priority tiers (`HOPPER_QUEUE_TIERS`): a job goes back to its tier's queue. @default - no queue has tiers */
  readonly queueTiers?: QueueTiers;
  readonly deadTtlDays: number;
  readonly clock: () => Date;
  readonly logger: Logger;
  /** Most DynamoDB requests in flight. */
  readonly concurrency: number;
  /** The team's middleware: its client chain runs on each job sent, `onDead` after each burial. */
  readonly middleware?: AnyMiddleware;
}

/** What moving with claims needs. */
export interface MoverDeps extends PlacerDeps {
  readonly table: MoverTable;
}

/** The storage a sweep's move needs: a `StateTable`, or a test's stand-in. */
export type DueTable = Pick<StateTable, 'deleteSetEntries' | 'putSetEntry'>;

/** What a sweep's move needs. */
export interface DueMoverDeps extends PlacerDeps {
  readonly table: DueTable;
}

/** One move's claim. */
export interface MoveOptions {
  /** Who moves (one sweep invocation, one admin call). */
  readonly owner: string;
  /** When the claim lapses if the mover dies: after the mover's own deadline. */
  readonly claimUntilMs: number;
  /** Send with no delay ("run now"). @default false */
  readonly immediately?: boolean;
  /** The path the client middleware is told: `scheduler` for a sweep, `run-now` or `dead-retry` for an admin call. */
  readonly via: EnqueueVia;
}

/** What happened to one entry. */
export type MoveOutcome =
  /** On its queue (`delaySeconds` from now), and gone from its set unless `lingering`. */
  | { readonly kind: 'moved'; readonly jid: string; readonly delaySeconds: number; readonly lingering: boolean }
  /** In the dead set with a reason, and gone from its set unless `lingering`. */
  | { readonly kind: 'dead'; readonly jid: string; readonly lingering: boolean }
  /** Another mover holds it. */
  | { readonly kind: 'busy'; readonly jid: string }
  /** Already moved or deleted by someone else. */
  | { readonly kind: 'gone'; readonly jid: string }
  /** Not moved; still in its set, to be moved by a later sweep. `refusal`: the team's client middleware refused it. */
  | { readonly kind: 'failed'; readonly jid: string; readonly reason: string; readonly refusal?: unknown };

interface Planned {
  readonly index: number;
  readonly entry: SetEntry;
  readonly plan: MovePlan;
}

/** Moves `entries` (any mix of sets) and says what happened to each, in input order. */
export async function moveEntries(entries: readonly SetEntry[], deps: MoverDeps, options: MoveOptions): Promise<MoveOutcome[]> {
  const outcomes: MoveOutcome[] = entries.map((entry) => ({ kind: 'gone', jid: entry.jid }));
  const claims = await mapSettled(entries, deps.concurrency, (entry) =>
    deps.table.claimSetEntry(entry.set, entry.key, { owner: options.owner, nowMs: deps.clock().getTime(), untilMs: options.claimUntilMs }));

  const nowMs = deps.clock().getTime();
  const claimed: Planned[] = [];
  claims.forEach((result, index) => {
    const entry = entries[index];
    if (entry === undefined) return;
    if (result.status === 'rejected') {
      outcomes[index] = { kind: 'failed', jid: entry.jid, reason: reasonOf(result.reason) };
    } else if (result.value.status === 'claimed') {
      // Plan from what the claim returned: the entry as it is now, not as it was read.
      const fresh = result.value.entry;
      claimed.push({ index, entry: fresh, plan: planMove(fresh, { nowMs, queueUrls: deps.queueUrls, ...(deps.queueTiers === undefined ? {} : { queueTiers: deps.queueTiers }), deadTtlDays: deps.deadTtlDays, immediately: options.immediately }) });
    } else {
      outcomes[index] = { kind: result.value.status, jid: entry.jid };
    }
  });

  const failures = await placeAll(claimed, deps, options.via);
  const finished = await mapSettled(claimed, deps.concurrency, async (item) => {
    if (failures.has(item.index)) {
      await deps.table.releaseClaim(item.entry.key, options.owner);
      return undefined;
    }
    const deleted = await deps.table.deleteSetEntry(item.entry.set, item.entry.key, { kind: 'claimed-by', owner: options.owner });
    return deleted === undefined ? 'the claim was no longer ours' : undefined;
  });
  const undeleted = new Map<number, string>();
  claimed.forEach((item, position) => {
    const result = finished[position];
    if (failures.has(item.index)) return;
    if (result === undefined || result.status === 'rejected') undeleted.set(item.index, result === undefined ? 'not deleted' : reasonOf(result.reason));
    else if (result.value !== undefined) undeleted.set(item.index, result.value);
  });
  await settle(claimed, failures, undeleted, outcomes, deps);
  return outcomes;
}

/**
 * Moves due entries that no one else moves: a sweep's entries (the scheduler function runs one
 * invocation at a time, so two sweeps never overlap). No claim: send, or put into the dead set,
 * then delete the entries 25 to a call. A crash between the send and the delete leaves an entry to
 * be sent again by the next sweep: at-least-once, never lost.
 */
export async function moveDue(entries: readonly SetEntry[], deps: DueMoverDeps): Promise<MoveOutcome[]> {
  const outcomes: MoveOutcome[] = entries.map((entry) => ({ kind: 'gone', jid: entry.jid }));
  const nowMs = deps.clock().getTime();
  const planned = entries.map((entry, index): Planned => ({ index, entry, plan: planMove(entry, { nowMs, queueUrls: deps.queueUrls, ...(deps.queueTiers === undefined ? {} : { queueTiers: deps.queueTiers }), deadTtlDays: deps.deadTtlDays }) }));
  const failures = await placeAll(planned, deps, 'scheduler');
  const placed = planned.filter((item) => !failures.has(item.index));
  const undeleted = new Map<number, string>();
  try {
    const left = new Set((await deps.table.deleteSetEntries(placed.map((item) => item.entry.key))).map(keyText));
    for (const item of placed) if (left.has(keyText(item.entry.key))) undeleted.set(item.index, 'DynamoDB left the delete unprocessed');
  } catch (error) {
    for (const item of placed) undeleted.set(item.index, reasonOf(error));
  }
  await settle(planned, failures, undeleted, outcomes, deps);
  return outcomes;
}

/** Runs the client chain, then sends and buries; returns the failures (refusals included) by entry index. */
async function placeAll(planned: Planned[], deps: PlacerDeps, via: EnqueueVia): Promise<{ has(index: number): boolean; get(index: number): string | undefined; refusal(index: number): unknown }> {
  const refused = await throughClientChain(planned, deps, via);
  const done = await place(planned.filter((item) => !refused.has(item.index)), deps);
  for (const [index, error] of refused) done.set(index, reasonOf(error));
  return { has: (index) => done.has(index), get: (index) => done.get(index), refusal: (index) => refused.get(index) };
}

/**
 * Writes each placed entry's outcome, logs what failed or lingers, and calls `onDead` for the
 * burials. `undeleted`: placed entries whose entry could not be deleted, with why.
 */
async function settle(planned: readonly Planned[], failures: Awaited<ReturnType<typeof placeAll>>, undeleted: ReadonlyMap<number, string>, outcomes: MoveOutcome[], deps: PlacerDeps): Promise<void> {
  for (const item of planned) {
    const failure = failures.get(item.index);
    const jid = item.entry.jid;
    if (failure !== undefined) {
      const refusal = failures.refusal(item.index);
      outcomes[item.index] = { kind: 'failed', jid, reason: failure, ...(refusal === undefined ? {} : { refusal }) };
      deps.logger.error('could not move a due job; it stays in its set for the next sweep', { jid, set: item.entry.set, reason: failure });
      continue;
    }
    const lingerReason = undeleted.get(item.index);
    const lingering = lingerReason !== undefined;
    if (lingering) {
      // Sent, but the entry is still there: it will be sent again by a later move.
      deps.logger.warn('moved a due job but could not delete its entry; it may run twice', { jid, set: item.entry.set, key: keyText(item.entry.key), reason: lingerReason });
    }
    outcomes[item.index] = item.plan.kind === 'enqueue'
      ? { kind: 'moved', jid, delaySeconds: item.plan.delaySeconds, lingering }
      : { kind: 'dead', jid, lingering };
    if (item.plan.kind === 'dead') deps.logger.warn('due job moved to the dead set', { jid, set: item.entry.set, reason: item.plan.entry.reason?.message });
  }
  if (deps.middleware?.hooks?.onDead !== undefined) {
    const buried = planned.filter((item) => !failures.has(item.index)).flatMap((item) => (item.plan.kind === 'dead' ? [item.plan.entry] : []));
    await Promise.all(buried.map((entry) => callHook(deps.middleware, 'onDead', deadJobOf(entry), deps.logger.child({ jid: 'job' in entry ? entry.job.jid : entry.jid }))));
  }
}

/**
 * Runs the client chain over the jobs to send, replacing their plans with what it gave back.
 * @returns the entries it refused (index → its error): they stay in their set, as a failed send does.
 */
async function throughClientChain(claimed: Planned[], deps: PlacerDeps, via: EnqueueVia): Promise<Map<number, unknown>> {
  const refused = new Map<number, unknown>();
  const { middleware } = deps;
  if (!hasClientChain(middleware)) return refused;
  await Promise.all(claimed.map(async (item, position) => {
    const { plan } = item;
    if (plan.kind !== 'enqueue') return;
    try {
      const job = await runClientChain(middleware, plan.job, via, deps.logger.child({ jid: plan.job.jid }));
      claimed[position] = { ...item, plan: { ...plan, job, body: serializeJob(job) } };
    } catch (error) {
      refused.set(item.index, error);
    }
  }));
  return refused;
}

/** Sends the enqueues and puts the dead entries; returns the failures by entry index. */
async function place(claimed: readonly Planned[], deps: PlacerDeps): Promise<Map<number, string>> {
  const failures = new Map<number, string>();
  const messages: OutgoingMessage[] = [];
  const dead: Planned[] = [];
  for (const item of claimed) {
    if (item.plan.kind === 'enqueue') {
      messages.push(jobMessage(String(item.index), item.plan.queueUrl, item.plan.job, { body: item.plan.body, delaySeconds: item.plan.delaySeconds }));
    } else {
      dead.push(item);
    }
  }
  const [unsent, stored] = await Promise.all([
    messages.length === 0 ? [] : sendInBatches(deps.sqs, messages),
    mapSettled(dead, deps.concurrency, (item) => (item.plan.kind === 'dead' ? deps.table.putSetEntry('dead', item.plan.entry) : Promise.resolve(undefined))),
  ]);
  for (const failure of unsent) failures.set(Number(failure.key), failure.reason);
  stored.forEach((result, position) => {
    const item = dead[position];
    if (item !== undefined && result.status === 'rejected') failures.set(item.index, reasonOf(result.reason));
  });
  return failures;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function keyText(key: ItemKey): string {
  return `${key.pk}/${key.sk}`;
}
