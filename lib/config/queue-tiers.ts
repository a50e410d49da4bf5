/**
 * The priority tiers of the queues that declare them, as the JobSystem construct tells the
 * functions: `HOPPER_QUEUE_TIERS` (every function that sends jobs, and the workers: each tier's
 * queue URL and target age) and `HOPPER_TIER_MAPPINGS` (the governor and the API: each tier's
 * event source mapping and the queue's total invocations). Both live in the configuration
 * document (./document.ts).
 */
import { ConfigurationError } from '../errors/base.js';
import { isRecord } from '../job/model.js';
import type { TierNames } from '../job/tier.js';
import { ENV, jsonObjectFromEnv, type Env } from './env.js';

/** One tier of a queue. */
export interface TierRoute {
  readonly name: string;
  /** The URL of the tier's own SQS queue. */
  readonly url: string;
  /** Age of the oldest waiting job the tier aims to stay under, seconds. */
  readonly targetSeconds: number;
}

/** The tiers of one queue, most urgent first. */
export interface QueueTierLayout extends TierNames {
  readonly tiers: readonly TierRoute[];
}

/** Queue name → its tiers; queues without tiers are absent. */
export type QueueTiers = Readonly<Record<string, QueueTierLayout>>;

/** What the governor moves for one queue. */
export interface TierMappings {
  /** The most invocations of the queue's worker at once, every tier together (the mappings' sum). */
  readonly invocations: number;
  /** Jobs one invocation runs at once (the mappings' batch size). */
  readonly perInvocation: number;
  /** Tier name → UUID of its event source mapping. */
  readonly mappings: Readonly<Record<string, string>>;
}

/**
 * Reads `HOPPER_QUEUE_TIERS` (`{ queue: { defaultTier, tiers: [{ name, url, targetSeconds }] } }`);
 * `{}` when unset.
 * @throws ConfigurationError naming the variable and the queue when an entry is malformed
 */
export function parseQueueTiers(env: Env): QueueTiers {
  const layouts: Record<string, QueueTierLayout> = {};
  for (const [queue, value] of Object.entries(jsonObjectFromEnv(env, ENV.queueTiers, 'queue name to { defaultTier, tiers }'))) {
    const fail = (): never => {
      throw new ConfigurationError(`environment variable ${ENV.queueTiers}: ${queue} must be { defaultTier, tiers: [{ name, url, targetSeconds }] } naming its default tier, but ${JSON.stringify(value).slice(0, 200)} was provided`);
    };
    if (!isRecord(value) || typeof value.defaultTier !== 'string' || !Array.isArray(value.tiers)) return fail();
    const tiers: TierRoute[] = [];
    for (const tier of value.tiers) {
      if (!isRecord(tier) || typeof tier.name !== 'string' || typeof tier.url !== 'string' || typeof tier.targetSeconds !== 'number' || !(tier.targetSeconds > 0)) return fail();
      tiers.push({ name: tier.name, url: tier.url, targetSeconds: tier.targetSeconds });
    }
    const names = tiers.map((tier) => tier.name);
    if (tiers.length === 0 || !names.includes(value.defaultTier)) return fail();
    layouts[queue] = { names, defaultTier: value.defaultTier, tiers };
  }
  return layouts;
}

/**
 * Reads `HOPPER_TIER_MAPPINGS` (`{ queue: { invocations, perInvocation, mappings: { tier: uuid } } }`);
 * `{}` when unset.
 * @throws ConfigurationError naming the variable and the queue when an entry is malformed
 */
export function parseTierMappings(env: Env): Readonly<Record<string, TierMappings>> {
  const result: Record<string, TierMappings> = {};
  for (const [queue, value] of Object.entries(jsonObjectFromEnv(env, ENV.tierMappings, 'queue name to { invocations, perInvocation, mappings }'))) {
    const fail = (): never => {
      throw new ConfigurationError(`environment variable ${ENV.tierMappings}: ${queue} must be { invocations, perInvocation, mappings: { tier: uuid } } with positive integers, but ${JSON.stringify(value).slice(0, 200)} was provided`);
    };
    if (!isRecord(value) || !isPositiveInteger(value.invocations) || !isPositiveInteger(value.perInvocation) || !isRecord(value.mappings)) return fail();
    const mappings: Record<string, string> = {};
    for (const [tier, uuid] of Object.entries(value.mappings)) {
      if (typeof uuid !== 'string') return fail();
      mappings[tier] = uuid;
    }
    result[queue] = { invocations: value.invocations, perInvocation: value.perInvocation, mappings };
  }
  return result;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}
