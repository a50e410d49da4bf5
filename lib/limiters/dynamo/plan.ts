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
  | { readonly kind: 'write'; readonly plan: UpdatePlan }
  | { readonly kind: 'refuse'; readonly retryAfterMs: number }
  | { readonly kind: 'done' };

/** A write step. */
export function write(plan: UpdatePlan): Step {
  return { kind: 'write', plan };
}

/** The step that ends a call with nothing to write. */
export const DONE: Step = { kind: 'done' };
