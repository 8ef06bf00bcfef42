/**
 * `whd serve --workers N`: N serving processes on one port (`SO_REUSEPORT`, the kernel spreads
 * connections over them) and one database, started and supervised by the process the user ran.
 *
 * - Each worker is whd itself, `whd serve … --worker i/N`, started the way handler hosts are
 *   (see `src/dispatch/host_command.ts`), so it works from source and compiled alike.
 * - Worker 1 runs the handlers. The others only ingest, and each event they store wakes worker 1
 *   through the supervisor (a byte on the worker's stdout, relayed to worker 1's stdin). When a
 *   webhook is `mode: sync`, every worker runs handlers (it must run them before answering);
 *   the inbox's leases keep each event to one run at a time.
 * - SIGTERM and SIGINT are forwarded to every worker and the supervisor exits when they have.
 *   A worker that exits on its own stops the others, and the supervisor exits with its code
 *   (systemd restarts the service). A worker whose stdin closes (the supervisor is gone, even
 *   by kill -9) stops as if it got SIGTERM, so no worker is left orphaned.
 *
 * @example
 * ```ts ignore
 * import { superviseWorkers } from "./serve_workers.ts";
 * const code = await superviseWorkers({
 *   count: 2,
 *   args: (i) => ["serve", "--port", "8080", "--worker", `${i}/2`],
 *   handlerWorkers: new Set([1]),
 *   log,
 * });
 * ```
 * @module
 */
import type { Config } from "../config/schema.ts";
import { type HostCommand, whdCommand } from "../dispatch/host_command.ts";
import { UserError } from "../errors.ts";
import type { Logger } from "../ops/log.ts";

/** Which of the `count` workers this process is (1-based). */
export interface WorkerRole {
  index: number;
  count: number;
}

/** Parses the internal `--worker i/n` value. */
export function parseWorkerRole(text: string): WorkerRole {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || index < 1 || index > count) {
    throw new UserError(`--worker "${text}" must be i/n with 1 <= i <= n (it is internal)`, {
      exitCode: 2,
    });
  }
  return { index, count };
}

/**
 * Whether worker `index` runs a dispatcher: worker 1 always, the others only when some webhook
 * is `mode: sync` (its handler runs before the answer, in the worker that got the request).
 *
 * @example
 * ```ts ignore
 * runsHandlers(1, config); // true
 * runsHandlers(2, config); // true only if a webhook has mode: sync
 * ```
 */
export function runsHandlers(index: number, config: Config): boolean {
  return index === 1 ||
    config.providers.some((p) => p.webhooks.some((w) => w.mode === "sync"));
}

/**
 * Coalesces wake-ups into at most one write in flight: `wake()` while a write is pending
 * schedules exactly one more. Write errors are ignored (the reader is gone).
 *
 * @example
 * ```ts
 * import { coalescedWaker } from "./serve_workers.ts";
 * const wake = coalescedWaker(() => Promise.resolve());
 * wake(); wake(); wake(); // one write now, one after it settles
 * ```
 */
export function coalescedWaker(write: () => Promise<unknown>): () => void {
  let writing = false;
  let again = false;
  const wake = (): void => {
    if (writing) {
      again = true;
      return;
    }
    writing = true;
    write().catch(() => {}).finally(() => {
      writing = false;
      if (again) {
        again = false;
        wake();
      }
    });
  };
  return wake;
}

/**
 * In a worker: reads the supervisor's pipe (the worker's stdin). Each chunk calls `onWake`;
 * its end (the supervisor closed it, or exited however it did) calls `onGone`. `stop()` ends
 * the reading so the process can exit.
 */
export function readSupervisor(
  stdin: ReadableStream<Uint8Array>,
  onWake: () => void,
  onGone: () => void,
): { stop(): Promise<void> } {
  const reader = stdin.getReader();
  const reading = (async () => {
    try {
      while (!(await reader.read()).done) onWake();
    } catch { /* a read error ends the pipe too */ }
    onGone();
  })();
  return {
    stop: async () => {
      await reader.cancel().catch(() => {});
      await reading;
    },
  };
}

/** Options of {@linkcode superviseWorkers}. */
export interface SuperviseOptions {
  /** Workers to start. */
  count: number;
  /** whd arguments of worker `index` (1-based), e.g. `["serve", …, "--worker", "1/2"]`. */
  args(index: number): string[];
  /** Workers that run handlers: the others' stored events wake these. */
  handlerWorkers: ReadonlySet<number>;
  log: Logger;
  /** Turns whd arguments into a command; default {@linkcode whdCommand}. */
  command?: (args: string[]) => HostCommand;
}

const _NEWLINE = new Uint8Array([10]);

/**
 * Starts the workers and waits until they have all exited. Returns the exit code for the
 * supervisor: 0 when every worker stopped cleanly after a signal; otherwise the code of the
 * first worker that failed or exited on its own.
 */
export async function superviseWorkers(options: SuperviseOptions): Promise<number> {
  const { count, log } = options;
  const command = options.command ?? ((args: string[]) => whdCommand(args));
  let stopping = false;
  let failure: number | undefined;

  const children = new Map<number, Deno.ChildProcess>();
  const writers = new Map<number, WritableStreamDefaultWriter<Uint8Array>>();
  const wakers = new Map<number, () => void>();
  // Only the signal: closing stdin too would let a worker see EOF, stop, and then be killed
  // by the signal arriving after it has removed its listeners.
  let forwarded: Deno.Signal | undefined;
  const stopAll = (signal: Deno.Signal) => {
    forwarded = signal;
    for (const child of children.values()) {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    }
  };

  const { promise: signalled, resolve: onSignal } = Promise.withResolvers<Deno.Signal>();
  const listeners = (["SIGTERM", "SIGINT"] as const).map((signal) => ({
    signal,
    listener: () => onSignal(signal),
  }));
  for (const { signal, listener } of listeners) Deno.addSignalListener(signal, listener);
  signalled.then((signal) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping workers", { signal });
    stopAll(signal);
  });

  const exits: Promise<void>[] = [];
  for (let index = 1; index <= count; index++) {
    const { command: program, args } = command(options.args(index));
    const child = new Deno.Command(program, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.set(index, child);
    const writer = child.stdin.getWriter();
    writers.set(index, writer);
    if (options.handlerWorkers.has(index)) {
      wakers.set(index, coalescedWaker(() => writer.write(_NEWLINE)));
    }
    // A byte from an ingest-only worker: it stored an event; wake the handler workers.
    const relay = (async () => {
      for await (const _ of child.stdout) {
        if (!options.handlerWorkers.has(index)) { for (const wake of wakers.values()) wake(); }
      }
    })().catch(() => {});
    exits.push(child.status.then(async (status) => {
      await relay;
      children.delete(index);
      writers.get(index)?.close().catch(() => {});
      writers.delete(index);
      wakers.delete(index);
      // Ended by the signal it was asked to stop with (it came before the worker listened for
      // signals): that is a stop too.
      if (stopping && (status.success || status.signal === forwarded)) return;
      const code = status.code !== 0 ? status.code : 1;
      if (!stopping) {
        log.error("worker exited on its own; stopping the others", {
          worker: index,
          code: status.code,
          signal: status.signal ?? undefined,
        });
        failure ??= code;
        stopping = true;
        stopAll("SIGTERM");
      } else {
        failure ??= code;
      }
    }));
  }
  log.info("started workers", { workers: count, pids: [...children.values()].map((c) => c.pid) });

  await Promise.all(exits);
  for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
  return failure ?? 0;
}
