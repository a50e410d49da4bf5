/**
 * The tier governor function's handler: EventBridge Scheduler invokes it every minute; it runs a
 * round (./round.ts) every half of the tightest tier target (2 to 10 s, `governorPeriodMs`) for up
 * to {@link GOVERNOR}.runMs, and stops early once no tier has jobs waiting (an idle system costs one
 * round a minute) or when the invocation's time runs short. What it learned stays with the instance for the next minute.
 */
import type { Context } from 'aws-lambda';
import type { Env } from '../config/env.js';
import { HopperConfig } from '../config/hopper-config.js';
import { createLogger, type LogSink } from '../observability/logger.js';
import { GOVERNOR, governorPeriodMs, settleRounds } from './plan.js';
import { governRound, type GovernedQueue, type GovernorPorts, type QueueMemory, type TierRound } from './round.js';

/** Options of {@link createGovernorHandler}; tests pass fakes. */
export interface GovernorHandlerOptions {
  /** @default process.env */
  readonly env?: Env;
  /** @default - SQS, Lambda and the state table of the environment (./aws.ts) */
  readonly ports?: GovernorPorts;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default the clock of the environment */
  readonly nowMs?: () => number;
  /** @default - JSON lines on console.log */
  readonly log?: LogSink;
  /** @default - half the tightest tier target, 2 to 10 s (`governorPeriodMs`) */
  readonly periodMs?: number;
}

/** What one invocation did. */
export interface GovernorSummary {
  readonly rounds: number;
  /** The last round's view of every tier. */
  readonly tiers: readonly TierRound[];
}

/** Creates the handler; reads `HOPPER_QUEUE_TIERS` and `HOPPER_TIER_MAPPINGS` at once. */
export function createGovernorHandler(options: GovernorHandlerOptions = {}): (event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<GovernorSummary> {
  const config = HopperConfig.of(options.env);
  const layouts = config.queueTiers;
  const queues: GovernedQueue[] = Object.entries(config.tierMappings).flatMap(([name, mappings]) => {
    const layout = layouts[name];
    return layout === undefined ? [] : [{ name, layout, mappings }];
  });
  const nowMs = options.nowMs ?? ((): number => config.clock().getTime());
  const logger = createLogger({ ...(options.log === undefined ? {} : { sink: options.log }), now: () => new Date(nowMs()) });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const periodMs = options.periodMs ?? governorPeriodMs(queues.flatMap((queue) => queue.layout.tiers.map((tier) => tier.targetSeconds)));
  const settle = settleRounds(periodMs);
  let ports: Promise<GovernorPorts> | undefined = options.ports === undefined ? undefined : Promise.resolve(options.ports);
  const memory = new Map<string, QueueMemory>();

  return async (_event, context) => {
    ports ??= import('./aws.js').then((module) => module.awsGovernorPorts(config));
    const io = await ports;
    // A deploy resets the mappings: each invocation reads them again, and keeps only the hysteresis.
    for (const known of memory.values()) known.current.clear();
    let rounds = 0;
    let tiers: TierRound[] = [];
    const lastRound = Math.max(1, Math.floor(GOVERNOR.runMs / periodMs) + 1);
    for (;;) {
      tiers = await governRound(queues, io, memory, nowMs(), logger, settle);
      rounds += 1;
      const waiting = tiers.some((tier) => tier.backlog > 0);
      const remainingMs = context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY;
      if (!waiting || rounds >= lastRound || remainingMs < periodMs + 5_000) break;
      await sleep(periodMs);
    }
    logger.info('tiers governed', {
      rounds,
      tiers: tiers.map((tier) => ({ queue: tier.queue, tier: tier.name, backlog: tier.backlog, age_s: tier.ageSeconds ?? null, target_s: tier.targetSeconds, concurrency: tier.next, late: tier.late })),
    });
    return { rounds, tiers };
  };
}
