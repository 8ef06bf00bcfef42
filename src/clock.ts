/**
 * Injectable time, so tests control it.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const started = systemClock.now();
 * ```
 * @module
 */

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private ms = 1_700_000_000_000) {}
  /** Current time. */
  now(): number {
    return this.ms;
  }
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.ms += ms;
  }
  /** Sets the time. */
  set(ms: number): void {
    this.ms = ms;
  }
}
