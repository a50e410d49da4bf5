/**
 * What a `429` or `503` says about where not to send, and until when (Sentry's model): each group
 * of `X-Hopper-Rate-Limits: <retry_after>:<queues>:<scope>:<reason>` closes its queues (or, with
 * no queues, every queue) for `retry_after` seconds; without the header, `Retry-After` closes every
 * queue the request was for. Pure.
 */

/** One group of the header. */
export interface RateLimitGroup {
  readonly retryAfterSeconds: number;
  /** Queues it closes; empty means every queue. */
  readonly queues: readonly string[];
  /** `tenant` or `queue`. */
  readonly scope: string;
  readonly reason: string;
}

/** Retry-After when a refusal carries none (Sentry's default). */
export const DEFAULT_RETRY_AFTER_SECONDS = 60;

/** Parses `X-Hopper-Rate-Limits`; malformed groups are skipped. */
export function parseRateLimits(header: string | null | undefined): RateLimitGroup[] {
  if (header === null || header === undefined) return [];
  return header.split(',').flatMap((group) => {
    const parts = group.trim().split(':');
    if (parts.length !== 4) return [];
    const [retry = '', queues = '', scope = '', reason = ''] = parts;
    const seconds = Number(retry);
    if (retry === '' || !Number.isFinite(seconds) || seconds < 0) return [];
    return [{ retryAfterSeconds: seconds, queues: queues === '' ? [] : queues.split(';').filter((queue) => queue !== ''), scope, reason }];
  });
}

/** Parses `Retry-After` (seconds or an HTTP date) into seconds from `nowMs`. */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number {
  if (header === null || header === undefined || header.trim() === '') return DEFAULT_RETRY_AFTER_SECONDS;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? DEFAULT_RETRY_AFTER_SECONDS : Math.max(0, (date - nowMs) / 1000);
}

/** The key of a closed scope: `*` for every queue, `queue:<name>` for one. */
export type GateKey = '*' | `queue:${string}`;

/** Closed scopes and when they open, epoch ms. */
export class Gates {
  private readonly until = new Map<GateKey, { atMs: number; reason: string; scope: string }>();

  /** Records a refusal of a request for `queues` at `nowMs`. */
  close(groups: readonly RateLimitGroup[], fallback: { retryAfterSeconds: number; reason: string; queues: readonly string[] }, nowMs: number): void {
    const effective = groups.length > 0 ? groups : [{ retryAfterSeconds: fallback.retryAfterSeconds, queues: fallback.queues, scope: 'queue', reason: fallback.reason }];
    for (const group of effective) {
      // At least a second, so a server answering 0 cannot make a client spin.
      const atMs = nowMs + Math.max(1, group.retryAfterSeconds) * 1000;
      const keys: GateKey[] = group.queues.length === 0 ? ['*'] : group.queues.map((queue): GateKey => `queue:${queue}`);
      for (const key of keys) {
        const known = this.until.get(key);
        if (known === undefined || known.atMs < atMs) this.until.set(key, { atMs, reason: group.reason, scope: group.scope });
      }
    }
  }

  /** The latest time any of `queues` is closed until (or undefined when all are open at `nowMs`), and why. */
  closedUntil(queues: readonly string[], nowMs: number): { atMs: number; reason: string; scope: string } | undefined {
    let latest: { atMs: number; reason: string; scope: string } | undefined;
    for (const key of ['*' as const, ...queues.map((queue): GateKey => `queue:${queue}`)]) {
      const gate = this.until.get(key);
      if (gate === undefined || gate.atMs <= nowMs) continue;
      if (latest === undefined || gate.atMs > latest.atMs) latest = { ...gate, scope: key === '*' ? gate.scope : key };
    }
    return latest;
  }

  /** Every scope still closed at `nowMs`, with when it opens (ISO-8601). */
  snapshot(nowMs: number): Record<string, string> {
    const open: Record<string, string> = {};
    for (const [key, gate] of this.until) if (gate.atMs > nowMs) open[key] = new Date(gate.atMs).toISOString();
    return open;
  }
}
