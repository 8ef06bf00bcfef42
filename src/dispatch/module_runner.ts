/**
 * Runs bundled module handlers in a pool of Workers, one run per worker at a time. A worker
 * is reused after a run that settled; at the timeout its handler's `ctx.signal` is aborted,
 * and if the handler has not settled `abortGraceMs` later (it spins, or ignores the signal)
 * the worker is terminated and replaced.
 *
 * @example
 * ```ts ignore
 * const pool = createWorkerPool({ abortGraceMs: 1000 });
 * const result = await pool.run({ code, event, attempt: 1, env: {}, timeoutMs: 30_000, log });
 * pool.close();
 * ```
 * @module
 */
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import type { FromWorker, StripeOptions, ToWorker } from "./worker_protocol.ts";

/** How a handler run ended. */
export interface RunResult {
  ok: boolean;
  error?: string;
  /** The timeout fired. */
  timedOut?: boolean;
  /** Stopped by the caller's `signal` (shutdown): the run did not finish and did not fail. */
  cancelled?: boolean;
}

/** One module handler run. */
export interface ModuleRun {
  /** Bundled module text (from the bundler). */
  code: string;
  event: Event;
  attempt: number;
  env: Record<string, string>;
  stripe?: StripeOptions;
  timeoutMs: number;
  /** Receives the handler's `ctx.log` lines. */
  log: Logger;
  /** Aborting it terminates the run at once with `cancelled: true`. */
  signal?: AbortSignal;
}

/** A pool of handler workers. */
export interface WorkerPool {
  run(request: ModuleRun): Promise<RunResult>;
  /** Workers alive now (idle or busy). */
  readonly size: number;
  /** Terminates every worker; runs in flight resolve as cancelled. */
  close(): void;
}

/** Options for {@linkcode createWorkerPool}. */
export interface WorkerPoolOptions {
  /** How long after the timeout a handler may take to honour `ctx.signal`. Default 1000. */
  abortGraceMs?: number;
  /** Idle workers kept for reuse. Default 4. */
  maxIdle?: number;
}

interface _Slot {
  worker: Worker;
  codes: Set<string>;
  /** Settles the current run. */
  current?: { runId: number; log: Logger; settle: (r: RunResult) => void };
}

const _MAX_CODES_PER_WORKER = 50;

/** Creates a pool; workers start on demand. */
export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  const abortGraceMs = options.abortGraceMs ?? 1000;
  const maxIdle = options.maxIdle ?? 4;
  const idle: _Slot[] = [];
  const all = new Set<_Slot>();
  let nextRunId = 1;

  const spawn = (): _Slot => {
    const worker = new Worker(new URL("./handler_worker.ts", import.meta.url), { type: "module" });
    const slot: _Slot = { worker, codes: new Set() };
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const message = e.data;
      const current = slot.current;
      if (!current) return;
      if (message.kind === "log") {
        current.log[message.level](message.message, message.fields);
      } else if (message.runId === current.runId) {
        current.settle(message.ok ? { ok: true } : { ok: false, error: message.error });
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const current = slot.current;
      kill(slot);
      current?.settle({ ok: false, error: `handler worker crashed: ${e.message}` });
    };
    all.add(slot);
    return slot;
  };

  const kill = (slot: _Slot) => {
    slot.worker.terminate();
    all.delete(slot);
    const i = idle.indexOf(slot);
    if (i >= 0) idle.splice(i, 1);
  };

  const take = (code: string): _Slot => {
    const warm = idle.findIndex((s) => s.codes.has(code));
    const slot = warm >= 0 ? idle.splice(warm, 1)[0] : idle.pop() ?? spawn();
    return slot;
  };

  return {
    get size() {
      return all.size;
    },
    run(request: ModuleRun): Promise<RunResult> {
      if (request.signal?.aborted) return Promise.resolve({ ok: false, cancelled: true });
      const slot = take(request.code);
      slot.codes.add(request.code);
      const runId = nextRunId++;
      return new Promise<RunResult>((resolve) => {
        let timedOut = false;
        const timers: ReturnType<typeof setTimeout>[] = [];
        const onCancel = () => {
          kill(slot);
          settle({ ok: false, cancelled: true });
        };
        const settle = (result: RunResult) => {
          if (slot.current?.runId !== runId) return;
          slot.current = undefined;
          timers.forEach(clearTimeout);
          request.signal?.removeEventListener("abort", onCancel);
          if (timedOut && !result.cancelled) {
            result = result.ok ? result : {
              ok: false,
              timedOut: true,
              error: `timed out after ${request.timeoutMs} ms` +
                (result.error ? ` (${result.error.split("\n")[0]})` : ""),
            };
          }
          if (all.has(slot)) {
            if (idle.length < maxIdle && slot.codes.size < _MAX_CODES_PER_WORKER) idle.push(slot);
            else kill(slot);
          }
          resolve(result);
        };
        slot.current = { runId, log: request.log, settle };
        request.signal?.addEventListener("abort", onCancel, { once: true });
        timers.push(setTimeout(() => {
          timedOut = true;
          slot.worker.postMessage({ kind: "abort", runId } satisfies ToWorker);
        }, request.timeoutMs));
        timers.push(setTimeout(() => {
          kill(slot);
          settle({ ok: false, error: "handler did not stop after its signal was aborted" });
        }, request.timeoutMs + abortGraceMs));
        slot.worker.postMessage(
          {
            kind: "run",
            runId,
            code: request.code,
            event: request.event,
            attempt: request.attempt,
            env: request.env,
            stripe: request.stripe,
          } satisfies ToWorker,
        );
      });
    },
    close() {
      for (const slot of [...all]) {
        const current = slot.current;
        kill(slot);
        current?.settle({ ok: false, cancelled: true });
      }
    },
  };
}
