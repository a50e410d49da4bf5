/** Inline SVG charts: no library, no canvas, readable by screen readers through their labels. */
import { h, num } from './dom.js';

const WIDTH = 1280;
const HEIGHT = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };

/** A "nice" axis maximum at or above `value` (at least 2, so half of it is a whole count): 1, 2 or 5 times a power of ten. */
export function niceMax(value) {
  if (value <= 2) return 2;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

function hhmm(iso) {
  const date = new Date(iso);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/**
 * A line chart of per-minute counts. `points`: `[{ at, ...counts }]`, oldest first; `series`:
 * `[{ key, label, class }]`. `label` describes the chart for assistive technology.
 */
export function lineChart(points, series, label) {
  const max = niceMax(Math.max(0, ...points.flatMap((point) => series.map((line) => point[line.key] ?? 0))));
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (index) => PAD.left + (points.length <= 1 ? innerWidth : (index / (points.length - 1)) * innerWidth);
  const y = (value) => PAD.top + innerHeight - (value / max) * innerHeight;
  const grid = [0, 0.5, 1].map((share) => {
    const value = max * share;
    return h('svg:g', { class: 'grid' },
      h('svg:line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      h('svg:text', { x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, num(value)));
  });
  const tickEvery = Math.max(1, Math.ceil(points.length / 10));
  const last = points.length - 1;
  // Every tickEvery-th minute and the last one, without a regular label that would overlap the last.
  const labelled = (index) => index === last || (index % tickEvery === 0 && last - index >= tickEvery / 2);
  const ticks = points.flatMap((point, index) => (labelled(index)
    ? [h('svg:text', { class: 'tick', x: x(index), y: HEIGHT - 6, 'text-anchor': index === 0 ? 'start' : index === last ? 'end' : 'middle' }, hhmm(point.at))]
    : []));
  const lines = series.map((line) => h('svg:polyline', {
    class: `line ${line.class}`,
    points: points.map((point, index) => `${x(index).toFixed(1)},${y(point[line.key] ?? 0).toFixed(1)}`).join(' '),
  }));
  return h('figure', { class: 'chart' },
    h('svg:svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': label }, h('svg:title', {}, label), grid, ticks, lines),
    h('figcaption', { class: 'legend' }, series.map((line) => h('span', { class: `key ${line.class}` }, line.label))));
}

/**
 * One horizontal bar of stacked parts `[{ value, class, label }]`, `total` wide when given (so bars
 * of several rows compare), else as wide as its parts.
 */
export function stackedBar(parts, total, label) {
  const sum = parts.reduce((acc, part) => acc + part.value, 0);
  const scale = Math.max(total ?? sum, 1);
  let at = 0;
  const rects = parts.filter((part) => part.value > 0).map((part) => {
    const width = (part.value / scale) * 100;
    const rect = h('svg:rect', { class: part.class, x: at, y: 0, width, height: 10 }, h('svg:title', {}, `${part.label}: ${num(part.value)}`));
    at += width;
    return rect;
  });
  return h('svg:svg', { class: 'bar', viewBox: '0 0 100 10', preserveAspectRatio: 'none', role: 'img', 'aria-label': label }, h('svg:rect', { class: 'track', x: 0, y: 0, width: 100, height: 10 }), rects);
}
