/**
 * One round of the tier governor over every tiered queue: read each tier's backlog and reported
 * wait, decide (./plan.ts), and move the mappings that must change — decreases first, so that the
 * tiers' sum never exceeds the queue's invocations even between two updates.
 */
import type { QueueTierLayout, TierMappings } from '../config/queue-tiers.js';
import type { Logger } from '../observability/logger.js';
import type { QueueReport } from '../stats/read.js';
import { estimateAgeSeconds, governTiers, GOVERNOR, type GovernorState, type TierReading } from './plan.js';

/** What a round reads and changes (AWS in ./aws.ts; fakes in tests). */
export interface GovernorPorts {
  /** Jobs waiting in the queue at `queueUrl` (ApproximateNumberOfMessages). */
  backlog(queueUrl: string): Promise<number>;
  /** The mapping's MaximumConcurrency now; undefined when it has none. */
  concurrency(uuid: string): Promise<number | undefined>;
  /** Sets the mapping's MaximumConcurrency; false when the mapping is busy with another change. */
  setConcurrency(uuid: string, value: number): Promise<boolean>;
  /** The workers' reports of every queue (one Query). */
  reports(nowMs: number): Promise<ReadonlyMap<string, QueueReport>>;
}

/** What the governor keeps of one queue between rounds (and invocations of a warm instance). */
export interface QueueMemory {
  /** Tier → its mapping's MaximumConcurrency as last read or set. */
  readonly current: Map<string, number>;
  state: GovernorState | undefined;
}

/** What one round saw and did for one tier. */
export interface TierRound extends TierReading {
  readonly queue: string;
  /** The concurrency its mapping has after the round. */
  readonly next: number;
  readonly late: boolean;
}

/** A tiered queue the governor runs: its layout and its mappings. */
export interface GovernedQueue {
  readonly name: string;
  readonly layout: QueueTierLayout;
  readonly mappings: TierMappings;
}

/**
 * Runs one round over `queues`, keeping what it learns in `memory` (queue name → its memory).
 * @returns what each tier looked like and got
 */
export async function governRound(queues: readonly GovernedQueue[], ports: GovernorPorts, memory: Map<string, QueueMemory>, nowMs: number, logger: Logger, settleRounds?: number): Promise<TierRound[]> {
  const reports = await ports.reports(nowMs);
  const rounds = await Promise.all(queues.map(async ({ name, layout, mappings }) => {
    const known = memory.get(name) ?? { current: new Map<string, number>(), state: undefined };
    memory.set(name, known);
    const lags = reports.get(name)?.tierLags;
    const tiers = await Promise.all(layout.tiers.map(async (tier): Promise<TierReading> => {
      const uuid = mappings.mappings[tier.name];
      const [backlog, current] = await Promise.all([
        ports.backlog(tier.url),
        known.current.get(tier.name) ?? (uuid === undefined ? undefined : ports.concurrency(uuid)),
      ]);
      return { name: tier.name, targetSeconds: tier.targetSeconds, backlog, ageSeconds: estimateAgeSeconds(backlog, lags?.get(tier.name), nowMs), current: current ?? GOVERNOR.floor };
    }));
    const decision = governTiers({
      tiers, invocations: mappings.invocations, perInvocation: mappings.perInvocation,
      ...(known.state === undefined ? {} : { previous: known.state }),
      ...(settleRounds === undefined ? {} : { settleRounds }),
    });
    known.state = decision.state;
    const applied = new Map(tiers.map((tier) => [tier.name, tier.current]));
    const move = async (tier: TierReading, to: number): Promise<void> => {
      const uuid = mappings.mappings[tier.name];
      if (uuid === undefined || !(await ports.setConcurrency(uuid, to))) return;
      applied.set(tier.name, to);
      logger.info('tier concurrency moved', { queue: name, tier: tier.name, from: tier.current, to, backlog: tier.backlog, age_s: tier.ageSeconds, target_s: tier.targetSeconds });
    };
    const wanted = (tier: TierReading): number => decision.concurrency[tier.name] ?? tier.current;
    await Promise.all(tiers.filter((tier) => wanted(tier) < tier.current).map((tier) => move(tier, wanted(tier))));
    // An increase waits for the room a decrease that did not go through (a busy mapping) still holds.
    for (const tier of tiers.filter((candidate) => wanted(candidate) > candidate.current)) {
      const others = [...applied].filter(([other]) => other !== tier.name).reduce((total, [, value]) => total + value, 0);
      const to = Math.min(wanted(tier), mappings.invocations - others);
      if (to > tier.current) await move(tier, to);
    }
    for (const [tier, value] of applied) known.current.set(tier, value);
    return tiers.map((tier): TierRound => ({ ...tier, queue: name, next: applied.get(tier.name) ?? tier.current, late: decision.late.includes(tier.name) }));
  }));
  return rounds.flat();
}
