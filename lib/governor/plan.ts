/**
 * The tier governor's rule, pure: how a queue's invocations (the sum of its tier mappings'
 * MaximumConcurrency) are shared between its priority tiers, round after round.
 *
 * 1. Every tier keeps a floor of {@link GOVERNOR}.floor invocations (the least an SQS mapping
 *    allows), so no tier ever stops. A tier whose oldest job is older than its target (and that
 *    still has a backlog) is late: its floor is raised to an equal share of the queue (aging
 *    without moving messages), so a low tier left behind long enough catches up whatever is above it.
 * 2. Above the floors, the tiers are served in priority order (declaration order, most urgent
 *    first), each up to what its backlog can use (one invocation per batch of waiting jobs).
 * 3. Hysteresis, rise fast and fall slow: a tier's concurrency goes up at once, and comes down only
 *    after {@link GOVERNOR}.settleMs of rounds in a row that want it lower — unless another tier
 *    needs the room now, which it always gets (the least urgent held tier gives way first). This
 *    saves mapping updates (each leaves the mapping `Updating` for a while) and keeps a tier whose
 *    backlog comes and goes from swinging.
 * 4. What no tier can use nor holds goes to the most urgent tier: a mapping's maximum is only a
 *    cap, and the most urgent tier is the one whose next burst must not wait for the governor.
 *
 * The sum never exceeds the queue's invocations.
 */

/** The governor's constants. */
export const GOVERNOR = {
  /** The least a tier keeps: an SQS event source mapping's smallest MaximumConcurrency. */
  floor: 2,
  /** How long a tier must want less before it gets less (counted in rounds: {@link settleRounds}). */
  settleMs: 30_000,
  /**
   * Rounds come every half of the tightest target among the tiers, within these bounds: a burst of
   * an urgent tier meets the governor well within its target.
   */
  minPeriodMs: 2_000,
  maxPeriodMs: 10_000,
  /** How long one invocation keeps governing while jobs wait (the schedule invokes it every minute). */
  runMs: 50_000,
  /**
   * A tier's reported wait is taken as its oldest job's age for this long after the job started
   * (a worker writes its report at most 10 s late, and the governor reads at most every 10 s); past that,
   * the time since is added: a tier that starts nothing grows older.
   */
  freshMs: 20_000,
} as const;

/**
 * Milliseconds between rounds for tiers whose targets are `targetsSeconds`: half the tightest one,
 * within {@link GOVERNOR}'s bounds.
 * @example governorPeriodMs([5, 60, 3600]) // 2,500
 */
export function governorPeriodMs(targetsSeconds: readonly number[]): number {
  const tightest = Math.min(...targetsSeconds.map((seconds) => seconds * 1000));
  return Math.min(GOVERNOR.maxPeriodMs, Math.max(GOVERNOR.minPeriodMs, Number.isFinite(tightest) ? Math.floor(tightest / 2) : GOVERNOR.maxPeriodMs));
}

/** Rounds in a row, `periodMs` apart, that a tier must want less before it gets less. */
export function settleRounds(periodMs: number): number {
  return Math.max(1, Math.ceil(GOVERNOR.settleMs / periodMs));
}

/** What the governor knows of one tier in a round. */
export interface TierReading {
  readonly name: string;
  /** The tier's target age of its oldest job, seconds. */
  readonly targetSeconds: number;
  /** Jobs waiting (SQS's ApproximateNumberOfMessages). */
  readonly backlog: number;
  /** Estimated age of its oldest waiting job, seconds ({@link estimateAgeSeconds}); undefined when unknown. */
  readonly ageSeconds: number | undefined;
  /** Its mapping's MaximumConcurrency now. */
  readonly current: number;
}

/** What the governor remembers between rounds. */
export interface GovernorState {
  /** Tier → rounds in a row it wanted less than it had. */
  readonly lowRounds: Readonly<Record<string, number>>;
}

/** One round's inputs for one queue. */
export interface GovernorInput {
  /** The tiers, most urgent first. */
  readonly tiers: readonly TierReading[];
  /** The queue's invocations: the most the tiers' MaximumConcurrency may add up to. */
  readonly invocations: number;
  /** Jobs one invocation runs (the batch size). */
  readonly perInvocation: number;
  /** @default - no memory: every tier's lowRounds is 0 */
  readonly previous?: GovernorState;
  /** Rounds in a row a tier must want less before it gets less. @default 3 (30 s of 10 s rounds) */
  readonly settleRounds?: number;
}

