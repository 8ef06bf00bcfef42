/**
 * Injectable time, so tests control it: the current time ({@linkcode Clock}) and, for code
 * that waits, timers on the same clock ({@linkcode TimerClock}).
 *
 * @example
 * ```ts
 * import { ManualClock, systemClock } from "./clock.ts";
 * const started = systemClock.now();
 * const clock = new ManualClock();
 * let fired = false;
 * clock.setTimer(1000, () => fired = true);
 * clock.advance(1000); // fired === true
 * ```
 * @module
 */

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** A clock that can also call back later. */
export interface TimerClock extends Clock {
  /** Calls `fn` once `ms` have passed on this clock; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The real clock. */
export const systemClock: TimerClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
};

/**
 * `clock` itself when it has timers, else `clock`'s time with the real timers (for callers
 * that pass a plain {@linkcode Clock}).
 */
export function withTimers(clock: Clock): TimerClock {
  if ("setTimer" in clock && typeof clock.setTimer === "function") return clock as TimerClock;
  return { now: () => clock.now(), setTimer: systemClock.setTimer };
}

/** Resolves after `ms` on `clock`, or at once when `signal` is (or becomes) aborted. */
export function sleep(clock: TimerClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const cancel = clock.setTimer(ms, done);
    signal?.addEventListener("abort", done, { once: true });
  });
}

interface _Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock tests move by hand; its timers fire, in time order, as it is moved past them. */
export class ManualClock implements TimerClock {
  #timers: _Timer[] = [];
  #seq = 0;
  constructor(private ms = 1_700_000_000_000) {}
  /** Current time. */
  now(): number {
    return this.ms;
  }
  /** Schedules `fn` at `now() + ms`; it fires during the `advance`/`set` that reaches it. */
  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.ms + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
  /** Moves time forward by `ms`, firing the timers it passes. */
  advance(ms: number): void {
    this.set(this.ms + ms);
  }
  /**
   * Moves time forward by `ms` without firing timers, as a held-up event loop does: the next
   * `advance` fires the overdue ones late.
   */
  hold(ms: number): void {
    this.ms += ms;
  }
  /** Sets the time, firing the timers due by then. */
  set(ms: number): void {
    while (true) {
      const due = this.#timers.filter((t) => t.at <= ms)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fn();
    }
    this.ms = ms;
  }
}
