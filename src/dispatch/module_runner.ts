/**
 * Runs bundled module handlers in a pool of handler host processes (`whd __handler-host`,
 * see `handler_host.ts`), one run per host at a time. Hosts start on demand and are reused
 * after a run that settled (at most `maxIdle` idle hosts are kept). At the timeout the
 * handler's `ctx.signal` is aborted; if the run has not settled `abortGraceMs` later (it
 * spins, or ignores the signal) the host is killed with SIGKILL — which, unlike
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
import { errorMessage } from "../errors.ts";
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { killQuietly, pumpLines, settledWithin } from "./child_io.ts";
import { handlerHostCommand, type HostCommand } from "./host_command.ts";
import {
  type FromHost,
  HOST_PREFIX_ENV,
  type StripeOptions,
  type ToHost,
} from "./host_protocol.ts";

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
  /** Receives the handler's `ctx.log` lines and its console/stdout/stderr output. */
  log: Logger;
  /** Aborting it kills the run's host at once; the run resolves with `cancelled: true`. */
  signal?: AbortSignal;
}

/** A pool of handler host processes. */
export interface HostPool {
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
}

interface _Run {
  runId: number;
  log: Logger;
  settle: (r: RunResult) => void;
  outputBytes: number;
  /** From the host's `done` message. */
  result?: RunResult;
  /** The host's end-of-run marker on stderr has been read. */
  stderrEnded?: boolean;
}

interface _Host {
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  codes: Set<string>;
  current?: _Run;
  /** The log of the last run, for output that arrives between runs. */
  lastLog?: Logger;
  /** Why the pool killed it: the result the current run gets once the host is gone. */
  killResult?: RunResult;
  stderrTail: string;
  /** Resolves once the process is reaped and its output read. */
  exited: Promise<void>;
}

const _MAX_CODES_PER_HOST = 50;
const _MAX_PENDING_LINE = 1 << 20;

function _exitText(status: Deno.CommandStatus, stderrTail: string): string {
  const how = status.signal
    ? `was killed by ${status.signal} (out of memory?)`
    : `exited with code ${status.code} (did the handler call Deno.exit?)`;
  return `handler host process ${how} before the handler finished` +
    (stderrTail ? `: ${stderrTail}` : "");
}