/** One round's decision. */
export interface GovernorDecision {
  /** Tier → the MaximumConcurrency its mapping should have. */
  readonly concurrency: Readonly<Record<string, number>>;
  /** The tiers past their target this round. */
  readonly late: readonly string[];
  readonly state: GovernorState;
}

/**
 * The age of a tier's oldest waiting job, estimated from the wait its workers last reported: 0
 * without a backlog; the reported wait while the report is fresh ({@link GOVERNOR}.freshMs); then
 * the reported wait plus the time since, since a tier that starts nothing keeps aging. Undefined
 * when nothing was ever reported.
 */
export function estimateAgeSeconds(backlog: number, lag: { readonly ms: number; readonly atMs: number } | undefined, nowMs: number): number | undefined {
  if (backlog <= 0) return 0;
  if (lag === undefined) return undefined;
  return (lag.ms + Math.max(0, nowMs - lag.atMs - GOVERNOR.freshMs)) / 1000;
}

/** Whether `tier` is past its target with jobs still waiting. */
export function isLate(tier: Pick<TierReading, 'backlog' | 'ageSeconds' | 'targetSeconds'>): boolean {
  return tier.backlog > 0 && tier.ageSeconds !== undefined && tier.ageSeconds > tier.targetSeconds;
}

/**
 * One round of the rule (see the module comment).
 *
 * @example
 * governTiers({ invocations: 12, perInvocation: 5, tiers: [
 *   { name: 'critical', targetSeconds: 5, backlog: 200, ageSeconds: 1, current: 2 },
 *   { name: 'default', targetSeconds: 60, backlog: 0, ageSeconds: 0, current: 2 },
 *   { name: 'bulk', targetSeconds: 3600, backlog: 5000, ageSeconds: 30, current: 8 },
 * ] }).concurrency
 * // { critical: 8, default: 2, bulk: 2 }
 */
export function governTiers(input: GovernorInput): GovernorDecision {
  const { tiers, invocations, perInvocation } = input;
  const equalShare = Math.floor(invocations / Math.max(1, tiers.length));
  const late = tiers.filter(isLate).map((tier) => tier.name);
  const floors = tiers.map((tier) => (late.includes(tier.name) ? Math.max(GOVERNOR.floor, equalShare) : GOVERNOR.floor));
  const wants = tiers.map((tier, index) => Math.max(floors[index] ?? GOVERNOR.floor, tier.backlog > 0 ? Math.ceil(tier.backlog / Math.max(1, perInvocation)) : 0));

  const desired = [...floors];
  let spare = invocations - sum(desired);
  tiers.forEach((_tier, index) => {
    const add = Math.max(0, Math.min((wants[index] ?? 0) - (desired[index] ?? 0), spare));
    desired[index] = (desired[index] ?? 0) + add;
    spare -= add;
  });

  const lowRounds: Record<string, number> = {};
  const next = tiers.map((tier, index) => {
    const wanted = desired[index] ?? GOVERNOR.floor;
    if (wanted >= tier.current) return wanted;
    const rounds = (input.previous?.lowRounds[tier.name] ?? 0) + 1;
    if (rounds >= (input.settleRounds ?? settleRounds(GOVERNOR.maxPeriodMs))) return wanted;
    lowRounds[tier.name] = rounds;
    return tier.current;
  });
  // A held tier gives way when the others need the room, the least urgent first.
  let over = sum(next) - invocations;
  for (let index = tiers.length - 1; index >= 0 && over > 0; index -= 1) {
    const held = (next[index] ?? 0) - (desired[index] ?? 0);
    if (held <= 0) continue;
    const give = Math.min(held, over);
    next[index] = (next[index] ?? 0) - give;
    over -= give;
    const name = tiers[index]?.name;
    if (name !== undefined && next[index] === desired[index]) delete lowRounds[name];
  }
  // What no tier can use (nor holds) goes to the most urgent tier.
  const free = invocations - sum(next);
  if (free > 0 && next.length > 0) next[0] = (next[0] ?? 0) + free;
  return {
    concurrency: Object.fromEntries(tiers.map((tier, index) => [tier.name, next[index] ?? GOVERNOR.floor])),
    late,
    state: { lowRounds },
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
