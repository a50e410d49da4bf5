/**
 * Amazon SQS fair queues, as AWS documents them, for one standard queue of the local runtime (fauxqs
 * does not implement them). Pure: the queue's messages and the clock are passed in.
 *
 * AWS's rule ("How Amazon SQS fair queues work"): messages that share a `MessageGroupId` belong to
 * one tenant; a message without one is a tenant of its own. A tenant is a noisy neighbour when it
 * holds more than 10% of the queue's in-flight messages and at least 30 of them. While a tenant is
 * noisy, a receive returns quiet tenants' messages whenever there are any; noisy tenants' messages
 * come when none is waiting, the noisy tenant with the fewest messages in flight first. A tenant is
 * no longer noisy when its backlog is drained or it has sent nothing for 5 minutes. Nothing is
 * dropped or throttled: only the order of delivery changes.
 *
 * Not modelled: the processing-time share (a tenant with more than 10% of recent consumer time is
 * noisy too; the runtime does not see processing time), and the thresholds' approximation (AWS says
 * detection may not trigger at the exact values).
 */

/** AWS's documented numbers. */
export const FAIR_QUEUE_RULE = {
  /** A noisy tenant holds more than this share of the queue's in-flight messages… */
  noisyShare: 0.1,
  /** …and at least this many of its own. */
  noisyMinInFlight: 30,
  /** A tenant that has sent nothing for this long is no longer noisy. */
  quietAfterMs: 5 * 60_000,
} as const;

/** What the model needs to know of a message: its group, if any. */
export interface GroupedMessage {
  readonly groupId?: string | undefined;
}

/**
 * The fair-queue state of one queue: which groups are noisy, and when each group last sent.
 *
 * @example
 * const fair = new FairDispatch();
 * fair.sent('acme', now);
 * const order = fair.select(ready, inFlight, 10, now); // indices into `ready`, in delivery order
 */
export class FairDispatch {
  private readonly noisy = new Set<string>();
  private readonly lastSentMs = new Map<string, number>();

  /** Notes a message of `groupId` sent at `atMs` (the 5-minute rule counts from the last one). */
  sent(groupId: string, atMs: number): void {
    this.lastSentMs.set(groupId, atMs);
  }

  /** The groups noisy after the last {@link select}, sorted. */
  noisyGroups(): string[] {
    return [...this.noisy].sort();
  }

  /**
   * Which of the `ready` messages a receive of up to `count` messages returns, and in which order
   * (indices into `ready`, which is in the queue's own order); undefined when no message, ready or in
   * flight, has a group — the queue is then served as it would be without fair queues.
   */
  select(ready: readonly GroupedMessage[], inFlight: readonly GroupedMessage[], count: number, nowMs: number): number[] | undefined {
    if (!ready.some(hasGroup) && !inFlight.some(hasGroup)) return undefined;
    const flying = inFlightByGroup(inFlight);
    this.update(ready, flying, inFlight.length, nowMs);
    const quiet: number[] = [];
    const noisyReady = new Map<string, number[]>();
    ready.forEach((message, index) => {
      const group = message.groupId;
      if (group === undefined || !this.noisy.has(group)) {
        quiet.push(index);
        return;
      }
      const list = noisyReady.get(group) ?? [];
      list.push(index);
      noisyReady.set(group, list);
    });
    const chosen = quiet.slice(0, count);
    while (chosen.length < count) {
      const next = fewestInFlight(noisyReady, flying);
      if (next === undefined) break;
      const index = noisyReady.get(next)?.shift();
      if (index === undefined) break;
      if (noisyReady.get(next)?.length === 0) noisyReady.delete(next);
      chosen.push(index);
      flying.set(next, (flying.get(next) ?? 0) + 1);
    }
    return chosen;
  }

  /** Marks the groups that are noisy now and clears those that became quiet. */
  private update(ready: readonly GroupedMessage[], flying: ReadonlyMap<string, number>, totalInFlight: number, nowMs: number): void {
    for (const [group, count] of flying) {
      if (count >= FAIR_QUEUE_RULE.noisyMinInFlight && count > FAIR_QUEUE_RULE.noisyShare * totalInFlight) this.noisy.add(group);
    }
    const backlogged = new Set(ready.map((message) => message.groupId));
    for (const group of this.noisy) {
      const silentMs = nowMs - (this.lastSentMs.get(group) ?? Number.NEGATIVE_INFINITY);
      if (!backlogged.has(group) || silentMs >= FAIR_QUEUE_RULE.quietAfterMs) this.noisy.delete(group);
    }
  }
}

function hasGroup(message: GroupedMessage): boolean {
  return message.groupId !== undefined;
}

function inFlightByGroup(inFlight: readonly GroupedMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { groupId } of inFlight) {
    if (groupId !== undefined) counts.set(groupId, (counts.get(groupId) ?? 0) + 1);
  }
  return counts;
}

/** The group of `waiting` with the fewest messages in flight (the first such, in queue order). */
function fewestInFlight(waiting: ReadonlyMap<string, readonly number[]>, flying: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = Number.POSITIVE_INFINITY;
  let bestFirst = Number.POSITIVE_INFINITY;
  for (const [group, indices] of waiting) {
    const count = flying.get(group) ?? 0;
    const first = indices[0] ?? Number.POSITIVE_INFINITY;
    if (count < bestCount || (count === bestCount && first < bestFirst)) {
      best = group;
      bestCount = count;
      bestFirst = first;
    }
  }
  return best;
}
