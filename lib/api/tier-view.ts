/**
 * The tiers of a queue in `GET /v1/queues`: each tier's counts (its own SQS queue), the age of its
 * oldest job as the governor estimates it against its target, and its mapping's concurrency now.
 */
import { estimateAgeSeconds, isLate } from '../governor/plan.js';
import type { ApiContext } from './context.js';
import type { QueueCounts } from './queue-state.js';
import type { TierView } from './wire.js';

/** The tiers of queue `name`, most urgent first; undefined for a queue without tiers. */
export async function tierViews(ctx: ApiContext, name: string): Promise<TierView[] | undefined> {
  const layout = Object.hasOwn(ctx.config.queueTiers, name) ? ctx.config.queueTiers[name] : undefined;
  if (layout === undefined) return undefined;
  const mappings = Object.hasOwn(ctx.config.tierMappings, name) ? ctx.config.tierMappings[name] : undefined;
  const nowMs = ctx.now();
  return Promise.all(layout.tiers.map(async (tier): Promise<TierView> => {
    const uuid = mappings?.mappings[tier.name];
    const [counts, report, concurrency] = await Promise.all([
      ctx.queues.countsOf(tier.url),
      ctx.queues.reportOf(name, tier.url),
      uuid === undefined ? Promise.resolve(undefined) : ctx.queues.mappingConcurrency(uuid),
    ]);
    const age = estimateAgeSeconds(counts.visible, report.tierLags?.get(tier.name), nowMs);
    return {
      name: tier.name,
      size: counts.visible,
      in_flight: counts.inFlight,
      delayed: counts.delayed,
      age: age ?? null,
      target_age: tier.targetSeconds,
      late: isLate({ backlog: counts.visible, ageSeconds: age, targetSeconds: tier.targetSeconds }),
      concurrency: concurrency ?? null,
      max_jobs: concurrency === undefined || mappings === undefined ? null : concurrency * mappings.perInvocation,
    };
  }));
}

/** The counts of a queue with tiers: the sums of its tiers'. */
export function summedCounts(tiers: readonly TierView[]): QueueCounts {
  return tiers.reduce((sum, tier) => ({ visible: sum.visible + tier.size, inFlight: sum.inFlight + tier.in_flight, delayed: sum.delayed + tier.delayed }), { visible: 0, inFlight: 0, delayed: 0 });
}
