/**
 * Plain-text tables for lists: left-aligned columns, a header row, no colours (pipes stay clean).
 * Widths are what a terminal shows: a CJK or fullwidth character takes two columns, a combining
 * mark none, so a jobtype such as `請求書::送信` lines up with the rest.
 */

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
  const widths = columns.map((column, index) => Math.max(displayWidth(column.header), ...cells.map((line) => displayWidth(line[index] ?? ''))));
  const pad = (value: string, width: number) => `${value}${' '.repeat(Math.max(0, width - displayWidth(value)))}`;
  const line = (values: readonly string[]) => values.map((value, index) => (index === values.length - 1 ? value : pad(value, widths[index] ?? 0))).join('  ').trimEnd();
  return `${[line(columns.map((column) => column.header)), ...cells.map(line)].join('\n')}\n`;
}

/** Cuts `value` to at most `max` columns, ending in `…` when cut. */
function clip(value: string, max: number | undefined): string {
  const flat = value.replace(/\s+/g, ' ');
  if (max === undefined || displayWidth(flat) <= max) return flat;
  let kept = '';
  for (const character of flat) {
    if (displayWidth(kept + character) > max - 1) break;
    kept += character;
  }
  return `${kept}…`;
}

/** Combining marks and zero-width characters: no column of their own. */
const ZERO_WIDTH = /[\p{Mn}\p{Me}\u200B-\u200F\u2060\uFE00-\uFE0F]/u;

/**
 * East Asian wide and fullwidth characters (Unicode's EastAsianWidth W and F: CJK ideographs, kana,
 * Hangul, fullwidth forms) and emoji presentation: two columns each.
 */
const WIDE = /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uA960-\uA97F\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]/u;

/** The columns `text` takes in a terminal. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const character of text) width += ZERO_WIDTH.test(character) ? 0 : WIDE.test(character) ? 2 : 1;
  return width;
}
