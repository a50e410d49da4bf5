/**
 * Counts what a DynamoDB client sends, for cost figures: requests and items by command, write and
 * read units as DynamoDB reports them (a middleware asks every request for
 * `ReturnConsumedCapacity: 'TOTAL'`), and the write units AWS bills for the same requests.
 *
 * DynamoDB Local reports one unit per item written, also inside transactions, where AWS charges
 * two (transactional writes cost double); and it reports nothing for writes whose condition
 * failed, which AWS charges like successful ones. So the billed figure is computed from the
 * requests: 1 unit per item of a standard write, 2 per item of a transaction, whether it succeeded
 * or not (every Hopper item is under 1 KB), and a consistent read is 1 read unit.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
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

  constructor(harness: Harness) {
    this.client = new DynamoDBClient({
      endpoint: harness.emulators.endpoints.dynamodb,
      region: LOCAL_IDENTITY.region,
      credentials: { accessKeyId: LOCAL_IDENTITY.accessKeyId, secretAccessKey: LOCAL_IDENTITY.secretAccessKey },
    });
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
  }

  /** Write units AWS would bill for the writes counted. */
  billedWriteUnits(): number {
    let units = 0;
    for (const [command, usage] of this.usage) {
      if (command === 'TransactWriteItemsCommand') units += 2 * usage.items;
      else if (WRITES.has(command)) units += usage.items;
    }
    return units;
  }

  /** Write units DynamoDB Local reported. */
  reportedWriteUnits(): number {
    let units = 0;
    for (const [command, usage] of this.usage) if (command === 'TransactWriteItemsCommand' || WRITES.has(command)) units += usage.reportedUnits;
    return units;
  }

  /** Read units AWS would bill (strongly consistent reads of items under 4 KB). */
  billedReadUnits(): number {
    return this.usage.get('GetItemCommand')?.items ?? 0;
  }

  /** The counts, as a plain object for logs and reports. */
  summary(): Record<string, CommandUsage> {
    return Object.fromEntries([...this.usage].map(([command, usage]) => [command, { ...usage }]));
  }

  destroy(): void {
    this.client.destroy();
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
