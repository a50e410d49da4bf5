/**
 * The local DynamoDB endpoint when a partition limit is asked for: a front on 127.0.0.1 before
 * DynamoDB Local that refuses writes to a partition key past its throughput, as DynamoDB does to a
 * hot partition. DynamoDB Local has no partitions and never throttles, so without the front a
 * design that puts every job's write on one item passes every local test and throttles on AWS.
 *
 * What the front models (partition-limit.ts holds the arithmetic):
 * - Each partition key value of a table takes at most `writeUnitsPerSecond` write units a second,
 *   as each of DynamoDB's partitions takes at most 1,000. A key never spans partitions here (AWS
 *   may split a hot key's sort-key range over partitions: "split for heat"; designs must not rely
 *   on it).
 * - Units are what AWS bills (billing.ts): a put by its item's size, an update or delete as the
 *   item's key and the values it writes (the item's other attributes are not known to the front;
 *   Hopper's items are under 1 KB), each transaction item twice.
 * - A refused single write is answered with DynamoDB's `ProvisionedThroughputExceededException` and the
 *   throttling reason `TableWriteKeyRangeThroughputExceeded`; SDKs retry it with backoff. A
 *   refused transaction is cancelled with a `ThrottlingError` reason on its hot items. A batch
 *   write passes on its cool items and returns the hot ones as `UnprocessedItems`, and is refused
 *   whole only when every item is hot.
 * - Reads, streams and table management pass untouched.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { field } from '../../lib/common/field.js';
import { isRecord } from '../../lib/job/model.js';
import { bindLoopback, boundPort, closeServer } from '../http/loopback.js';
import { exchange, headersOf, readBody, reply, type Answer } from '../http/relay.js';
import { billedWriteUnits, itemBytes, valueBytes, writeTargets, type WriteTarget } from './billing.js';
import { PartitionMeter, type PartitionCharge, type PartitionLimit, type PartitionReport } from './partition-limit.js';

/** What the front needs. */
export interface DynamoFrontOptions {
  /** Port to listen on; 0 takes a free one. */
  readonly port: number;
  /** DynamoDB Local's endpoint. */
  readonly target: string;
  readonly limit: PartitionLimit;
  /** Region and account of the table ARNs in throttling reasons. */
  readonly region: string;
  readonly accountId: string;
  /** Credentials the front reads table key schemas with (DynamoDB Local keeps tables per access key). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** @default Date.now */
  readonly now?: () => number;
}

/** A running front. */
export interface DynamoFront {
  /** The DynamoDB endpoint, e.g. `http://127.0.0.1:41236`. */
  readonly url: string;
  /** DynamoDB Local's endpoint behind the front. */
  readonly target: string;
  readonly limit: PartitionLimit;
  /** Per partition key: units taken, throttled requests, the busiest second. */
  report(): PartitionReport[];
  /** Forgets what was counted (a new measurement starts). */
  reset(): void;
  close(): Promise<void>;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'DynamoDB_20120810.';
const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
/** The throttling reason DynamoDB gives a hot partition key's write. */
export const KEY_RANGE_WRITE_REASON = 'TableWriteKeyRangeThroughputExceeded';

/** Starts the front before `options.target`. */
export async function startDynamoFront(options: DynamoFrontOptions): Promise<DynamoFront> {
  const server = await bindLoopback(options.port);
  const port = boundPort(server);
  const target = new URL(options.target);
  const meter = new PartitionMeter(options.limit, options.now ?? Date.now);
  const client = new DynamoDBClient({ region: options.region, endpoint: options.target, credentials: options.credentials, maxAttempts: 3 });
  const schema = new KeySchemas(client);
  const context: FrontContext = { target, meter, schema, tableArn: (table) => `arn:aws:dynamodb:${options.region}:${options.accountId}:table/${table}` };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(context, request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': JSON_CONTENT_TYPE });
      response.end(JSON.stringify({ __type: `${ERROR_PREFIX}InternalServerError`, message: error instanceof Error ? error.message : String(error) }));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    target: options.target,
    limit: options.limit,
    report: () => meter.report(),
    reset: () => meter.reset(),
    close: async () => {
      await closeServer(server);
      client.destroy();
    },
  };
}

interface FrontContext {
  readonly target: URL;
  readonly meter: PartitionMeter;
  readonly schema: KeySchemas;
  readonly tableArn: (table: string) => string;
}

/** The partition key attribute of each table, read once per table. */
class KeySchemas {
  private readonly names = new Map<string, Promise<string | undefined>>();
  constructor(private readonly client: DynamoDBClient) {}

