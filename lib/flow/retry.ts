/**
 * Retrying a failed flow from its failed steps (`POST /v1/flows/{id}/retry`, `hopper flow retry`):
 * one conditional change of the flow item (./engine.ts `retryFlow`), whose stream record starts a
 * new attempt of each failed step, in a new batch; the steps that succeeded do not run again.
 */
import { FlowNotFoundError, FlowNotRetryableError } from '../errors/flow.js';
import { retryFlow } from './engine.js';
import type { FlowState } from './model.js';
import type { FlowStore } from './store.js';

/**
 * Retries flow `id` from its failed steps.
 *
 * @returns the flow as written.
 * @throws FlowNotFoundError; FlowNotRetryableError when it has not failed, or a step still runs.
 */
export async function retryFailedFlow(store: FlowStore, id: string, now: () => Date): Promise<FlowState> {
  let refused: FlowState | undefined;
  const written = await store.change(id, (state) => {
    const next = retryFlow(state.plan, state, now());
    if (next === undefined) refused = state;
    return next;
  });
  if (written !== undefined) return written;
  if (refused === undefined) throw new FlowNotFoundError(id);
  throw new FlowNotRetryableError(id, refused.status === 'failed' ? 'failed, with a step still running' : refused.status);
}
