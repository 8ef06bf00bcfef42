/**
 * Runs bundled module handlers in a pool of handler host processes (`host_process.ts`), one
 * run per host at a time. Hosts start as load needs them — a run that finds every host busy
 * waits `spawnAfterMs` for one to come free before a new one starts — and are reused after a
 * run that settled (at most `maxIdle` idle hosts are kept, idle ones beyond the first stop
 * after `idleMs`, and a host that has loaded many modules is replaced). At the
 * timeout the handler's `ctx.signal` is aborted; if the run has not settled `abortGraceMs`
 * later (it spins, or ignores the signal) the host is killed with SIGKILL — which, unlike
 * `Worker.terminate()`, really stops a `while (true) {}` — and the next run gets a fresh host.
 * A host that dies mid-run (the handler called `Deno.exit`, crashed, ran out of memory) fails
 * that run with an error saying so.
 *
 * @example
 * ```ts ignore
 * const pool = createHostPool({ abortGraceMs: 1000, maxIdle: 4 });
 * const result = await pool.run({ code, event, attempt: 1, env: {}, timeoutMs: 30_000, log });
 * await pool.close();
 * ```
 * @module
 */
import { systemClock, type TimerClock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { codeHash } from "./code_hash.ts";
import type { RunResult } from "./decide.ts";
import { handlerHostCommand, type HostCommand } from "./host_command.ts";
import type { StripeOptions } from "./host_protocol.ts";
import { type HostProcess, startHost } from "./host_process.ts";

export type { RunResult } from "./decide.ts";

/** One module handler run. */
export interface ModuleRun {
  /** Bundled module text (from the bundler). */
  code: string;
  /** Content hash of `code` (the registry computes it once); computed here when absent. */
  hash?: string;
  event: Event;
  attempt: number;
  env: Record<string, string>;
  stripe?: StripeOptions;
  timeoutMs: number;
  /** Receives the handler's `ctx.log` lines and its console/stdout/stderr output. */
  log: Logger;
  /** Aborting it kills the run's host at once; the run resolves with `cancelled: true`. */
  signal?: AbortSignal;
}

/** A pool of handler host processes. */
export interface HostPool {
  /** Runs one handler on an idle (preferably warm) host, or a new one. Never throws. */
  run(request: ModuleRun): Promise<RunResult>;
  /** Hosts alive now (idle or busy). */
  readonly size: number;
  /** Process ids of the hosts alive now. */
  readonly pids: number[];
  /** Kills every host and waits until they are gone; runs in flight resolve as cancelled. */
  close(): Promise<void>;
}

/** Options for {@linkcode createHostPool}. */
export interface HostPoolOptions {
  /** How long after the timeout a handler may take to honour `ctx.signal`. Default 1000. */
  abortGraceMs?: number;
  /** Idle hosts kept for reuse. Default 4. */
  maxIdle?: number;
  /** How to start a host. Default {@linkcode handlerHostCommand}(). */
  command?: HostCommand;
  /** Handler output (console, stdout, stderr) logged per run; the rest is dropped. Default 65536. */
  maxOutputBytes?: number;
  /** Protocol prefix source (one per host). Default: a random UUID. */
  randomId?: () => string;
  /** Timers for the timeout, the kill and the waits below. Default {@linkcode systemClock}. */
  clock?: TimerClock;
  /**
   * With every host busy, how long a run waits for one to come free before a new host is
   * started (hosts start in 40–100 ms and take ~50 MB: quick handlers share a few). Default 50:
   * at 20, a quick handler's occasional 10 ms run behind two others started hosts it did not
   * need (measured: a 20k drain of a trivial handler took 2–3 hosts instead of one).
   */
  spawnAfterMs?: number;
  /** An idle host beyond the first is stopped after this long without a run. Default 60000. */
  idleMs?: number;
}

const _MAX_CODES_PER_HOST = 50;
/** Longest a run waits on a host that is still starting before it starts one of its own. */
const _MAX_HOST_WAIT_MS = 1000;

/** Creates a pool; hosts start on demand. */
export function createHostPool(options: HostPoolOptions = {}): HostPool {
  const abortGraceMs = options.abortGraceMs ?? 1000;
  const maxIdle = options.maxIdle ?? 4;
  const clock = options.clock ?? systemClock;
  const command = options.command ?? handlerHostCommand();
  const idle: HostProcess[] = [];
  const all = new Set<HostProcess>();
  /** Exits not yet complete, including hosts already dropped from `all`. */
  const exits = new Set<Promise<void>>();

  const spawn = (): HostProcess => {
    const host = startHost({
      command,
      maxOutputBytes: options.maxOutputBytes,
      randomId: options.randomId,
    });
    all.add(host);
    exits.add(host.exited);
    host.exited.finally(() => {
      exits.delete(host.exited);
      all.delete(host);
    });
    return host;
  };

  const spawnAfterMs = options.spawnAfterMs ?? 50;
  const idleMs = options.idleMs ?? 60_000;
  /** Runs waiting for a host to come free. */
  const waiters: ((host: HostProcess) => void)[] = [];
  const idleTimers = new Map<HostProcess, () => void>();

  const takeIdle = (hash: string): HostProcess | undefined => {
    for (let i = idle.length - 1; i >= 0; i--) if (!idle[i].alive) idle.splice(i, 1);
    const warm = idle.findIndex((h) => h.has(hash));
    const host = warm >= 0 ? idle.splice(warm, 1)[0] : idle.pop();
    if (host) {
      idleTimers.get(host)?.();
      idleTimers.delete(host);
    }
    return host;
  };

  const acquire = async (hash: string, log: Logger): Promise<HostProcess> => {
    const ready = takeIdle(hash);
    if (ready) return ready;
    if (live().length === 0 || spawnAfterMs <= 0) return spawn();
    const since = clock.now();
    const freed = await new Promise<HostProcess | undefined>((resolve) => {
      let cancel = () => {};
      const waiter = (host: HostProcess) => {
        cancel();
        resolve(host);
      };
      // Wait on while a host will soon take runs: one is starting up, or importing a handler
      // for its first run there (tens of ms; quick runs that started hosts meanwhile would keep
      // ~50 MB each for nothing). Also when this check comes late: the event loop was held up
      // (a long GC, a big claim), so results that already arrived may not have been read yet.
      let due = since + spawnAfterMs;
      const expire = () => {
        const now = clock.now();
        const late = now - due > spawnAfterMs / 2;
        const soon = late || live().some((h) => !h.ready || h.loading);
        if (soon && now - since < _MAX_HOST_WAIT_MS) {
          due = now + spawnAfterMs;
          return cancel = clock.setTimer(spawnAfterMs, expire);
        }
        waiters.splice(waiters.indexOf(waiter), 1);
        resolve(undefined);
      };
      cancel = clock.setTimer(spawnAfterMs, expire);
      waiters.push(waiter);
    });
    if (freed) return freed;
    // Each host holds ~50 MB: say why another one starts (README "Memory" has one that started
    // in a drain of a trivial handler).
    log.info("starting another handler host: every host was busy", {
      waited_ms: Math.round(clock.now() - since),
      hosts: live().length + 1,
    });
    return spawn();
  };

  /** A host whose run settled: to a waiting run, else idle (or stopped). */
  const giveBack = (host: HostProcess) => {
    if (!host.alive) return;
    if (host.loaded >= _MAX_CODES_PER_HOST) return host.kill({ ok: false, cancelled: true });
    const waiter = waiters.shift();
    if (waiter) return waiter(host);
    if (idle.length >= maxIdle) return host.kill({ ok: false, cancelled: true });
    idle.push(host);
    idleTimers.set(
      host,
      clock.setTimer(idleMs, () => {
        idleTimers.delete(host);
        const i = idle.indexOf(host);
        if (i >= 0 && idle.length > 1) {
          idle.splice(i, 1);
          host.kill({ ok: false, cancelled: true });
        }
      }),
    );
  };

  const live = () => [...all].filter((h) => h.alive);

  return {
    get size() {
      return live().length;
    },
    get pids() {
      return live().map((h) => h.pid);
    },
    async run(request: ModuleRun): Promise<RunResult> {
      if (request.signal?.aborted) return { ok: false, cancelled: true };
      const hash = request.hash ?? codeHash(request.code);
      let host: HostProcess;
      try {
        host = await acquire(hash, request.log);
      } catch (error) {
        const failure = `cannot start a handler host: ${errorMessage(error)}`;
        return { ok: false, error: request.log.scrub(failure) };
      }
      if (request.signal?.aborted) {
        giveBack(host);
        return { ok: false, cancelled: true };
      }
      let timedOut = false;
      const onCancel = () => host.kill({ ok: false, cancelled: true });
      request.signal?.addEventListener("abort", onCancel, { once: true });
      const cancelAbort = clock.setTimer(request.timeoutMs, () => {
        timedOut = true;
        host.abort();
      });
      const cancelKill = clock.setTimer(request.timeoutMs + abortGraceMs, () => {
        host.kill({
          ok: false,
          error: `handler did not stop within ${abortGraceMs} ms after its signal was ` +
            "aborted; its host process was killed",
        });
      });
      let result = await host.run({ ...request, hash });
      cancelAbort();
      cancelKill();
      request.signal?.removeEventListener("abort", onCancel);
      if (timedOut && !result.cancelled && !result.ok) {
        result = {
          ok: false,
          timedOut: true,
          error: `timed out after ${request.timeoutMs} ms` +
            (result.error ? ` (${result.error.split("\n")[0]})` : ""),
        };
      }
      giveBack(host);
      // The error becomes last_error and log lines: a handler may have put a secret in it.
      return result.error === undefined
        ? result
        : { ...result, error: request.log.scrub(result.error) };
    },
    async close() {
      for (const cancel of idleTimers.values()) cancel();
      idleTimers.clear();
      for (const host of [...all]) host.kill({ ok: false, cancelled: true });
      await Promise.all([...exits]);
    },
  };
}
