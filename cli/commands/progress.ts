/**
 * A progress bar on stderr for bulk operations. On a terminal it redraws one line; elsewhere (a
 * pipe, a CI log) it prints the final line once, when the operation ends, so a log gets one line
 * per operation rather than one per page.
 */
import type { CliIO } from './io.js';

const WIDTH = 30;

/** One progress line: `label [#####-----] done/total note`. */
export function progressLine(label: string, done: number, total: number, note: string): string {
  const ratio = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * WIDTH);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${Math.max(total, done)}${note === '' ? '' : ` ${note}`}`;
}

/** A bar that is updated and finished. */
export interface Progress {
  update(done: number, total: number, note: string): void;
  finish(): void;
}

/** A progress bar for `label` on `io`'s stderr. */
export function progressBar(io: CliIO, label: string): Progress {
  let last = '';
  return {
    update(done, total, note) {
      last = progressLine(label, done, total, note);
      if (io.stderrIsTTY) io.stderr(`\r${last}\u001b[K`);
    },
    finish() {
      if (last !== '') io.stderr(io.stderrIsTTY ? '\n' : `${last}\n`);
      last = '';
    },
  };
}
