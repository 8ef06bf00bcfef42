/**
 * Records a decided outcome: the inbox call for the decision (each one bound to the lease, so
 * a lost lease changes nothing), the log line and the `whd_handler_runs_total` count.
 *
 * @example
 * ```ts ignore
 * const record = createRecorder({ inbox, owner, log, metrics, clock });
 * const result = await record(stored, decide(report, policy, clock.now()), 12);
 * ```
 * @module
 */
import type { Clock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { AttemptOutcome } from "../inbox/attempts.ts";
import type { Inbox, StoredEvent } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";
import { type Metrics, observeRun } from "../ops/metrics.ts";
import type { Decision, RunResult } from "./decide.ts";
import type { RunNowResult } from "./sync_run.ts";

/** What {@linkcode createRecorder} needs. */
export interface RecorderOptions {
  inbox: Inbox;
  /** The lease owner. */
  owner: string;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
}

/** A handler run, for the event's attempt history. */
export interface RunRecord {
  startedAt: number;
  result: RunResult;
  /** The tail of the run's output (scrubbed). */
  output: string;
}

/**
 * Records one outcome, and with `run` the attempt that led to it (in the same transaction).
 * Never throws: a failed write leaves the event leased (it runs again).
 */
export type Recorder = (
  stored: StoredEvent,
  decision: Decision,
  ms: number,
  run?: RunRecord,
) => Promise<RunNowResult>;

/**
 * The attempt outcome of a run result.
 *
 * @example
 * ```ts
 * import { attemptOutcome } from "./outcomes.ts";
 * attemptOutcome({ ok: false, timedOut: true }); // "timeout"
 * ```
 */
export function attemptOutcome(result: RunResult): AttemptOutcome {
  if (result.ok) return "ok";
  if (result.timedOut) return "timeout";
  if (result.crashed) return "crashed";
  return "error";
}

/** Creates the function that records outcomes. */
export function createRecorder(options: RecorderOptions): Recorder {
  const { inbox, owner, log, metrics, clock } = options;
  metrics.describe("whd_handler_runs_total", "Handler runs by provider and result.");
  const count = (provider: string, result: string) =>
    metrics.inc("whd_handler_runs_total", { provider, result });
  /** Commits a decision to the inbox, logs and counts it. Never throws. */
  return async (
    stored: StoredEvent,
    decision: Decision,
    ms: number,
    run?: RunRecord,
  ): Promise<RunNowResult> => {
    const key = { provider: stored.provider, id: stored.id };
    const fields = {
      provider: stored.provider,
      event_id: stored.id,
      event_type: stored.type,
      attempt: stored.attempts,
    };
    const now = clock.now();
    if (run && decision.action !== "release" && decision.action !== "unhandled") {
      // Queued in the same turn as the outcome below: both are written in one transaction.
      inbox.recordAttempt(key, owner, {
        attempt: stored.attempts,
        started_at: run.startedAt,
        duration_ms: ms,
        outcome: attemptOutcome(run.result),
        error: run.result.ok ? null : log.scrub(run.result.error ?? "handler failed"),
        output: run.output,
      }).catch((error) =>
        log.warn("could not record the attempt", { ...fields, error: errorMessage(error) })
      );
    }
    observeRun(metrics, stored.provider, stored.type, decision.action, ms);
    try {
      switch (decision.action) {
        case "unhandled":
          await inbox.markUnhandled(key, owner, now);
          count(stored.provider, "unhandled");
          log.info("no handler for event type; marked unhandled", fields);
          return { ok: true, status: "unhandled" };
        case "release":
          await inbox.release(key, owner, now, decision.notBefore);
          if (decision.reason === "load_error") {
            count(stored.provider, "load_error");
            log.warn("handler failed to load; event waits", { ...fields, error: decision.error });
            return { ok: false, status: "pending", error: decision.error };
          }
          count(stored.provider, "released");
          log.warn("handler stopped by shutdown; event released", fields);
          return { ok: false, status: "pending", error: "stopped by shutdown" };
        case "complete":
          await inbox.complete(key, owner, now);
          count(stored.provider, "done");
          log.info("handler done", { ...fields, ms });
          return { ok: true, status: "done" };
        case "bury":
          await inbox.bury(key, owner, decision.error, now);
          count(stored.provider, "dead");
          log.error("handler failed; no attempts left, event is dead", {
            ...fields,
            ms,
            error: decision.error,
          });
          return { ok: false, status: "dead", error: decision.error };
        case "fail":
          await inbox.fail(key, owner, decision.error, decision.retryAt, now);
          count(stored.provider, "failed");
          log.warn("handler failed; will retry", {
            ...fields,
            ms,
            error: decision.error,
            retry_in_ms: decision.delayMs,
          });
          return { ok: false, status: "failed", error: decision.error };
      }
    } catch (error) {
      // The inbox write failed: the lease expires and the event runs again.
      log.error("could not record handler outcome", { ...fields, error: errorMessage(error) });
      return { ok: false, status: "running", error: errorMessage(error) };
    }
  };
}
