/**
 * An in-memory stand-in for the DynamoDB commands the storage module sends, interpreting exactly
 * the expressions it writes (anything else throws, so a change in the module shows up).
 */
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type TransactWriteItemsCommand,
  type TransactWriteItemsCommandOutput,
  QueryCommand,
  UpdateItemCommand,
  type BatchWriteItemCommandOutput,
  type DeleteItemCommandOutput,
  type GetItemCommandOutput,
  type PutItemCommandOutput,
  type QueryCommandOutput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { DynamoCommands } from '../../lib/storage/state-table.js';
import type { Item } from '../../lib/storage/set-items.js';

type Command = PutItemCommand | QueryCommand | DeleteItemCommand | UpdateItemCommand | GetItemCommand | BatchWriteItemCommand;
type Output = PutItemCommandOutput | QueryCommandOutput | DeleteItemCommandOutput | UpdateItemCommandOutput | GetItemCommandOutput | BatchWriteItemCommandOutput;

const CLAIM = {
  update: 'SET claimed_until = :until, claimed_by = :owner',
  condition: 'attribute_exists(pk) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)',
} as const;
const RELEASE = { update: 'REMOVE claimed_until, claimed_by', condition: 'claimed_by = :owner' } as const;
/** The count of uncharged redrives (lib/storage/start-marks.ts). */
const COUNT_REDRIVE = 'ADD redrives :one SET #ttl = :ttl';

export class FakeDynamo implements DynamoCommands {
  /** Items by `pk|sk`. */
  readonly items = new Map<string, Item>();
  /** Every command sent, in order. */
  readonly sent: Command[] = [];
  /** Most items one query page returns, standing in for DynamoDB's 1 MB page limit. */
  pageSize = Number.POSITIVE_INFINITY;
  /** When set, a PutItem whose item has this jid fails with this error. */
  failPutFor: { jid: string; error: Error } | undefined;
  /**
   * How many of a BatchWriteItem call's requests, from its end, come back unprocessed (standing in
   * for throttling), for each of the next calls in turn; a call beyond the list processes all.
   */
  readonly unprocessed: number[] = [];

  send(command: PutItemCommand): Promise<PutItemCommandOutput>;
  send(command: QueryCommand): Promise<QueryCommandOutput>;
  send(command: DeleteItemCommand): Promise<DeleteItemCommandOutput>;
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
  send(command: GetItemCommand): Promise<GetItemCommandOutput>;
  send(command: BatchWriteItemCommand): Promise<BatchWriteItemCommandOutput>;
  /** Not interpreted: throws (batches have their own fake). */
  send(command: TransactWriteItemsCommand): Promise<TransactWriteItemsCommandOutput>;
  async send(command: Command | TransactWriteItemsCommand): Promise<Output | TransactWriteItemsCommandOutput> {
    if (!isInterpreted(command)) throw new Error('FakeDynamo cannot interpret TransactWriteItems');
    this.sent.push(command);
    // Yield once, as a network call would, so that concurrent callers interleave.
    await Promise.resolve();
    if (command instanceof PutItemCommand) return this.put(command);
    if (command instanceof QueryCommand) return this.query(command);
    if (command instanceof UpdateItemCommand) return this.update(command);
    if (command instanceof BatchWriteItemCommand) return this.batchWrite(command);
    if (command instanceof GetItemCommand) {
      const item = this.items.get(keyOf(command.input.Key ?? {}));
      return { $metadata: {}, ...(item === undefined ? {} : { Item: structuredClone(item) }) };
    }
    return this.delete(command);
  }

  /** The commands of one kind that were sent. */
  sentOf<C extends Command>(kind: new (...args: never[]) => C): C[] {
    return this.sent.filter((command): command is C => command instanceof kind);
  }

  private put(command: PutItemCommand): PutItemCommandOutput {
    const item = command.input.Item ?? {};
    if (this.failPutFor !== undefined && item.jid?.S === this.failPutFor.jid) throw this.failPutFor.error;
    this.items.set(keyOf(item), structuredClone(item));
    return { $metadata: {} };
  }

  private query(command: QueryCommand): QueryCommandOutput {
    const { KeyConditionExpression: expression, ExpressionAttributeValues: values = {}, ScanIndexForward, Limit, ExclusiveStartKey } = command.input;
    const match = /^pk = :pk(?: AND sk (BETWEEN :lower AND :upper|>= :lower|<= :upper))?$/.exec(expression ?? '');
    if (match === null) throw new Error(`FakeDynamo cannot interpret ${expression}`);
    const pk = values[':pk']?.S;
    const lower = values[':lower']?.S;
    const upper = values[':upper']?.S;
    let matching = [...this.items.values()]
      .filter((item) => item.pk?.S === pk)
      .filter((item) => {
        const sk = item.sk?.S ?? '';
        return (lower === undefined || sk >= lower) && (upper === undefined || sk <= upper);
      })
      .sort((a, b) => ((a.sk?.S ?? '') < (b.sk?.S ?? '') ? -1 : 1));
    if (ScanIndexForward === false) matching.reverse();
    if (ExclusiveStartKey !== undefined) {
      const start = matching.findIndex((item) => item.sk?.S === ExclusiveStartKey.sk?.S);
      matching = matching.slice(start + 1);
    }
    const take = Math.min(Limit ?? Number.POSITIVE_INFINITY, this.pageSize);
    const page = matching.slice(0, take);
    const last = page.at(-1);
    const more = matching.length > take;
    return {
      $metadata: {},
      Items: page.map((item) => structuredClone(item)),
      Count: page.length,
      // Like DynamoDB, a page cut by Limit reports a LastEvaluatedKey even when nothing follows.
      ...((more || page.length === Limit) && last !== undefined ? { LastEvaluatedKey: { pk: last.pk ?? { S: '' }, sk: last.sk ?? { S: '' } } } : {}),
    };
  }

