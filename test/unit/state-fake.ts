/**
 * A scripted stand-in for the DynamoDB commands of batch and unique-lock storage: it records every
 * command and answers each with the next scripted answer (a value, or an error to throw), or with
 * an empty success when the script has run out.
 */
import {
  ConditionalCheckFailedException,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  type AttributeValue,
  type TransactWriteItem,
  type DeleteItemCommand,
  type DeleteItemCommandOutput,
  type GetItemCommand,
  type GetItemCommandOutput,
  type PutItemCommand,
  type PutItemCommandOutput,
  type QueryCommand,
  type QueryCommandOutput,
  type TransactWriteItemsCommandOutput,
  type UpdateItemCommand,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { StateCommands } from '../../lib/aws/dynamo.js';

type Command = TransactWriteItemsCommand | UpdateItemCommand | PutItemCommand | DeleteItemCommand | GetItemCommand | QueryCommand;
type Output = TransactWriteItemsCommandOutput | UpdateItemCommandOutput | PutItemCommandOutput | DeleteItemCommandOutput | GetItemCommandOutput | QueryCommandOutput;

/** One scripted answer: an output to return or an error to throw. */
export type Answer = { readonly output: Partial<Output> } | { readonly error: Error };

export class ScriptedDynamo implements StateCommands {
  readonly sent: Command[] = [];
  readonly script: Answer[] = [];
  /** Called with each command before it is answered (to record the order of requests across fakes). */
  onSend: ((command: Command) => void) | undefined;

  send(command: TransactWriteItemsCommand): Promise<TransactWriteItemsCommandOutput>;
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
  send(command: PutItemCommand): Promise<PutItemCommandOutput>;
  send(command: DeleteItemCommand): Promise<DeleteItemCommandOutput>;
  send(command: GetItemCommand): Promise<GetItemCommandOutput>;
  send(command: QueryCommand): Promise<QueryCommandOutput>;
  async send(command: Command): Promise<Output> {
    this.sent.push(command);
    this.onSend?.(command);
    const answer = this.script.shift();
    if (answer !== undefined && 'error' in answer) throw answer.error;
    return { $metadata: {}, ...(answer?.output ?? {}) };
  }

  /** The items of every transaction sent, in order. */
  transactions(): TransactWriteItem[][] {
    return this.sent.filter((command) => command instanceof TransactWriteItemsCommand).map((command) => command.input.TransactItems ?? []);
  }

  /** Every command of one kind that was sent. */
  sentOf<C extends Command>(kind: new (...args: never[]) => C): C[] {
    return this.sent.filter((command): command is C => command instanceof kind);
  }
}

/** A cancelled transaction; each reason is a code, or a failed condition with the item it found. */
export function cancelled(...reasons: (string | { readonly item: Record<string, AttributeValue> | undefined })[]): { error: Error } {
  return {
    error: new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: reasons.map((reason) => (typeof reason === 'string'
        ? { Code: reason }
        : { Code: 'ConditionalCheckFailed', ...(reason.item === undefined ? {} : { Item: reason.item }) })),
    }),
  };
}

/** A failed condition of a single-item write, with the item it found. */
export function conditionFailed(item?: Record<string, AttributeValue>): { error: Error } {
  return { error: new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(item === undefined ? {} : { Item: item }) }) };
}
