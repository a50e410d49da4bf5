/** Building the page: elements, tables, times, numbers, and the error and notice banners. */

/**
 * Creates an element. `attrs`: `class`, `text`, `onclick`-style handlers (functions), booleans
 * (set when true), anything else as an attribute. Children: nodes, strings, or null (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const element = tag.startsWith('svg:') ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') element.textContent = String(value);
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces the children of `element`. */
export function replace(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

/**
 * A table: `columns` are `{ header, cell(row) → node|string, class? }`. Rows get `data-key` from
 * `key(row)` when given. An empty list shows `empty` in one cell.
 */
export function table(columns, rows, { caption, empty = 'Nothing here.', key } = {}) {
  const head = h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col', class: column.class }, column.header))));
  const body = h('tbody', {}, rows.length === 0
    ? h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))
    : rows.map((row) => h('tr', { 'data-key': key?.(row) }, columns.map((column) => h('td', { class: column.class }, column.cell(row))))));
  return h('div', { class: 'table-wrap' }, h('table', {}, caption === undefined ? null : h('caption', {}, caption), head, body));
}

/** `ms` as a short duration: `850 ms`, `4.2 s`, `3 min`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${Math.floor(abs / 60_000)} min`;
  const pair = (big, bigUnit, small, smallUnit) => {
    const whole = Math.floor(abs / big);
    const rest = Math.floor((abs % big) / small);
    return rest > 0 ? `${whole} ${bigUnit} ${rest} ${smallUnit}` : `${whole} ${bigUnit}`;
  };
  return abs < 86_400_000 ? pair(3_600_000, 'h', 60_000, 'min') : pair(86_400_000, 'd', 3_600_000, 'h');
}

/** A `<time>` showing how long ago or until `iso`, the exact time in its tooltip. */
export function time(iso) {
  if (iso === null || iso === undefined) return h('span', { class: 'muted' }, '–');
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso);
  const delta = ms - Date.now();
  const text = Math.abs(delta) < 1000 ? 'now' : delta < 0 ? `${duration(-delta)} ago` : `in ${duration(delta)}`;
  return h('time', { datetime: iso, title: new Date(ms).toLocaleString() }, text);
}

/** A number with thousands separators; `–` for null. */
export function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en-US') : '–';
}

/** A long text clipped to `max` characters, whole in its tooltip. */
export function clip(text, max = 60) {
  const value = String(text ?? '');
  return value.length <= max ? value : h('span', { title: value }, `${value.slice(0, max - 1)}…`);
}

/** A labelled text input. */
export function field(label, attrs) {
  const id = `f-${attrs.name}`;
  return h('span', { class: 'field' }, h('label', { for: id }, label), h('input', { id, type: 'text', autocomplete: 'off', ...attrs }));
}

/** A progress bar with an accessible label. */
export function meter(value, max, label) {
  return h('progress', { value: Math.max(0, value), max: Math.max(1, max), 'aria-label': label, title: `${num(value)} of ${num(max)}` });
}

/** Shows `error` in the alert banner (an ApiError shows its code and message). */
export function showError(error, context) {
  const banner = document.getElementById('banner');
  const code = error?.code ? `${error.code}${error.status ? ` (${error.status})` : ''}: ` : '';
  replace(banner, h('div', { class: 'banner error' },
    h('p', {}, h('strong', {}, context ? `${context} failed. ` : 'Error. '), `${code}${error?.message ?? String(error)}`),
    h('button', { type: 'button', class: 'link', onclick: clearError }, 'Dismiss')));
}

/** Removes the alert banner. */
export function clearError() {
  replace(document.getElementById('banner'));
}

/** Shows a short notice of what an action did. */
export function notify(message) {
  replace(document.getElementById('notice'), h('p', { class: 'banner ok' }, message));
}