  /** The table's partition key attribute; undefined when the table does not exist (the write fails on its own). */
  partitionKeyOf(table: string): Promise<string | undefined> {
    let name = this.names.get(table);
    if (name === undefined) {
      name = this.client.send(new DescribeTableCommand({ TableName: table })).then(
        (output) => output.Table?.KeySchema?.find((element) => element.KeyType === 'HASH')?.AttributeName,
        () => undefined,
      );
      // A table not found now may be created later: ask again next time.
      name.then((found) => { if (found === undefined) this.names.delete(table); }, () => undefined);
      this.names.set(table, name);
    }
    return name;
  }
}

async function handle(context: FrontContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const raw = await readBody(request);
  const targetHeader = String(request.headers['x-amz-target'] ?? '');
  const operation = targetHeader.startsWith(TARGET_PREFIX) ? targetHeader.slice(TARGET_PREFIX.length) : '';
  if (!METERED.has(operation)) {
    reply(response, await forward(context, request, raw));
    return;
  }
  let input: unknown;
  try {
    input = JSON.parse(raw.toString('utf8'));
  } catch {
    reply(response, await forward(context, request, raw));
    return;
  }
  const charges = await chargesOf(context, operation, input);
  const hot = context.meter.take(charges, operation === 'BatchWriteItem');
  if (hot.size === 0) {
    reply(response, await forward(context, request, raw));
    return;
  }
  if (operation === 'BatchWriteItem' && hot.size < charges.length) {
    reply(response, await partialBatch(context, request, input, charges, hot));
    return;
  }
  if (operation === 'TransactWriteItems') {
    reply(response, jsonError(400, 'TransactionCanceledException', `Transaction cancelled, please refer cancellation reasons for specific reasons [${charges.map((_, index) => (hot.has(index) ? 'ThrottlingError' : 'None')).join(', ')}]`, {
      CancellationReasons: charges.map((_, index) => (hot.has(index) ? { Code: 'ThrottlingError', Message: 'Throughput exceeds the current capacity of your table or index.' } : { Code: 'None' })),
    }));
    return;
  }
  const tables = [...new Set([...hot].map((index) => charges[index]?.table ?? ''))];
  reply(response, jsonError(400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.', {
    ThrottlingReasons: tables.map((table) => ({ reason: KEY_RANGE_WRITE_REASON, resource: context.tableArn(table) })),
  }));
}

/** The writes the front meters. */
const METERED: ReadonlySet<string> = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** The charges of a write request, one per item in request order. */
async function chargesOf(context: FrontContext, operation: string, input: unknown): Promise<PartitionCharge[]> {
  const targets = writeTargets(operation, input);
  const keyNames = await Promise.all(targets.map((target) => context.schema.partitionKeyOf(target.table)));
  return targets.map((target, index) => {
    const name = keyNames[index];
    // A put's key is read from its item: billing.ts keys a put by Hopper's `pk`/`sk` only.
    const value = name === undefined ? undefined : target.action === 'put' ? field(target.item, name) : field(target.key, name);
    return { table: target.table, partition: value === undefined ? '' : JSON.stringify(value), units: unitsOf(operation, target, updateBody(operation, input, index)) };
  });
}

/**
 * Write units of one item of a request, estimated from what the request carries: a put by its
 * item, an update by its key and the values it writes, a delete or check by its key.
 */
export function unitsOf(operation: string, target: WriteTarget, update: unknown): number {
  const values = field(update, 'ExpressionAttributeValues');
  const written = target.action === 'update' && isRecord(values) ? Object.values(values).reduce((sum: number, value) => sum + valueBytes(value), 0) : 0;
  const sent = target.action === 'put' ? itemBytes(target.item) : itemBytes(target.key) + written;
  return billedWriteUnits(operation, [target], { before: [0], after: [sent] });
}

/** The body of the `index`th item's update: the request itself, or a transaction item's `Update`. */
function updateBody(operation: string, input: unknown, index: number): unknown {
  if (operation !== 'TransactWriteItems') return input;
  const items = field(input, 'TransactItems');
  return Array.isArray(items) ? field(items[index], 'Update') : undefined;
}

/** A batch write with some hot items: the cool ones go on, the hot ones come back unprocessed. */
async function partialBatch(context: FrontContext, request: IncomingMessage, input: unknown, charges: readonly PartitionCharge[], hot: ReadonlySet<number>): Promise<Answer> {
  const requests = field(input, 'RequestItems');
  const passed: Record<string, unknown[]> = {};
  const unprocessed: Record<string, unknown[]> = {};
  let index = 0;
  for (const [table, writes] of Object.entries(isRecord(requests) ? requests : {})) {
    for (const write of Array.isArray(writes) ? writes : []) {
      const into = hot.has(index) ? unprocessed : passed;
      (into[table] ??= []).push(write);
      index += 1;
    }
  }
  const answer = await forward(context, request, Buffer.from(JSON.stringify({ ...(isRecord(input) ? input : {}), RequestItems: passed })));
  if (answer.status !== 200) return answer;
  const output: unknown = JSON.parse(answer.body.toString('utf8') || '{}');
  const already = field(output, 'UnprocessedItems');
  for (const [table, writes] of Object.entries(isRecord(already) ? already : {})) for (const write of Array.isArray(writes) ? writes : []) (unprocessed[table] ??= []).push(write);
  const body = Buffer.from(JSON.stringify({ ...(isRecord(output) ? output : {}), UnprocessedItems: unprocessed }));
  return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, body };
}

function jsonError(status: number, code: string, message: string, extra: Readonly<Record<string, unknown>> = {}): Answer {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body: Buffer.from(JSON.stringify({ __type: `${ERROR_PREFIX}${code}`, message, ...extra })) };
}

/** Passes a request to DynamoDB Local as it came, with `body` (DynamoDB Local does not check signatures). */
function forward(context: FrontContext, request: IncomingMessage, body: Buffer): Promise<Answer> {
  return exchange(Number(context.target.port), context.target.host, { method: request.method ?? 'POST', path: request.url ?? '/', headers: headersOf(request), body });
}
