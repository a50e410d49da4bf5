/**
 * Which Hopper queue an SQS record came from. A record names its queue by ARN
 * (`arn:aws:sqs:<region>:<account>:<physical name>`), while Hopper knows its queues by name through
 * `HOPPER_QUEUE_URLS` (`https://<host>/<account>/<physical name>`). Both end in the account and the
 * physical name, which together identify the queue whatever the URL's host looks like (emulators
 * use their own hosts).
 */

/** Maps queue ARNs back to Hopper queue names. */
export interface QueueResolver {
  /** The Hopper name of the queue `arn` names, or undefined when it is not a declared queue. */
  nameOf(arn: string): string | undefined;
  /** The URL of the Hopper queue `name`, or undefined when it is not declared. */
  urlOf(name: string): string | undefined;
}

/** The physical queue name at the end of an SQS ARN (or the whole text if it is not an ARN). */
export function physicalNameFromArn(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

/** Builds a resolver from `HOPPER_QUEUE_URLS` (queue name → URL). */
export function queueResolver(queueUrls: Readonly<Record<string, string>>): QueueResolver {
  const byAccountAndName = new Map<string, string>();
  const byName = new Map<string, string[]>();
  for (const [name, url] of Object.entries(queueUrls)) {
    const path = urlPath(url);
    const physical = path.at(-1);
    if (physical === undefined) continue;
    const account = path.at(-2);
    if (account !== undefined) byAccountAndName.set(`${account}:${physical}`, name);
    byName.set(physical, [...(byName.get(physical) ?? []), name]);
  }
  // A worker asks for the same few ARNs on every record: each is resolved once.
  const resolved = new Map<string, string | undefined>();
  const resolve = (arn: string): string | undefined => {
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
  return {
    nameOf(arn) {
      if (resolved.has(arn)) return resolved.get(arn);
      const name = resolve(arn);
      // Bounded: a worker reads from the queues of its mappings, a handful of ARNs.
      if (resolved.size < 64) resolved.set(arn, name);
      return name;
    },
    urlOf(name) {
      return Object.hasOwn(queueUrls, name) ? queueUrls[name] : undefined;
    },
  };
}

function urlPath(url: string): string[] {
  try {
    return new URL(url).pathname.split('/').filter((segment) => segment.length > 0);
  } catch {
    return url.split('/').filter((segment) => segment.length > 0);
  }
}
