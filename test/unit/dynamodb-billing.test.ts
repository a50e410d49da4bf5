/**
 * What AWS bills for DynamoDB requests (issue 23), checked against cases computed by hand from the
 * developer guide's rules (local/dynamodb/billing.ts states them).
 */
import { describe, expect, it } from 'vitest';
import { billedReadUnits, billedWriteUnits, itemBytes, numberBytes, readUnitsFor, writeTargets, writeUnitsFor } from '../../local/dynamodb/billing.js';

describe('item sizes', () => {
  it.each([
    ['a string: name and UTF-8 bytes', { pk: { S: 'abc' } }, 2 + 3],
    ['a multi-byte string', { name: { S: 'Größe' } }, 4 + 7],
    ['a number: a byte per two significant digits, plus one', { n: { N: '123.450' } }, 1 + 4],
    ['a number with leading and trailing zeroes trimmed', { n: { N: '0.001' } }, 1 + 2],
    ['a boolean and a null', { ok: { BOOL: true }, none: { NULL: true } }, 2 + 1 + 4 + 1],
    ['a binary by its raw bytes', { b: { B: new Uint8Array(10) } }, 1 + 10],
    ['a list: 3 bytes, and a byte per element', { l: { L: [{ S: 'a' }, { N: '1' }] } }, 1 + 3 + (1 + 1) + (2 + 1)],
    ['a map: 3 bytes, each element its name, value and a byte', { m: { M: { a: { S: 'xy' } } } }, 1 + 3 + (1 + 2 + 1)],
    ['a string set: its members', { tags: { SS: ['ab', 'c'] } }, 4 + 3],
  ])('%s', (_what, item, bytes) => {
    expect(itemBytes(item)).toBe(bytes);
  });

  it('sizes numbers as DynamoDB does', () => {
    expect(numberBytes('7')).toBe(2);
    expect(numberBytes('-1234567')).toBe(5);
    expect(numberBytes('1700000000')).toBe(2);
  });
});

describe('units', () => {
  it.each([
    [0, 1], [1, 1], [1024, 1], [1025, 2], [1536, 2], [400 * 1024, 400],
  ])('a write of %d bytes is %d unit(s)', (bytes, units) => {
    expect(writeUnitsFor(bytes)).toBe(units);
  });

  it.each([
    [100, true, 1], [4096, true, 1], [4097, true, 2], [100, false, 0.5], [9000, false, 1.5],
  ])('a read of %d bytes (consistent %s) is %d unit(s)', (bytes, consistent, units) => {
    expect(readUnitsFor(bytes, consistent)).toBe(units);
  });
});

/** `count` puts of items of `bytes` each, in one transaction. */
function transactionOf(count: number, bytes: number): { targets: ReturnType<typeof writeTargets>; after: number[] } {
  const input = { TransactItems: Array.from({ length: count }, (_, index) => ({ Put: { TableName: 't', Item: { pk: { S: `p${index}` }, sk: { S: 's' }, body: { S: 'x'.repeat(bytes) } } } })) };
  const targets = writeTargets('TransactWriteItems', input);
  return { targets, after: targets.map(() => bytes) };
}

describe('billed writes', () => {
  it.each([
    // DynamoDB Local reports 4 units for each of these transactions.
    [1, 1536, 4],
    [5, 1536, 20],
    [20, 1536, 80],
    [3, 200, 6],
  ])('a transaction of %d items of %d bytes is %d units', (count, bytes, units) => {
    const { targets, after } = transactionOf(count, bytes);
    expect(billedWriteUnits('TransactWriteItems', targets, { before: targets.map(() => 0), after })).toBe(units);
  });

  it('bills an update by the larger of the item before and after, a delete by the item deleted', () => {
    const update = writeTargets('UpdateItem', { TableName: 't', Key: { pk: { S: 'a' } } });
    expect(billedWriteUnits('UpdateItem', update, { before: [2_100], after: [900] })).toBe(3);
    const remove = writeTargets('DeleteItem', { TableName: 't', Key: { pk: { S: 'a' } } });
    expect(billedWriteUnits('DeleteItem', remove, { before: [1_500], after: [0] })).toBe(2);
  });

  it('bills a failed conditional write for the item as it was, at least one unit', () => {
    const put = writeTargets('PutItem', { TableName: 't', Item: { pk: { S: 'a' }, sk: { S: 'b' }, big: { S: 'x'.repeat(5_000) } } });
    expect(billedWriteUnits('PutItem', put, { before: [0], after: undefined })).toBe(1);
    expect(billedWriteUnits('PutItem', put, { before: [3_000], after: undefined })).toBe(3);
  });

  it('bills each item of a BatchWriteItem on its own', () => {
    const targets = writeTargets('BatchWriteItem', { RequestItems: { t: [{ PutRequest: { Item: { pk: { S: 'a' }, sk: { S: 'b' } } } }, { DeleteRequest: { Key: { pk: { S: 'c' }, sk: { S: 'd' } } } }] } });
    expect(targets.map((target) => target.action)).toEqual(['put', 'delete']);
    expect(billedWriteUnits('BatchWriteItem', targets, { before: [0, 1_200], after: [1_100, 0] })).toBe(4);
  });
});

describe('billed reads', () => {
  const item = { pk: { S: 'x' }, body: { S: 'y'.repeat(3_000) } };

  it('rounds a Query\'s items once, and a BatchGetItem\'s each', () => {
    // 3 items of 3,007 bytes: 9,021 bytes → 3 units consistent.
    expect(billedReadUnits('Query', { ConsistentRead: true }, { Items: [item, item, item] })).toBe(3);
    expect(billedReadUnits('BatchGetItem', { RequestItems: { t: { Keys: [], ConsistentRead: true } } }, { Responses: { t: [item, item, item] } })).toBe(3);
    expect(billedReadUnits('Query', {}, { Items: [] })).toBe(0.5);
  });

  it('bills a transactional read 2 units per 4 KB of each item, and a missing item as one read', () => {
    expect(billedReadUnits('TransactGetItems', {}, { Responses: [{ Item: item }, {}] })).toBe(4);
    expect(billedReadUnits('GetItem', { ConsistentRead: true }, {})).toBe(1);
  });
});
