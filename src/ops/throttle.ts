/**
 * Throttling a repeated action (a log line about a recurring failure) to once per interval.
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/**
 * Calls `write` at most once per `intervalMs`, with how many calls were swallowed since the
 * last line.
 */
export function rateLimited<A extends unknown[]>(
  clock: Clock,
  intervalMs: number,
  write: (suppressed: number, ...args: A) => void,
): (...args: A) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (...args: A) => {
    const now = clock.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    write(suppressed, ...args);
    suppressed = 0;
  };
}
