/** The API's clock: the real clock, shifted by `HOPPER_CLOCK_OFFSET_MS` when a local run sets it. */
import type { Env } from '../config/env.js';

/** Epoch ms now, plus the offset in `env` (an integer, negative allowed; anything else is ignored). */
export function clockOrNow(env: Env): () => number {
  const offset = Number(env.HOPPER_CLOCK_OFFSET_MS ?? '0');
  return Number.isSafeInteger(offset) && offset !== 0 ? () => Date.now() + offset : Date.now;
}
