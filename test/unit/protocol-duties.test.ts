/**
 * docs/protocol.md's table of worker duties: every duty a worker in any language must take on, with
 * what the TypeScript and the Python worker do. Both columns are filled in every row: a duty one
 * worker does not take on ("—", or an empty cell) fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const PROTOCOL = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The rows of the table under "### Worker duties", as cells, header and divider left out. */
function dutyRows(): string[][] {
  const section = PROTOCOL.split('### Worker duties')[1] ?? '';
  const table = section.split('\n').filter((line) => line.startsWith('|'));
  return table.slice(2).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
}

describe('the worker duties of docs/protocol.md', () => {
  it('has a TypeScript and a Python column, and both are filled in every row', () => {
    const section = PROTOCOL.split('### Worker duties')[1] ?? '';
    const header = section.split('\n').find((line) => line.startsWith('|'))?.split('|').map((cell) => cell.trim());
    expect(header?.slice(1, 6)).toEqual(['Duty', 'What it takes', 'TypeScript', 'Python', 'Where they differ']);
    const rows = dutyRows();
    expect(rows.length).toBeGreaterThanOrEqual(20);
    const unfilled = rows.filter(([, , ts, py]) => [ts, py].some((cell) => cell === undefined || cell === '' || cell === '—' || cell === '-' || /^no\b/i.test(cell)));
    expect(unfilled.map(([duty]) => duty)).toEqual([]);
  });
});
