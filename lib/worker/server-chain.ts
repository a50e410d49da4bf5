/**
 * A job's run through the team's server middleware (lib/middleware/chain.ts) and Hopper's own steps,
 * in the order `serverOrder` gives: `'expiry'` drops a job whose `custom.expires_at` has passed,
 * `'unique'` releases a lock held `unique_until: 'start'`, `'limiter'` holds the job's tenant caps,
 * its throttle and the queue's `maxConcurrency` lease around what follows it (./flow-gate.ts). The last entry calls the handler.
 *
 * A middleware may pass `next` a changed job (the same `jid`): what follows, the handler included,
 * gets that one (a decompressing middleware hands on the original arguments). A middleware that
 * does not call `next()` ends the run there: the job succeeds with what the
 * middleware returned (Sidekiq's server middleware that does not yield). One that calls it twice
 * gets an error the second time.
 */
import { HopperError } from '../errors/base.js';
import type { Job } from '../job/model.js';
import { entryName, type HopperStep, type ServerMiddleware } from '../middleware/chain.js';
import type { Held } from './flow-gate.js';

/** How a run through the chain ended. */
export type ChainResult =
  | { readonly kind: 'ran'; readonly value: unknown }
  /** `'expiry'` found the job expired: nothing after it ran. */
  | { readonly kind: 'expired' }
  /** `'limiter'` found no room: nothing after it ran; `held` says which limit and for how long. */
  | { readonly kind: 'capped'; readonly held: Held };

/** What Hopper's steps do for this job. */
export interface ChainSteps {
  /** Whether the job has expired. */
  expired(): boolean;
  /** Releases a `unique_until: 'start'` lock; never throws. */
  unique(): Promise<void>;
  /** Runs `next` within the job's limits and the queue's lease: undefined when it ran, else what held it. */
  limiter(next: () => Promise<void>): Promise<Held | undefined>;
  /** Runs the handler on `job` (the one the chain handed on). */
  handler(job: Job): Promise<unknown>;
}

/** Runs `entries` around the job's handler; see the module comment. */
export async function runServerChain<Ctx>(
  entries: readonly (ServerMiddleware<Ctx> | HopperStep)[],
  job: Job,
  ctx: Ctx,
  steps: ChainSteps,
): Promise<ChainResult> {
  let stopped: ChainResult | undefined;
  const dispatch = async (index: number, current: Job): Promise<unknown> => {
    const entry = entries[index];
    if (entry === undefined) return steps.handler(current);
    let called = false;
    const next = (changed?: Job): Promise<unknown> => {
      if (called) return Promise.reject(new HopperError(`server middleware ${describeEntry(entry, index)} called next() twice`));
      called = true;
      if (changed !== undefined && changed.jid !== current.jid) {
        return Promise.reject(new HopperError(`server middleware ${describeEntry(entry, index)} passed next() a job with another jid (${changed.jid}, not ${current.jid})`));
      }
      return dispatch(index + 1, changed ?? current);
    };
    switch (entry) {
      case 'expiry':
        if (!steps.expired()) return next();
        stopped = { kind: 'expired' };
        return undefined;
      case 'unique':
        await steps.unique();
        return next();
      case 'limiter': {
        let value: unknown;
        const held = await steps.limiter(async () => { value = await next(); });
        if (held === undefined) return value;
        stopped = { kind: 'capped', held };
        return undefined;
      }
      default:
        return await entry(current, ctx, next);
    }
  };
  const value = await dispatch(0, job);
  return stopped ?? { kind: 'ran', value };
}

function describeEntry(entry: unknown, index: number): string {
  return typeof entry === 'string' ? `'${entry}'` : entryName(entry, `server[${index}]`);
}
