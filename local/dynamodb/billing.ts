/**
 * What AWS bills for a DynamoDB request in on-demand mode, computed from the items it reads and
 * writes — never from the capacity DynamoDB Local reports, which is wrong for transactions (the
 * same units whatever their items) and missing for writes whose condition failed.
 *
 * The rules (DynamoDB developer guide, "item sizes and formats" and "read/write capacity"):
 * - An item's size is the UTF-8 bytes of each attribute name plus its value: a string's UTF-8 bytes,
 *   a binary's raw bytes, a number 1 byte per two significant digits plus 1, a boolean or null 1, a
 *   list or map 3 bytes plus its elements, each element 1 byte more; a set, its members.
 * - A write is 1 unit per KB (1,024 bytes, rounded up, at least 1) of the larger of the item before
 *   and after it; a delete, of the item deleted. A write whose condition fails is billed as well, for
 *   the item as it is.
 * - A transactional write is 2 units per KB of each of its items, each rounded up on its own; every
 *   action counts, condition checks included, and a cancelled transaction is billed as attempted.
 * - A read is 1 unit per 4 KB (4,096 bytes, rounded up, at least 1) of the items it read, half for
 *   an eventually consistent read; a Query or Scan rounds the total of its items once; a
 *   transactional read is 2 units per 4 KB of each item.
 */
import { field } from '../../lib/common/field.js';

/** Bytes per write unit and per read unit. */
export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** The primary key attributes of Hopper's tables (state and limits: `pk` and `sk`). */
export const KEY_ATTRIBUTES = ['pk', 'sk'] as const;

type Attributes = Readonly<Record<string, unknown>>;

function utf8(value: unknown): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0;
}

function binary(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  // Over the wire (and in some fakes) a binary is base64.
  return typeof value === 'string' ? Buffer.from(value, 'base64').byteLength : 0;
}

/** A number's size: 1 byte per two significant digits, plus 1. */
export function numberBytes(text: string): number {
  const digits = text.replace(/^[-+]/, '').replace(/[eE][-+]?\d+$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** The size of one attribute value (without its name). */
export function valueBytes(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const [type, content] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S': return utf8(content);
    case 'N': return numberBytes(String(content));
    case 'B': return binary(content);
    case 'BOOL':
    case 'NULL': return 1;
    case 'SS': return Array.isArray(content) ? content.reduce((sum: number, member) => sum + utf8(member), 0) : 0;
    case 'NS': return Array.isArray(content) ? content.reduce((sum: number, member) => sum + numberBytes(String(member)), 0) : 0;
    case 'BS': return Array.isArray(content) ? content.reduce((sum: number, member) => sum + binary(member), 0) : 0;
    case 'L': return 3 + (Array.isArray(content) ? content.reduce((sum: number, element) => sum + valueBytes(element) + 1, 0) : 0);
    case 'M': return 3 + (typeof content === 'object' && content !== null ? Object.entries(content).reduce((sum, [name, element]) => sum + utf8(name) + valueBytes(element) + 1, 0) : 0);
    default: return 0;
  }
}

/** The size of an item: each attribute's name and value. */
export function itemBytes(item: Attributes | undefined): number {
  if (item === undefined) return 0;
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueBytes(value), 0);
}

/** Write units for an item of `bytes` (at least 1). */
export function writeUnitsFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}

/** Read units for `bytes` read (at least 1 unit, halved when eventually consistent). */
export function readUnitsFor(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistent ? units : units / 2;
}

/** One item a write request touches. */
export interface WriteTarget {
  readonly table: string;
  readonly key: Attributes;
  /** `put` writes `item` whole; `update` changes it; `delete` removes it; `check` only reads it. */
  readonly action: 'put' | 'update' | 'delete' | 'check';
  /** The item a put writes. */
  readonly item?: Attributes;
}

