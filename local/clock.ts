/**
 * The runtime's clock. Tests and demos shift "now" by an offset (`clockOffsetMs`) to make
 * schedules fire without waiting: the scheduler evaluates expressions at `Date.now() + offset`,
 * and every function instance sees the offset in HOPPER_CLOCK_OFFSET_MS (updated in running
 * instances when it changes), which Hopper's library adds to its idea of now.
 */

/** Environment variable through which functions learn the clock offset (milliseconds, may be negative). */
export const CLOCK_OFFSET_ENV = 'HOPPER_CLOCK_OFFSET_MS';

/** A clock shifted by an adjustable offset. */
export class Clock {
  private offset: number;
  private readonly listeners = new Set<(offsetMs: number) => void>();

  constructor(offsetMs = 0) {
    this.offset = offsetMs;
  }

  /** The shifted time, in epoch milliseconds. */
  now(): number {
    return Date.now() + this.offset;
  }

  /** The current offset. */
  get offsetMs(): number {
    return this.offset;
  }

  /** Changes the offset and tells every listener. */
  setOffset(offsetMs: number): void {
    if (!Number.isFinite(offsetMs)) throw new RangeError(`the clock offset must be a finite number of milliseconds, but ${offsetMs} was provided`);
    this.offset = Math.trunc(offsetMs);
    for (const listener of this.listeners) listener(this.offset);
  }

  /** Calls `listener` after every change; returns a function that stops that. */
  onChange(listener: (offsetMs: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
