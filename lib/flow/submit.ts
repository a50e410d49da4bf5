/**
 * Submitting a flow: validated and compiled (./compile.ts), then written as one flow item whose
 * root steps are already started; the flow item's stream record makes their batches and enqueues
 * their jobs (./stream.ts). One conditional put: a flow submitted again with the same id is left
 * as it is.
 */
import type { EnqueueRuntime } from '../enqueue/enqueue.js';
import { compileFlow } from './compile.js';
import { startFlow } from './engine.js';
import type { FlowDefinition } from './model.js';
import type { FlowStore } from './store.js';

/** What {@link submitFlow} did. */
export interface SubmittedFlow {
  readonly id: string;
  /** False when a flow with this id existed: it was left as it is. */
  readonly created: boolean;
}

/**
 * Validates `definition` and writes its flow item.
 *
 * @throws InvalidFlowError naming the step and field.
 */
export async function submitFlow(definition: FlowDefinition, runtime: Pick<EnqueueRuntime, 'queueUrls' | 'defaultRetry' | 'now'>, store: () => Promise<FlowStore>): Promise<SubmittedFlow> {
  const now = runtime.now();
  const { id, plan } = compileFlow(definition, runtime, now);
  const { created } = await (await store()).create({
    id, plan, progress: startFlow(plan, now), ...(definition.description === undefined ? {} : { description: definition.description }),
  });
  return { id, created };
}
