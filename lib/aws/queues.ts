/**
 * Which Hopper queue an SQS record came from. A record names its queue by ARN
 * (`arn:aws:sqs:<region>:<account>:<physical name>`), while Hopper knows its queues by name through
 * `HOPPER_QUEUE_URLS` (`https://<host>/<account>/<physical name>`). Both end in the account and the
 * physical name, which together identify the queue whatever the URL's host looks like (emulators
 * use their own hosts). A queue with priority tiers has one SQS queue per tier; each resolves to
 * the logical queue's name and its tier.
 */
import { InvalidJobError } from '../errors/base.js';
import type { QueueTiers } from '../config/queue-tiers.js';
import type { Job } from '../job/model.js';
import { tierOfJob } from '../job/tier.js';

/** Maps queue ARNs back to Hopper queue names, and jobs to the URL of their queue (their tier's). */
export interface QueueResolver {
  /** The Hopper name of the queue `arn` names (a tier's queue: its logical queue), or undefined when it is not a declared queue. */
  nameOf(arn: string): string | undefined;
  /** The tier whose queue `arn` names; undefined for a queue without tiers. */
  tierOf(arn: string): string | undefined;
  /** The URL of the SQS queue `arn` names (the queue a record came from), or undefined when it is not declared. */
  sourceUrlOf(arn: string): string | undefined;
  /**
   * The URL `job` is sent to: its queue's, or its tier's when the queue has tiers (a tier that no
   * longer exists falls back to the default tier: a job moved by Hopper is never lost for it).
   * Undefined when the queue is not declared.
   */
  urlOf(job: Pick<Job, 'queue' | 'custom'>): string | undefined;
}

/**
 * The URL of the SQS queue `job` goes to: the one place that maps a job to its queue URL, for every
 * path that sends one (client, API, worker re-sends, retry, scheduler). A queue with tiers sends
 * each job to its tier's queue (lib/job/tier.ts); `job.queue` stays the logical queue's name.
 * Undefined when `job.queue` is not declared.
 *
 * @param options.lenient a tier or priority that does not fit goes to the default tier instead of throwing
 * @throws InvalidJobError for a `custom.tier` or `custom.priority` that does not fit (not with `lenient`)
 */
export function jobQueueUrl(
  job: Pick<Job, 'queue' | 'custom'>,
  queueUrls: Readonly<Record<string, string>>,
  tiers: QueueTiers | undefined,
  options: { readonly lenient?: boolean; readonly path?: string } = {},
): string | undefined {
  if (!Object.hasOwn(queueUrls, job.queue)) return undefined;
  const layout = tiers !== undefined && Object.hasOwn(tiers, job.queue) ? tiers[job.queue] : undefined;
  if (layout === undefined) {
    if (job.custom?.tier !== undefined && options.lenient !== true) {
      throw new InvalidJobError(`${options.path ?? ''}custom.tier`, `absent: queue ${job.queue} declares no tiers`, JSON.stringify(job.custom.tier));
    }
    return queueUrls[job.queue];
  }
  const tier = tierOfJob(job, layout, options);
  return layout.tiers.find((route) => route.name === tier)?.url ?? queueUrls[job.queue];
}

/** The physical queue name at the end of an SQS ARN (or the whole text if it is not an ARN). */
export function physicalNameFromArn(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

/** A declared SQS queue: the logical queue it serves, and its tier when it is a tier's. */
interface SourceQueue {
  readonly name: string;
  readonly tier?: string;
  readonly url: string;
}

/** Builds a resolver from `HOPPER_QUEUE_URLS` (queue name → URL) and `HOPPER_QUEUE_TIERS`. */
export function queueResolver(queueUrls: Readonly<Record<string, string>>, tiers: QueueTiers = {}): QueueResolver {
  // The default tier's queue is also its queue's URL: the entry naming the tier is kept.
  const byUrl = new Map<string, SourceQueue>();
  for (const [name, layout] of Object.entries(tiers)) for (const route of layout.tiers) byUrl.set(route.url, { name, tier: route.name, url: route.url });
  for (const [name, url] of Object.entries(queueUrls)) if (!byUrl.has(url)) byUrl.set(url, { name, url });
  const byAccountAndName = new Map<string, SourceQueue>();
  const byName = new Map<string, SourceQueue[]>();
  for (const source of byUrl.values()) {
    const path = urlPath(source.url);
    const physical = path.at(-1);
    if (physical === undefined) continue;
    const account = path.at(-2);
    if (account !== undefined) byAccountAndName.set(`${account}:${physical}`, source);
    byName.set(physical, [...(byName.get(physical) ?? []), source]);
  }
  // A worker asks for the same few ARNs on every record: each is resolved once.
  const resolved = new Map<string, SourceQueue | undefined>();
  const resolve = (arn: string): SourceQueue | undefined => {
    const parts = arn.split(':');
    const physical = parts.at(-1);
    const account = parts.at(-2);
    if (physical === undefined) return undefined;
    const exact = account === undefined ? undefined : byAccountAndName.get(`${account}:${physical}`);
    if (exact !== undefined) return exact;
    // Some emulators put a placeholder account in URLs; the physical name alone is still
    // unambiguous unless two accounts share it.
    const candidates = byName.get(physical);
    return candidates?.length === 1 ? candidates[0] : undefined;
  };
  const sourceOf = (arn: string): SourceQueue | undefined => {
    if (resolved.has(arn)) return resolved.get(arn);
    const source = resolve(arn);
    // Bounded: a worker reads from the queues of its mappings, a handful of ARNs.
    if (resolved.size < 64) resolved.set(arn, source);
    return source;
  };
  return {
    nameOf: (arn) => sourceOf(arn)?.name,
    tierOf: (arn) => sourceOf(arn)?.tier,
    sourceUrlOf: (arn) => sourceOf(arn)?.url,
    urlOf: (job) => jobQueueUrl(job, queueUrls, tiers, { lenient: true }),
  };
}

function urlPath(url: string): string[] {
  try {
    return new URL(url).pathname.split('/').filter((segment) => segment.length > 0);
  } catch {
    return url.split('/').filter((segment) => segment.length > 0);
  }
}
