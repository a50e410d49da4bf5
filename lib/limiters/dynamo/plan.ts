/**
 * A store call is a short loop: plan a conditional write from what is known of the item, send it,
 * and on a failed condition plan again from the item DynamoDB returned (`ALL_OLD`), without a
 * separate read. Plans are pure; this module holds their shape.
 *
 * Each write's condition is the limiter's admission rule, evaluated by DynamoDB against the item
 * as it is at that instant, and its update is commutative where the arithmetic allows (`ADD` a
 * count, `SET` a new entry). So concurrent callers that all fit do not invalidate each other:
 * contention costs a retry only when the answer really depends on the other caller's write.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** One conditional `UpdateItem`, expressed with placeholders. */
export interface UpdatePlan {
  readonly update: string;
  readonly condition: string;
  readonly names: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, AttributeValue>>;
}

/** What to do next: write, answer "no" (from state read back), or stop (nothing left to do). */
export type Step =
  /**
   * `quietFromMs`, on a write that starts the item afresh (a new bucket, a drained bucket
   * restarted): when the item, left alone, will be due for a fresh start again.
   */
  | { readonly kind: 'write'; readonly plan: UpdatePlan; readonly quietFromMs?: number }
  | { readonly kind: 'refuse'; readonly retryAfterMs: number }
  | { readonly kind: 'done' };

/** A write step. */
export function write(plan: UpdatePlan): Step {
  return { kind: 'write', plan };
}

/**
 * A write step that starts the item afresh (a new bucket, or a drained one restarted), after which
 * the item is due for a fresh start again at `quietFromMs` unless other calls keep it busy.
 */
export function opening(plan: UpdatePlan, quietFromMs: number): Step {
  return { kind: 'write', plan, quietFromMs };
}

/** The step that ends a call with nothing to write. */
export const DONE: Step = { kind: 'done' };
