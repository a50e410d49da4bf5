/**
 * Seeded randomness. Hopper's policies take `random` as a parameter so that tests get exact values
 * and so that the retry function can derive the jitter of a failure from the failure itself (the
 * same failure delivered twice gets the same delay and therefore the same storage key).
 */
import { fnv1a } from '../storage/keys.js';

/** A source of numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/**
 * Mulberry32: a small, fast 32-bit PRNG. Good enough for jitter; not for anything secret.
 *
 * @example
 * const random = mulberry32(42);
 * random(); // 0.6011037519201636, on every machine
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A PRNG seeded from a string (FNV-1a of the text), for deterministic per-job jitter. */
export function randomFromText(text: string): Random {
  return mulberry32(fnv1a(text));
}
