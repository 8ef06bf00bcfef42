/**
 * Retry delays: exponential backoff with jitter.
 *
 * The delay after attempt `n` (1-based) is `min(max, base · 2^(n-1))`, of which the upper
 * half is random: the result lies in `[d/2, d)`.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./retry.ts";
 * backoffDelay(3, { baseMs: 1000, maxMs: 60_000, random: () => 0.5 }); // 3000
 * ```
 * @module
 */

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** A number in [0, 1); default `Math.random`. */
  random?: () => number;
}

/** Milliseconds to wait before running again after the `attempt`-th run failed. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 52);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  const random = (options.random ?? Math.random)();
  return Math.round(ceiling / 2 + random * (ceiling / 2));
}