  private batchWrite(command: BatchWriteItemCommand): BatchWriteItemCommandOutput {
    const requests = Object.entries(command.input.RequestItems ?? {});
    const total = requests.reduce((sum, [, writes]) => sum + writes.length, 0);
    if (total > 25) throw new Error(`FakeDynamo: BatchWriteItem takes at most 25 requests, ${total} were sent`);
    const leave = Math.min(total, this.unprocessed.shift() ?? 0);
    const unprocessed: NonNullable<BatchWriteItemCommandOutput['UnprocessedItems']> = {};
    let position = 0;
    for (const [table, writes] of requests) {
      for (const write of writes) {
        position += 1;
        if (position > total - leave) {
          (unprocessed[table] ??= []).push(write);
          continue;
        }
        if (write.PutRequest?.Item !== undefined) this.items.set(keyOf(write.PutRequest.Item), structuredClone(write.PutRequest.Item));
        else if (write.DeleteRequest?.Key !== undefined) this.items.delete(keyOf(write.DeleteRequest.Key));
      }
    }
    return { $metadata: {}, ...(leave === 0 ? {} : { UnprocessedItems: unprocessed }) };
  }

  private delete(command: DeleteItemCommand): DeleteItemCommandOutput {
    const key = command.input.Key ?? {};
    const existing = this.items.get(keyOf(key));
    const values = command.input.ExpressionAttributeValues ?? {};
    const condition = command.input.ConditionExpression;
    const holds =
      condition === undefined ? true
      : condition === 'attribute_exists(pk)' ? existing !== undefined
      : condition === RELEASE.condition ? existing?.claimed_by?.S === values[':owner']?.S
      : undefined;
    if (holds === undefined) throw new Error(`FakeDynamo cannot interpret ${condition}`);
    if (!holds) throw conditionFailed(undefined);
    this.items.delete(keyOf(key));
    return { $metadata: {}, ...(command.input.ReturnValues === 'ALL_OLD' ? { Attributes: existing } : {}) };
  }

  private update(command: UpdateItemCommand): UpdateItemCommandOutput {
    const { Key: key = {}, UpdateExpression: update, ConditionExpression: condition, ExpressionAttributeValues: values = {} } = command.input;
    const existing = this.items.get(keyOf(key));
    const old = command.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? existing : undefined;
    if (update === CLAIM.update && condition === CLAIM.condition) {
      if (existing === undefined || !claimLapsed(existing, values)) throw conditionFailed(old);
      const until = values[':until'];
      const owner = values[':owner'];
      if (until === undefined || owner === undefined) throw new Error('FakeDynamo: claim without :until or :owner');
      const updated: Item = { ...existing, claimed_until: until, claimed_by: owner };
      this.items.set(keyOf(key), updated);
      return { $metadata: {}, ...(command.input.ReturnValues === 'ALL_NEW' ? { Attributes: structuredClone(updated) } : {}) };
    }
    if (update === COUNT_REDRIVE && condition === undefined) {
      const count = Number(existing?.redrives?.N ?? '0') + 1;
      const updated: Item = { ...key, ...existing, redrives: { N: String(count) }, ttl: values[':ttl'] ?? { N: '0' } };
      this.items.set(keyOf(key), updated);
      return { $metadata: {}, Attributes: { redrives: { N: String(count) } } };
    }
    if (update === RELEASE.update && condition === RELEASE.condition) {
      if (existing?.claimed_by?.S !== values[':owner']?.S || existing === undefined) throw conditionFailed(old);
      const { claimed_until: _until, claimed_by: _by, ...rest } = existing;
      this.items.set(keyOf(key), rest);
      return { $metadata: {} };
    }
    throw new Error(`FakeDynamo cannot interpret ${update} / ${condition}`);
  }
}

function isInterpreted(command: Command | TransactWriteItemsCommand): command is Command {
  return command instanceof PutItemCommand || command instanceof QueryCommand || command instanceof DeleteItemCommand || command instanceof UpdateItemCommand || command instanceof GetItemCommand || command instanceof BatchWriteItemCommand;
}

function claimLapsed(item: Item, values: Item): boolean {
  const until = item.claimed_until?.N;
  return until === undefined || Number(until) < Number(values[':now']?.N);
}

function conditionFailed(old: Item | undefined): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(old === undefined ? {} : { Item: structuredClone(old) }) });
}

function keyOf(item: Item): string {
  return `${item.pk?.S ?? ''}|${item.sk?.S ?? ''}`;
}
