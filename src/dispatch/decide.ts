/**
 * What happens to an event after a look at it: the pure step between a handler run and the
 * inbox. No clock, no timers, no I/O — the time and the jitter source come in as arguments.
 *
 * @example
 * ```ts
 * import { decide } from "./decide.ts";
 * const policy = { maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, random: () => 0 };
 * decide({ kind: "ran", attempt: 1, result: { ok: false, error: "boom" } }, policy, 0);
 * // { action: "fail", error: "boom", retryAt: 500, delayMs: 500 }
 * ```
 * @module
 */
import type { HandlerReply } from "./handler_reply.ts";
import { backoffDelay } from "./retry.ts";

/** How a handler run ended (what a runner reports). */
export interface RunResult {
  ok: boolean;
  error?: string;
  /** The timeout fired. */
  timedOut?: boolean;
  /** Stopped by the caller's `signal` (shutdown): the run did not finish and did not fail. */
  cancelled?: boolean;
  /** The process running the handler died under it (exit, signal, out of memory). */
  crashed?: boolean;
  /** The `Response` a successful handler returned (serialized), for a `mode: sync` reply. */
  reply?: HandlerReply;
}

/** What was found when an event came up: no handler, a handler that did not load, or a run. */
export type RunReport =
  | { kind: "unhandled" }
  | { kind: "load_error"; error: string }
  | { kind: "ran"; attempt: number; result: RunResult };

/** The retry policy (from `handlers:` in the config). */
export interface RetryPolicy {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long an event whose handler fails to load waits. */
  loadRetryMs?: number;
  /** Jitter source in [0, 1); default `Math.random`. */
  random?: () => number;
}

/** The next state of an event, as an inbox call to make. */
export type Decision =
  | { action: "complete" }
  | { action: "unhandled" }
  /** Back to pending without using up the attempt (shutdown, or a load error until `notBefore`). */
  | { action: "release"; reason: "stopped" | "load_error"; notBefore?: number; error?: string }
  | { action: "fail"; error: string; retryAt: number; delayMs: number }
  | { action: "bury"; error: string };

/**
 * Decides the next state: done after a success; released after a cancelled run (the attempt
 * does not count) or a load error (looked at again `loadRetryMs` later); failed with backoff
 * while attempts remain; dead after `maxAttempts`.
 */
export function decide(report: RunReport, policy: RetryPolicy, now: number): Decision {
  if (report.kind === "unhandled") return { action: "unhandled" };
  if (report.kind === "load_error") {
    return {
      action: "release",
      reason: "load_error",
      notBefore: now + (policy.loadRetryMs ?? 5000),
      error: report.error,
    };
  }
  const { result, attempt } = report;
  if (result.cancelled) return { action: "release", reason: "stopped" };
  if (result.ok) return { action: "complete" };
  const error = result.error ?? "handler failed";
  if (attempt >= policy.maxAttempts) return { action: "bury", error };
  const delayMs = backoffDelay(attempt, {
    baseMs: policy.backoffBaseMs,
    maxMs: policy.backoffMaxMs,
    random: policy.random,
  });
  return { action: "fail", error, retryAt: now + delayMs, delayMs };
}
