/**
 * Priority tiers of a queue, pure: which tier a job belongs to. A queue that declares tiers has one
 * SQS queue and one event source mapping per tier (docs/flow-control.md, "Priority tiers"); a job
 * names its tier in `custom.tier`, or gives a Faktory-style priority in `custom.priority` (0 to 9,
 * 9 the most urgent, Faktory's default 5), and otherwise goes to the queue's default tier. The job's
 * `queue` stays the logical queue's name whatever its tier.
 */
import { InvalidJobError } from '../errors/base.js';
import type { Job } from './model.js';

/** The priorities a job may give, as Faktory numbers them. */
export const PRIORITY = {
  /** The least urgent. */
  min: 0,
  /** The most urgent. */
  max: 9,
  /** Faktory's default. */
  default: 5,
} as const;

/** The tiers of one queue, most urgent first (declaration order), and the one a job without either field goes to. */
export interface TierNames {
  readonly names: readonly string[];
  readonly defaultTier: string;
}

/** The tier named `default` if there is one, else the last (least urgent) of `names`. */
export function defaultTierOf(names: readonly string[]): string | undefined {
  return names.includes('default') ? 'default' : names.at(-1);
}

/**
 * The tier a priority maps to: the ten priorities are split in equal runs over the tiers in
 * declaration order, the most urgent tier taking the highest priorities. With three tiers, 9–6 go
 * to the first, 5–3 to the second and 2–0 to the third; with two, 9–5 and 4–0.
 *
 * @example
 * tierOfPriority(9, ['critical', 'default', 'bulk']) // 'critical'
 * tierOfPriority(5, ['critical', 'default', 'bulk']) // 'default'
 */
export function tierOfPriority(priority: number, names: readonly string[]): string | undefined {
  const span = PRIORITY.max - PRIORITY.min + 1;
  const index = Math.floor(((PRIORITY.max - priority) * names.length) / span);
  return names[Math.min(names.length - 1, Math.max(0, index))];
}

/**
 * The tier of `job` among `tiers`: `custom.tier` when set, else the tier of `custom.priority` when
 * set, else the default tier. With `lenient`, a tier or priority that does not fit (a tier removed
 * since the job was enqueued) falls back to the default tier instead of throwing: Hopper's own
 * functions moving a job never lose it for that.
 *
 * @param path prefix of the field in errors (`jobs[3].`)
 * @throws InvalidJobError naming `custom.tier` or `custom.priority` and what was expected (not with `lenient`)
 */
export function tierOfJob(job: Pick<Job, 'queue' | 'custom'>, tiers: TierNames, options: { readonly lenient?: boolean; readonly path?: string } = {}): string {
  const path = options.path ?? '';
  const tier = job.custom?.tier;
  const priority = job.custom?.priority;
  const fail = (field: string, expected: string, received: unknown): string => {
    if (options.lenient === true) return tiers.defaultTier;
    throw new InvalidJobError(`${path}custom.${field}`, expected, JSON.stringify(received));
  };
  if (tier !== undefined) {
    if (typeof tier === 'string' && tiers.names.includes(tier)) return tier;
    return fail('tier', `one of the tiers of queue ${job.queue} (${tiers.names.join(', ')})`, tier);
  }
  if (priority !== undefined) {
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < PRIORITY.min || priority > PRIORITY.max) {
      return fail('priority', `an integer from ${PRIORITY.min} (least urgent) to ${PRIORITY.max} (most urgent)`, priority);
    }
    return tierOfPriority(priority, tiers.names) ?? tiers.defaultTier;
  }
  return tiers.defaultTier;
}