/** Creates a pool; hosts start on demand. */
export function createHostPool(options: HostPoolOptions = {}): HostPool {
  const abortGraceMs = options.abortGraceMs ?? 1000;
  const maxIdle = options.maxIdle ?? 4;
  const maxOutput = options.maxOutputBytes ?? 65_536;
  const randomId = options.randomId ?? (() => crypto.randomUUID());
  const command = options.command ?? handlerHostCommand();
  const encoder = new TextEncoder();
  const idle: _Host[] = [];
  const all = new Set<_Host>();
  /** Exits not yet complete, including hosts already dropped from `all`. */
  const exits = new Set<Promise<void>>();
  let nextRunId = 1;

  const forget = (host: _Host) => {
    all.delete(host);
    const i = idle.indexOf(host);
    if (i >= 0) idle.splice(i, 1);
  };

  const output = (host: _Host, stream: string, line: string) => {
    if (line.trim() === "") return;
    const run = host.current;
    const log = run?.log ?? host.lastLog;
    if (!log) return;
    if (run) {
      if (run.outputBytes >= maxOutput) return;
      run.outputBytes += line.length;
      if (run.outputBytes >= maxOutput) {
        log.warn("handler output truncated", { limit_bytes: maxOutput });
        return;
      }
    }
    log[stream === "stderr" ? "warn" : "info"]("handler output", { stream, line });
  };

  const receive = (host: _Host, message: FromHost) => {
    const run = host.current;
    if (message.kind === "log") {
      if (message.message === "handler output" && message.fields?.stream === "console") {
        if (run?.runId === message.runId || message.runId === -1) {
          return output(host, "console", String(message.fields.line));
        }
      }
      const log = run?.runId === message.runId ? run.log : host.lastLog;
      log?.[message.level](message.message, message.fields);
    } else if (run && message.runId === run.runId) {
      run.result = message.ok ? { ok: true } : { ok: false, error: message.error };
      if (run.stderrEnded) run.settle(run.result);
    }
  };

  const spawn = (): _Host => {
    const prefix = `@whd:${randomId()}@`;
    const child = new Deno.Command(command.command, {
      args: command.args,
      env: { [HOST_PREFIX_ENV]: prefix },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const host: _Host = {
      child,
      writer: child.stdin.getWriter(),
      codes: new Set(),
      stderrTail: "",
      exited: Promise.resolve(),
    };
    const onStdout = (line: string) => {
      if (!line.startsWith(prefix)) return output(host, "stdout", line);
      let message: FromHost;
      try {
        message = JSON.parse(line.slice(prefix.length));
      } catch {
        return output(host, "stdout", line);
      }
      receive(host, message);
    };
    const onStderr = (line: string) => {
      if (line.startsWith(prefix)) {
        const run = host.current;
        if (run?.runId !== Number(line.slice(prefix.length))) return;
        run.stderrEnded = true;
        if (run.result) run.settle(run.result);
        return;
      }
      if (line.trim() !== "") host.stderrTail = line.trim().slice(0, 500);
      output(host, "stderr", line);
    };
    const stdout = pumpLines(child.stdout, onStdout, {
      maxLine: _MAX_PENDING_LINE,
      keepLong: (partial) => partial.startsWith(prefix),
    });
    const stderr = pumpLines(child.stderr, onStderr, { maxLine: _MAX_PENDING_LINE });
    host.exited = (async () => {
      const status = await child.status;
      // A grandchild may still hold the pipes open; do not wait for it forever.
      await settledWithin(Promise.all([stdout, stderr]), 500);
      forget(host);
      await host.writer.close().catch(() => {});
      host.current?.settle(
        host.killResult ?? host.current.result ??
          { ok: false, error: _exitText(status, host.stderrTail) },
      );
    })();
    exits.add(host.exited);
    host.exited.finally(() => exits.delete(host.exited));
    all.add(host);
    return host;
  };

  /** SIGKILLs the host; its current run settles with `result` once the process is gone. */
  const kill = (host: _Host, result: RunResult) => {
    host.killResult ??= result;
    forget(host);
    killQuietly(host.child, "SIGKILL");
  };

  const send = (host: _Host, message: ToHost) => {
    host.writer.write(encoder.encode(JSON.stringify(message) + "\n")).catch(() => {
      // The host died; its exit settles the run.
    });
  };

  const take = (code: string): _Host => {
    const warm = idle.findIndex((h) => h.codes.has(code));
    return warm >= 0 ? idle.splice(warm, 1)[0] : idle.pop() ?? spawn();
  };

  return {
    get size() {
      return all.size;
    },
    get pids() {
      return [...all].map((h) => h.child.pid);
    },
    run(request: ModuleRun): Promise<RunResult> {
      if (request.signal?.aborted) return Promise.resolve({ ok: false, cancelled: true });
      let host: _Host;
      try {
        host = take(request.code);
      } catch (error) {
        return Promise.resolve({
          ok: false,
          error: `cannot start a handler host: ${errorMessage(error)}`,
        });
      }
      host.codes.add(request.code);
      const runId = nextRunId++;
      return new Promise<RunResult>((resolve) => {
        let timedOut = false;
        const timers: ReturnType<typeof setTimeout>[] = [];
        const onCancel = () => kill(host, { ok: false, cancelled: true });
        const settle = (result: RunResult) => {
          if (host.current?.runId !== runId) return;
          host.current = undefined;
          host.lastLog = request.log;
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
          if (all.has(host)) {
            if (idle.length < maxIdle && host.codes.size < _MAX_CODES_PER_HOST) idle.push(host);
            else kill(host, { ok: false, cancelled: true });
          }
          resolve(result);
        };
        host.current = { runId, log: request.log, settle, outputBytes: 0 };
        request.signal?.addEventListener("abort", onCancel, { once: true });
        timers.push(setTimeout(() => {
          timedOut = true;
          send(host, { kind: "abort", runId });
        }, request.timeoutMs));
        timers.push(setTimeout(() => {
          kill(host, {
            ok: false,
            error: `handler did not stop within ${abortGraceMs} ms after its signal was ` +
              "aborted; its host process was killed",
          });
        }, request.timeoutMs + abortGraceMs));
        send(host, {
          kind: "run",
          runId,
          code: request.code,
          event: request.event,
          attempt: request.attempt,
          env: request.env,
          stripe: request.stripe,
        });
      });
    },
    async close() {
      for (const host of [...all]) kill(host, { ok: false, cancelled: true });
      await Promise.all([...exits]);
    },
  };
}
