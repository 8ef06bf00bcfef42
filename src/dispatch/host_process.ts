/**
 * One handler host process (`whd __handler-host`, see `handler_host.ts`) seen from whd: its
 * start, one run at a time, the abort message at the timeout, its kill, and its exit. The
 * pool (`module_runner.ts`) decides which host runs what and when one is replaced.
 *
 * A host keeps each handler's module loaded by its content hash: the code is sent with the
 * first run of that hash only, and `ctx.env` only when it changed since the last run.
 *
 * @example
 * ```ts ignore
 * const host = startHost({ command: handlerHostCommand() });
 * const result = await host.run({ hash, code, event, attempt: 1, env: {}, log });
 * host.kill({ ok: false, cancelled: true });
 * await host.exited;
 * ```
 * @module
 */
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { killQuietly, pumpLines, settledWithin, spawnInOwnSession } from "./child_io.ts";
import type { RunResult } from "./decide.ts";
import type { HostCommand } from "./host_command.ts";
import {
  type FromHost,
  HOST_PREFIX_ENV,
  type StripeOptions,
  type ToHost,
} from "./host_protocol.ts";

/** One run on a host. */
export interface HostRun {
  /** Content hash of `code`: the host's cache key. */
  hash: string;
  /** Bundled module text (sent only when the host has not loaded `hash` yet). */
  code: string;
  event: Event;
  attempt: number;
  env: Record<string, string>;
  stripe?: StripeOptions;
  /** Receives the handler's `ctx.log` lines and its console/stdout/stderr output. */
  log: Logger;
}

/** A running host process. */
export interface HostProcess {
  readonly pid: number;
  /** False once it was killed or exited. */
  readonly alive: boolean;
  /** True once the process is up (it said so). */
  readonly ready: boolean;
  /** How many distinct handler modules it has loaded. */
  readonly loaded: number;
  /** True when it has loaded the module with this hash. */
  has(hash: string): boolean;
  /** True while the current run's module is being imported (its first run on this host). */
  readonly loading: boolean;
  /** Starts a run (one at a time); resolves when the host reports it done, or dies. */
  run(request: HostRun): Promise<RunResult>;
  /** Aborts the current run's `ctx.signal` (the timeout). */
  abort(): void;
  /** SIGKILLs it; the current run resolves with `result` once the process is gone. */
  kill(result: RunResult): void;
  /** Resolves once the process is reaped and its output read. */
  readonly exited: Promise<void>;
}

/**
 * V8 flags of a host unless `DENO_V8_FLAGS` is set: a 1 MB young generation (handler runs
 * allocate little; the default grows to 16 MB per semi-space) and garbage collection on the
 * host's own thread, so idle hosts stay small and busy ones do not compete with whd for
 * cores with GC threads.
 */
export const HOST_V8_FLAGS = "--max-semi-space-size=1,--single-threaded-gc";

/** Options for {@linkcode startHost}. */
export interface StartHostOptions {
  command: HostCommand;
  /** Handler output (console, stdout, stderr) logged per run; the rest is dropped. Default 65536. */
  maxOutputBytes?: number;
  /** Protocol prefix source. Default: a random UUID. */
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
  /** The run carried its module's code and the host has not said `loaded` yet. */
  loading?: boolean;
}

const _MAX_PENDING_LINE = 1 << 20;

function _exitText(status: Deno.CommandStatus, stderrTail: string): string {
  const how = status.signal
    ? `was killed by ${status.signal} (out of memory?)`
    : `exited with code ${status.code} (did the handler call Deno.exit?)`;
  return `handler host process ${how} before the handler finished` +
    (stderrTail ? `: ${stderrTail}` : "");
}

