/**
 * Counts what a DynamoDB client sends, for cost figures: requests and items by command, write
 * units as DynamoDB Local reports them (a middleware asks every request for
 * `ReturnConsumedCapacity: 'TOTAL'`), and the units AWS bills for the same requests, counted by the
 * bench's meter from the items' sizes before and after each write (local/dynamodb/billing.ts).
 *
 * DynamoDB Local reports the same units for a transaction whatever its items, where AWS charges
 * two per KB of each; and nothing for writes whose condition failed, which AWS charges too.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { itemSize } from '../../../bench/lib/item-sizer.js';
import type { AwsClientMiddleware } from '../../../lib/aws/clients.js';
import { createMeter, type Meter } from '../../../bench/lib/meter.js';
import { LOCAL_IDENTITY } from '../../../local/emulators.js';
import type { Harness } from './harness.js';

/** Counts of one command. */
export interface CommandUsage {
  requests: number;
  items: number;
  failed: number;
  reportedUnits: number;
}

/** A DynamoDB client for the harness that counts what it sends. */
export class CountingDynamo {
  readonly client: DynamoDBClient;
  readonly usage = new Map<string, CommandUsage>();
  private readonly sizing: DynamoDBClient;
  private meter: Meter;

  constructor(harness: Harness) {
    const config = {
      endpoint: harness.emulators.endpoints.dynamodb,
      region: LOCAL_IDENTITY.region,
      credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    };
    this.client = new DynamoDBClient(config);
    this.sizing = new DynamoDBClient(config);
    this.meter = this.newMeter();
    // The meter of the moment (reset makes a new one), in the loose shape lib/aws/clients.ts adds it.
    const stack = this.client.middlewareStack as unknown as { add(middleware: AwsClientMiddleware['middleware'], options: { name: string; step: AwsClientMiddleware['step'] }): void };
    stack.add((next, context) => (args) => this.meter.middleware.middleware(next, context)(args), { step: 'initialize', name: 'hopperBillCapacity' });
    this.client.middlewareStack.add((next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      Object.assign(args.input, { ReturnConsumedCapacity: 'TOTAL' });
      const usage = this.usage.get(command) ?? { requests: 0, items: 0, failed: 0, reportedUnits: 0 };
      this.usage.set(command, usage);
      usage.requests += 1;
      usage.items += itemsOf(args.input);
      try {
        const result = await next(args);
        usage.reportedUnits += reportedUnits(result.output);
        return result;
      } catch (error) {
        usage.failed += 1;
        throw error;
      }
    }, { step: 'initialize', name: 'hopperCountCapacity' });
  }

  /** Forgets what was counted so far. */
  reset(): void {
    this.usage.clear();
    this.meter = this.newMeter();
  }

  /** Write units AWS would bill for the writes counted. */
  billedWriteUnits(): number {
    return Object.values(this.meter.counts.dynamodb).reduce((sum, count) => sum + count.writeUnits, 0);
  }

  /** Write units DynamoDB Local reported. */
  reportedWriteUnits(): number {
    let units = 0;
    for (const [command, usage] of this.usage) if (command === 'TransactWriteItemsCommand' || WRITES.has(command)) units += usage.reportedUnits;
    return units;
  }

  /** Read units AWS would bill for the reads counted. */
  billedReadUnits(): number {
    return Object.values(this.meter.counts.dynamodb).reduce((sum, count) => sum + count.readUnits, 0);
  }

  /** The counts, as a plain object for logs and reports. */
  summary(): Record<string, CommandUsage> {
    return Object.fromEntries([...this.usage].map(([command, usage]) => [command, { ...usage }]));
  }

  destroy(): void {
    this.client.destroy();
    this.sizing.destroy();
  }

  private newMeter(): Meter {
    return createMeter('hopper-test-capacity', { itemSizes: (table, key) => itemSize(this.sizing, table, key) });
  }
}

const WRITES: ReadonlySet<string> = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

function itemsOf(input: object): number {
  if ('TransactItems' in input && Array.isArray(input.TransactItems)) return input.TransactItems.length;
  return 1;
}

function reportedUnits(output: unknown): number {
  if (typeof output !== 'object' || output === null || !('ConsumedCapacity' in output)) return 0;
  const consumed: unknown = output.ConsumedCapacity;
  const entries: unknown[] = Array.isArray(consumed) ? consumed : [consumed];
  return entries.reduce<number>((sum, entry) => {
    const units = typeof entry === 'object' && entry !== null && 'CapacityUnits' in entry && typeof entry.CapacityUnits === 'number' ? entry.CapacityUnits : 0;
    return sum + units;
  }, 0);
}
