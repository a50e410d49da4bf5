/**
 * The `MessageGroupId` of a send, at the local SQS endpoint: refused as SQS refuses it (1 to 128
 * letters, digits and ASCII punctuation; lib/job/message-group.ts holds the rule), and announced to
 * the fair queues (fauxqs-fairness.ts) so that a standard queue's message keeps its group.
 */
import { isRecord } from '../../lib/job/model.js';
import { messageGroupIdProblem } from '../../lib/job/message-group.js';
import type { FairQueues } from './fauxqs-fairness.js';

type Json = Record<string, unknown>;

/** The error code SQS refuses a malformed parameter with. */
export const GROUP_ID_ERROR = 'InvalidParameterValue';

/** What to do with a send. */
export type GroupedSend =
  | { readonly kind: 'refused'; readonly message: string }
  | {
    readonly kind: 'send';
    /** The request to pass on (a batch without its refused entries). */
    readonly body: Json;
    /** The batch entries refused, as SQS lists them in `Failed`. */
    readonly refused: readonly Json[];
    /** Withdraws the announcements the emulator did not take (call after it answered). */
    readonly settle: () => void;
  };

/** SQS's message for a malformed group id. */
export function groupIdRefusal(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const problem = typeof value === 'string' ? messageGroupIdProblem(value) : 'must be a string';
  return problem === undefined ? undefined : `Value ${JSON.stringify(value)} for parameter MessageGroupId is invalid. Reason: it ${problem}.`;
}

/**
 * Checks the group ids of a SendMessage or SendMessageBatch `body` (its `QueueUrl` the emulator's)
 * and announces the valid ones to `fair` (when fair queues are on).
 */
export function groupedSend(action: 'SendMessage' | 'SendMessageBatch', body: Json, fair: FairQueues | undefined): GroupedSend {
  const queueUrl = typeof body.QueueUrl === 'string' ? body.QueueUrl : undefined;
  const withdrawals: (() => void)[] = [];
  const announce = (entry: Json): void => {
    const { MessageGroupId: group, MessageBody: text } = entry;
    if (fair !== undefined && queueUrl !== undefined && typeof group === 'string' && typeof text === 'string') withdrawals.push(fair.announce(queueUrl, text, group));
  };
  const settle = (): void => {
    for (const withdraw of withdrawals) withdraw();
  };
  if (action === 'SendMessage') {
    const refusal = groupIdRefusal(body.MessageGroupId);
    if (refusal !== undefined) return { kind: 'refused', message: refusal };
    announce(body);
    return { kind: 'send', body, refused: [], settle };
  }
  const entries: unknown = body.Entries;
  if (!Array.isArray(entries)) return { kind: 'send', body, refused: [], settle };
  const refused: Json[] = [];
  const allowed = entries.filter((entry: unknown) => {
    if (!isRecord(entry)) return true;
    const refusal = groupIdRefusal(entry.MessageGroupId);
    if (refusal === undefined) {
      announce(entry);
      return true;
    }
    refused.push({ Id: entry.Id, SenderFault: true, Code: GROUP_ID_ERROR, Message: refusal });
    return false;
  });
  return { kind: 'send', body: { ...body, Entries: allowed }, refused, settle };
}
