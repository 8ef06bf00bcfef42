/**
 * One interface for running a handler, whatever its kind: `run(event, ctx) → RunResult`.
 * Two implementations: module handlers in the host pool ({@linkcode createModuleRunner}) and
 * executables as child processes ({@linkcode createExecRunner}, a thin adapter over
 * `exec_runner.ts`).
 *
 * @example
 * ```ts ignore
 * const runners = { module: createModuleRunner({ pool, env }), exec: createExecRunner() };
 * const result = await runners[handler.kind].run(event, { handler, attempt, timeoutMs, log, signal });
 * ```
 * @module
 */
import type { TimerClock } from "../clock.ts";
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import type { RunResult } from "./decide.ts";
import { runExecutable } from "./exec_runner.ts";
import type { StripeOptions } from "./host_protocol.ts";
import type { HostPool } from "./module_runner.ts";
import type { LoadedHandler } from "./registry.ts";

/** What a runner needs besides the event. */
export interface RunContext {
  handler: LoadedHandler;
  attempt: number;
  timeoutMs: number;
  /** The run's log (bound to the event and the handler file). */
  log: Logger;
  /** Aborted at shutdown: the run stops at once and resolves `cancelled`. */
  signal: AbortSignal;
}

/** Runs handlers of one kind. */
export interface Runner {
  /** Runs `ctx.handler` for `event`. Never throws; a failure is a result. */
  run(event: Event, ctx: RunContext): Promise<RunResult>;
  /** Stops whatever it keeps running (host processes). */
  close(): Promise<void>;
}

/** Options for {@linkcode createModuleRunner}. */
export interface ModuleRunnerOptions {
  pool: HostPool;
  /** `ctx.env` (the same object while it does not change: the pool sends it once per host). */
  env: () => Record<string, string>;
  /** `ctx.stripe` for an event of `provider`, given the env. */
  stripeFor?: (provider: string, env: Record<string, string>) => StripeOptions | undefined;
}

/** Module handlers, run in the handler host pool. */
export function createModuleRunner(options: ModuleRunnerOptions): Runner {
  return {
    run(event, ctx) {
      const { handler } = ctx;
      if (handler.code === undefined) {
        return Promise.resolve({ ok: false, error: handler.error ?? "handler not loaded" });
      }
      const env = options.env();
      return options.pool.run({
        code: handler.code,
        hash: handler.hash,
        event,
        attempt: ctx.attempt,
        env,
        stripe: options.stripeFor?.(event.provider, env),
        timeoutMs: ctx.timeoutMs,
        log: ctx.log,
        signal: ctx.signal,
      });
    },
    close: () => options.pool.close(),
  };
}

/** Options for {@linkcode createExecRunner}. */
export interface ExecRunnerOptions {
  /** How long after SIGTERM at the timeout a process has before SIGKILL. Default 1000. */
  abortGraceMs?: number;
  /** Times the timeout and the kill grace. Default: the system clock. */
  clock?: TimerClock;
}

/** Executable handlers, one child process per run. */
export function createExecRunner(options: ExecRunnerOptions = {}): Runner {
  return {
    async run(event, ctx) {
      const { ok, error, timedOut, cancelled } = await runExecutable({
        path: ctx.handler.path,
        event,
        attempt: ctx.attempt,
        timeoutMs: ctx.timeoutMs,
        log: ctx.log,
        signal: ctx.signal,
        abortGraceMs: options.abortGraceMs,
        clock: options.clock,
      });
      const result: RunResult = { ok };
      if (error !== undefined) result.error = error;
      if (timedOut) result.timedOut = true;
      if (cancelled) result.cancelled = true;
      // Killed by a signal that was not whd's timeout or shutdown: the process died under it.
      if (!ok && !timedOut && !cancelled && error?.startsWith("killed by ")) result.crashed = true;
      return result;
    },
    close: () => Promise.resolve(),
  };
}
