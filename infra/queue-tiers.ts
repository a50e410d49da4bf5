/**
 * Priority tiers of a queue, at synth: their validation, their share of the queue's
 * `maxConcurrency`, and the mapping each tier starts with (the governor moves it afterwards,
 * lib/governor/plan.ts). A tier is its own SQS queue and its own event source mapping to the
 * queue's worker; the default tier keeps the queue's own SQS queue (`Queue-<name>`), so declaring
 * tiers on an existing queue replaces nothing, and the others are `Queue-<name>.<tier>` ('.' is in
 * no queue or tier name, so these ids never collide).
 */
import { Duration } from 'aws-cdk-lib';
import { ConfigurationError } from '../lib/errors/base.js';
import { JOB_LIMITS } from '../lib/job/model.js';
import { defaultTierOf } from '../lib/job/tier.js';
import { GOVERNOR } from '../lib/governor/plan.js';
import { CONCURRENCY_BOUNDS, type ConcurrencyPlan } from './concurrency-plan.js';
import { validateDurationRange } from './validation.js';

/** One priority tier of a queue. */
export interface TierOptions {
  /**
   * How old the tier's oldest waiting job may get (1 second to 14 days): the governor gives the
   * tiers above it what they need first, and raises this tier's floor to an equal share of the
   * queue once its jobs wait longer than this.
   */
  readonly targetAge: Duration;
}

/** Bounds of a queue's tiers. */
export const TIER_BOUNDS = {
  minTiers: 2,
  maxTiers: 10,
  minTargetAge: Duration.seconds(1),
  maxTargetAge: Duration.days(14),
} as const;

/** The construct id of tier `tier` of queue `queue`; the default tier keeps the queue's own `Queue-<queue>`. */
export function tierQueueId(queue: string, tier: string, defaultTier: string): string {
  return tier === defaultTier ? `Queue-${queue}` : `Queue-${queue}.${tier}`;
}

/**
 * Checks queue `queue`'s tiers and returns their names, most urgent first, and the default tier
 * (the one named `default`, else the last).
 * @throws ConfigurationError naming the option (`queues.email.tiers.bulk.targetAge`) and what was expected
 */
export function validateTiers(queue: string, tiers: Readonly<Record<string, TierOptions>>, maxConcurrency: number | undefined): { names: string[]; defaultTier: string } {
  const field = `queues.${queue}.tiers`;
  const names = Object.keys(tiers);
  if (names.length < TIER_BOUNDS.minTiers || names.length > TIER_BOUNDS.maxTiers) {
    throw new ConfigurationError(`${field} must declare from ${TIER_BOUNDS.minTiers} to ${TIER_BOUNDS.maxTiers} tiers, but ${names.length} were provided`);
  }
  for (const [name, options] of Object.entries(tiers)) {
    if (!JOB_LIMITS.queueNamePattern.test(name)) throw new ConfigurationError(`${field}: tier name ${JSON.stringify(name)} is invalid: a tier name is 1 to 64 letters, digits, '-' or '_'`);
    if (options.targetAge.isUnresolved()) throw new ConfigurationError(`${field}.${name}.targetAge must be known at synth time, but a token was provided`);
    validateDurationRange(`${field}.${name}.targetAge`, options.targetAge, TIER_BOUNDS.minTargetAge, TIER_BOUNDS.maxTargetAge);
  }
  const least = GOVERNOR.floor * names.length;
  if (maxConcurrency === undefined || maxConcurrency < least) {
    throw new ConfigurationError(`queues.${queue}.maxConcurrency must be at least ${least} with ${names.length} tiers (each tier's mapping runs at least ${GOVERNOR.floor} invocations; the governor shares the total between them), but ${maxConcurrency ?? 'none'} was provided`);
  }
  const defaultTier = defaultTierOf(names) ?? names[0] ?? 'default';
  return { names, defaultTier };
}

/**
 * The concurrency plan of a queue with `tiers` tiers: as concurrency-plan.ts spreads a cap, but
 * with enough invocations for the governor to move — at least twice the floors when the cap allows
 * (else just the floors), then as many jobs per invocation as that leaves.
 *
 * @example
 * tieredConcurrencyPlan({ maxConcurrency: 60, batchSize: 10 }, 3)
 * // { batchSize: 5, maxInvocations: 12, worker: { jobs: 60, perInvocation: 5 } }
 */
export function tieredConcurrencyPlan(input: { readonly maxConcurrency: number; readonly batchSize: number }, tiers: number): ConcurrencyPlan {
  const floors = GOVERNOR.floor * tiers;
  const { maxInvocations } = CONCURRENCY_BOUNDS;
  const fits = (invocations: number): number => {
    for (let perInvocation = input.batchSize; perInvocation >= 1; perInvocation -= 1) {
      if (Math.min(maxInvocations, Math.floor(input.maxConcurrency / perInvocation)) >= invocations) return perInvocation;
    }
    return 0;
  };
  const perInvocation = fits(2 * floors) || fits(floors) || 1;
  const invocations = Math.min(maxInvocations, Math.floor(input.maxConcurrency / perInvocation));
  return { batchSize: perInvocation, maxInvocations: invocations, worker: { jobs: input.maxConcurrency, perInvocation } };
}

/**
 * Each tier's MaximumConcurrency at deploy: what the governor gives an idle queue (the floors, and
 * the rest to the most urgent tier). A deploy resets the mappings to it; the governor's next
 * round moves them again.
 */
export function initialTierConcurrency(names: readonly string[], invocations: number): Record<string, number> {
  const rest = invocations - GOVERNOR.floor * names.length;
  return Object.fromEntries(names.map((name, index) => [name, GOVERNOR.floor + (index === 0 ? rest : 0)]));
}
