/** Plain-text tables for lists: left-aligned columns, a header row, no colours (pipes stay clean). */

/** A column: header and how to read a row's cell. */
export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => string;
  /** Cut longer cells to this many characters. @default - no limit */
  readonly max?: number;
}

/** Renders `rows` as a table, one line per row, with a trailing newline; a note when empty. */
export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[], empty = '(none)'): string {
  if (rows.length === 0) return `${empty}\n`;
  const cells = rows.map((row) => columns.map((column) => clip(column.value(row), column.max)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((line) => (line[index] ?? '').length)));
  const line = (values: readonly string[]) => values.map((value, index) => (index === values.length - 1 ? value : value.padEnd(widths[index] ?? 0))).join('  ').trimEnd();
  return `${[line(columns.map((column) => column.header)), ...cells.map(line)].join('\n')}\n`;
}

function clip(value: string, max: number | undefined): string {
  const flat = value.replace(/\s+/g, ' ');
  return max === undefined || flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}
