/**
 * The DynamoDB SDK for code that runs in workers: loaded on first use through a dynamic import of
 * the package itself, so that a worker bundle (which takes the SDK from the Lambda runtime) loads it
 * only when a job needs a batch or a unique lock. Modules reachable from the worker import the SDK
 * through here and `import type` only; a static import would be hoisted into the bundle's start.
 */
import type * as DynamoSdk from '@aws-sdk/client-dynamodb';
import type {
  DeleteItemCommand,
  DeleteItemCommandOutput,
  GetItemCommand,
  GetItemCommandOutput,
  PutItemCommand,
  PutItemCommandOutput,
  QueryCommand,
  QueryCommandOutput,
  TransactWriteItemsCommand,
  TransactWriteItemsCommandOutput,
  UpdateItemCommand,
  UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';

/** The module `@aws-sdk/client-dynamodb`. */
export type Sdk = typeof DynamoSdk;

let loading: Promise<Sdk> | undefined;

/** Loads the DynamoDB SDK (once). */
export function loadDynamoSdk(): Promise<Sdk> {
  loading ??= import('@aws-sdk/client-dynamodb');
  // Forget a failed load so that the next call tries again.
  loading.catch(() => { loading = undefined; });
  return loading;
}

/**
 * The commands batch and unique-lock storage send; a `DynamoDBClient` satisfies it, and so does a
 * test fake.
 */
export interface StateCommands {
  send(command: TransactWriteItemsCommand): Promise<TransactWriteItemsCommandOutput>;
  send(command: UpdateItemCommand): Promise<UpdateItemCommandOutput>;
  send(command: PutItemCommand): Promise<PutItemCommandOutput>;
  send(command: DeleteItemCommand): Promise<DeleteItemCommandOutput>;
  send(command: GetItemCommand): Promise<GetItemCommandOutput>;
  send(command: QueryCommand): Promise<QueryCommandOutput>;
}

/** An attribute value as both the SDK and Lambda's stream events carry it (the parts Hopper reads). */
export interface AttributeRead {
  readonly S?: string;
  readonly N?: string;
  readonly SS?: readonly string[];
  readonly BOOL?: boolean;
}

/** An item or stream image, read-only. */
export type ItemRead = Readonly<Record<string, AttributeRead | undefined>>;

/** The reasons of a `TransactionCanceledException`, one per item of the transaction, in order. */
export interface CancellationReason {
  readonly Code?: string;
  readonly Item?: ItemRead;
}

/** The cancellation reasons when `error` is a `TransactionCanceledException` (by name), else undefined. */
export function cancellationReasons(error: unknown): readonly (CancellationReason | undefined)[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  const reasons: unknown = 'CancellationReasons' in error ? error.CancellationReasons : undefined;
  if (!Array.isArray(reasons)) return [];
  return reasons.map((reason: unknown) => (typeof reason === 'object' && reason !== null ? reasonOf(reason) : undefined));
}

function reasonOf(reason: object): CancellationReason {
  const code = 'Code' in reason && typeof reason.Code === 'string' ? reason.Code : undefined;
  const item = 'Item' in reason && typeof reason.Item === 'object' && reason.Item !== null ? toItemRead(reason.Item) : undefined;
  return { ...(code === undefined ? {} : { Code: code }), ...(item === undefined ? {} : { Item: item }) };
}

function toItemRead(item: object): ItemRead {
  const read: Record<string, AttributeRead> = {};
  for (const [name, value] of Object.entries(item)) {
    if (typeof value === 'object' && value !== null) read[name] = attributeOf(value);
  }
  return read;
}

function attributeOf(value: object): AttributeRead {
  return {
    ...('S' in value && typeof value.S === 'string' ? { S: value.S } : {}),
    ...('N' in value && typeof value.N === 'string' ? { N: value.N } : {}),
    ...('SS' in value && Array.isArray(value.SS) ? { SS: value.SS.filter((entry: unknown): entry is string => typeof entry === 'string') } : {}),
    ...('BOOL' in value && typeof value.BOOL === 'boolean' ? { BOOL: value.BOOL } : {}),
  };
}

/** True when `error` is a failed condition of a single-item write (by name). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** The item a `ConditionalCheckFailedException` carries (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`). */
export function conditionFailureItem(error: unknown): ItemRead | undefined {
  if (!isConditionFailure(error) || typeof error !== 'object' || error === null || !('Item' in error)) return undefined;
  const item: unknown = error.Item;
  return typeof item === 'object' && item !== null ? toItemRead(item) : undefined;
}

/**
 * A client given as is, or made by `source` on first use. A failed make is forgotten, so the next
 * call tries again (the stores of the state table share one this way).
 */
export function lazyClient(source: StateCommands | (() => Promise<StateCommands>)): () => Promise<StateCommands> {
  let client: Promise<StateCommands> | undefined;
  return () => {
    client ??= typeof source === 'function' ? source() : Promise.resolve(source);
    client.catch(() => { client = undefined; });
    return client;
  };
}