function keyOf(item: unknown): Attributes {
  const key: Record<string, unknown> = {};
  for (const name of KEY_ATTRIBUTES) {
    const value = field(item, name);
    if (value !== undefined) key[name] = value;
  }
  return key;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The items a write request touches, in request order (empty for anything that is not a write). */
export function writeTargets(operation: string, input: unknown): WriteTarget[] {
  const table = String(field(input, 'TableName') ?? '');
  switch (operation) {
    case 'PutItem': {
      const item = field(input, 'Item') as Attributes | undefined;
      return [{ table, key: keyOf(item), action: 'put', ...(item === undefined ? {} : { item }) }];
    }
    case 'UpdateItem': return [{ table, key: (field(input, 'Key') ?? {}) as Attributes, action: 'update' }];
    case 'DeleteItem': return [{ table, key: (field(input, 'Key') ?? {}) as Attributes, action: 'delete' }];
    case 'BatchWriteItem': {
      const requests = field(input, 'RequestItems');
      if (typeof requests !== 'object' || requests === null) return [];
      return Object.entries(requests).flatMap(([tableName, writes]) => list(writes).map((write): WriteTarget => {
        const item = field(field(write, 'PutRequest'), 'Item') as Attributes | undefined;
        return item === undefined
          ? { table: tableName, key: (field(field(write, 'DeleteRequest'), 'Key') ?? {}) as Attributes, action: 'delete' }
          : { table: tableName, key: keyOf(item), action: 'put', item };
      }));
    }
    case 'TransactWriteItems':
      return list(field(input, 'TransactItems')).map((action): WriteTarget => {
        const put = field(action, 'Put');
        if (put !== undefined) {
          const item = field(put, 'Item') as Attributes | undefined;
          return { table: String(field(put, 'TableName') ?? ''), key: keyOf(item), action: 'put', ...(item === undefined ? {} : { item }) };
        }
        const [kind, body] = (['Update', 'Delete', 'ConditionCheck'] as const).map((name) => [name, field(action, name)] as const).find(([, value]) => value !== undefined) ?? ['ConditionCheck', undefined];
        return { table: String(field(body, 'TableName') ?? ''), key: (field(body, 'Key') ?? {}) as Attributes, action: kind === 'Update' ? 'update' : kind === 'Delete' ? 'delete' : 'check' };
      });
    default: return [];
  }
}

/** Sizes of a write's items before and after it (0 for an item that is absent). */
export interface WriteSizes {
  readonly before: readonly number[];
  /** Undefined when the request failed: nothing was written. */
  readonly after: readonly number[] | undefined;
}

/** Write units AWS bills for `operation` on `targets`, given the items' sizes around it. */
export function billedWriteUnits(operation: string, targets: readonly WriteTarget[], sizes: WriteSizes): number {
  const transactional = operation === 'TransactWriteItems';
  return targets.reduce((sum, target, index) => {
    const before = sizes.before[index] ?? 0;
    const after = sizes.after === undefined ? before : sizes.after[index] ?? 0;
    const bytes = target.action === 'delete' || target.action === 'check' ? before : Math.max(before, after);
    return sum + writeUnitsFor(bytes) * (transactional ? 2 : 1);
  }, 0);
}

/**
 * Sizes estimated from the request alone, for a meter that cannot read the items: a put's item as
 * it is sent, anything else as under 1 KB.
 */
export function sizesFromRequest(targets: readonly WriteTarget[], succeeded: boolean): WriteSizes {
  return {
    before: targets.map(() => 0),
    after: succeeded ? targets.map((target) => (target.action === 'put' ? itemBytes(target.item) : 0)) : undefined,
  };
}

/** Read units AWS bills for a read request and its answer (0 for anything that is not a read). */
export function billedReadUnits(operation: string, input: unknown, output: unknown): number {
  const consistent = field(input, 'ConsistentRead') === true;
  switch (operation) {
    case 'GetItem': return readUnitsFor(itemBytes(field(output, 'Item') as Attributes | undefined), consistent);
    case 'Query':
    case 'Scan': return readUnitsFor(list(field(output, 'Items')).reduce((sum: number, item) => sum + itemBytes(item as Attributes), 0), consistent);
    case 'BatchGetItem': {
      const responses = field(output, 'Responses');
      const items = typeof responses === 'object' && responses !== null ? Object.values(responses).flatMap(list) : [];
      const requested = field(input, 'RequestItems');
      const anyConsistent = typeof requested === 'object' && requested !== null && Object.values(requested).some((request) => field(request, 'ConsistentRead') === true);
      return items.reduce((sum: number, item) => sum + readUnitsFor(itemBytes(item as Attributes), anyConsistent), 0);
    }
    case 'TransactGetItems':
      return list(field(output, 'Responses')).reduce((sum: number, response) => sum + 2 * readUnitsFor(itemBytes(field(response, 'Item') as Attributes | undefined), true), 0);
    default: return 0;
  }
}