/** Spawns a host process. Throws when it cannot be started. */
export function startHost(options: StartHostOptions): HostProcess {
  const maxOutput = options.maxOutputBytes ?? 65_536;
  const prefix = `@whd:${(options.randomId ?? (() => crypto.randomUUID()))()}@`;
  const encoder = new TextEncoder();
  // A process group of its own: a kill reaches whatever the handler module started
  // (Deno.Command children), not only the host. The host exits when its stdin closes.
  const child = spawnInOwnSession(options.command.command, {
    args: options.command.args,
    env: {
      [HOST_PREFIX_ENV]: prefix,
      DENO_V8_FLAGS: Deno.env.get("DENO_V8_FLAGS") ?? HOST_V8_FLAGS,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const writer = child.stdin.getWriter();
  const hashes = new Set<string>();
  let sentEnv: Record<string, string> | undefined;
  let current: _Run | undefined;
  let lastLog: Logger | undefined;
  let killResult: RunResult | undefined;
  let alive = true;
  let ready = false;
  let stderrTail = "";
  let nextRunId = 1;

  const output = (stream: string, line: string) => {
    if (line.trim() === "") return;
    const run = current;
    const log = run?.log ?? lastLog;
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

  const receive = (message: FromHost) => {
    const run = current;
    if (message.kind === "ready") {
      ready = true;
    } else if (message.kind === "loaded") {
      if (run?.runId === message.runId) run.loading = false;
    } else if (message.kind === "log") {
      if (message.message === "handler output" && message.fields?.stream === "console") {
        if (run?.runId === message.runId || message.runId === -1) {
          return output("console", String(message.fields.line));
        }
      }
      const log = run?.runId === message.runId ? run.log : lastLog;
      log?.[message.level](message.message, message.fields);
    } else if (run && message.runId === run.runId) {
      run.result = message.ok
        ? (message.reply ? { ok: true, reply: message.reply } : { ok: true })
        : { ok: false, error: message.error };
      if (run.stderrEnded) run.settle(run.result);
    }
  };

  const stdout = pumpLines(child.stdout, (line) => {
    if (!line.startsWith(prefix)) return output("stdout", line);
    let message: FromHost;
    try {
      message = JSON.parse(line.slice(prefix.length));
    } catch {
      return output("stdout", line);
    }
    receive(message);
  }, { maxLine: _MAX_PENDING_LINE, keepLong: (partial) => partial.startsWith(prefix) });
  const stderr = pumpLines(child.stderr, (line) => {
    if (line.startsWith(prefix)) {
      const run = current;
      if (run?.runId !== Number(line.slice(prefix.length))) return;
      run.stderrEnded = true;
      if (run.result) run.settle(run.result);
      return;
    }
    if (line.trim() !== "") stderrTail = line.trim().slice(0, 500);
    output("stderr", line);
  }, { maxLine: _MAX_PENDING_LINE });

  const exited = (async () => {
    const status = await child.status;
    alive = false;
    // A grandchild may still hold the pipes open; do not wait for it forever.
    await settledWithin(Promise.all([stdout, stderr]), 500);
    await writer.close().catch(() => {});
    current?.settle(
      killResult ?? current.result ??
        { ok: false, crashed: true, error: _exitText(status, stderrTail) },
    );
  })();

  const send = (message: ToHost) => {
    writer.write(encoder.encode(JSON.stringify(message) + "\n")).catch(() => {
      // The host died; its exit settles the run.
    });
  };

  return {
    pid: child.pid,
    get alive() {
      return alive;
    },
    get ready() {
      return ready;
    },
    get loaded() {
      return hashes.size;
    },
    has: (hash) => hashes.has(hash),
    get loading() {
      return current?.loading ?? false;
    },
    exited,
    run(request: HostRun): Promise<RunResult> {
      if (current) throw new Error("a handler host runs one handler at a time");
      const runId = nextRunId++;
      return new Promise<RunResult>((resolve) => {
        current = {
          runId,
          log: request.log,
          outputBytes: 0,
          settle: (result) => {
            if (current?.runId !== runId) return;
            current = undefined;
            lastLog = request.log;
            resolve(result);
          },
        };
        const first = !hashes.has(request.hash);
        hashes.add(request.hash);
        current.loading = first;
        const envChanged = request.env !== sentEnv;
        sentEnv = request.env;
        send({
          kind: "run",
          runId,
          hash: request.hash,
          code: first ? request.code : undefined,
          event: request.event,
          attempt: request.attempt,
          env: envChanged ? request.env : undefined,
          stripe: request.stripe,
        });
      });
    },
    abort() {
      if (current) send({ kind: "abort", runId: current.runId });
    },
    kill(result: RunResult) {
      killResult ??= result;
      alive = false;
      try {
        Deno.kill(-child.pid, "SIGKILL"); // the whole group
      } catch {
        killQuietly(child, "SIGKILL"); // the group is gone, or no process groups here
      }
    },
  };
}
