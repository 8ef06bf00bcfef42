/**
 * Runs an executable handler as a child process: the event JSON on stdin; `WHD_PROVIDER`,
 * `WHD_WEBHOOK`, `WHD_EVENT_ID`, `WHD_EVENT_TYPE`, `WHD_ATTEMPT` added to whd's environment;
 * exit code 0 is success. It runs in a process group of its own. Its stdout and stderr go to
 * the log line by line as they come, at most `maxOutputBytes` of log lines for each stream,
 * then one "handler output truncated" line. At the timeout (and when `signal` aborts) the whole
 * group gets SIGTERM, then SIGKILL `abortGraceMs` later if any of it is still alive. The
 * result's `error`, `stdout` and `stderr` are scrubbed of secrets (`log.scrub`).
 *
 * @example
 * ```ts ignore
 * const result = await runExecutable({ path: "handlers/github/push.sh", event, attempt: 1,
 *   timeoutMs: 30_000, log });
 * ```
 * @module
 */
import { sleep, systemClock, type TimerClock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { pumpLines, settledWithin, spawnInOwnSession } from "./child_io.ts";
import { allProcesses, exited } from "./proc_table.ts";
import type { RunResult } from "./module_runner.ts";

/** One executable handler run. */
export interface ExecRun {
  path: string;
  event: Event;
  attempt: number;
  timeoutMs: number;
  /** Receives the process's output lines (stdout at info, stderr at warn). */
  log: Logger;
  /** Aborting it stops the process group (as at the timeout); the run resolves `cancelled`. */
  signal?: AbortSignal;
  /** Default 1000. */
  abortGraceMs?: number;
  /**
   * Bytes of log lines per stream, as written (and of output kept in the result); the rest is
   * read and dropped. Default 65536.
   */
  maxOutputBytes?: number;
  /** Times the timeout and the kill grace. Default: the system clock. */
  clock?: TimerClock;
}

/** What the run produced, on top of {@linkcode RunResult}. */
export interface ExecResult extends RunResult {
  exitCode?: number;
  stdout: string;
  stderr: string;
}

/** Longest piece of one output line logged as a line; a longer one is split. */
const _MAX_LINE = 16_384;

/**
 * Logs `stream`'s lines through `log` (capped) and keeps its first `limit` bytes as text for
 * the result. Resolves when the stream ends or `stop` aborts (a grandchild may hold the pipe
 * open long after the handler exited).
 */
async function _pump(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  stop: AbortSignal,
  onLine: (line: string) => void,
): Promise<string> {
  const kept: Uint8Array[] = [];
  let size = 0;
  const recorder = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (size < limit) {
        const part = chunk.subarray(0, limit - size);
        kept.push(part);
        size += part.length;
      }
      controller.enqueue(chunk);
    },
  });
  await pumpLines(stream.pipeThrough(recorder, { signal: stop }), onLine, {
    maxLine: _MAX_LINE,
  });
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of kept) {
    all.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * Sends `signal` to every process of the group led by `pgid`; a gone group is left alone. In
 * the moment before `setsid` has made the group, the process itself gets the signal.
 */
function _signalGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch {
    try {
      Deno.kill(pgid, signal);
    } catch { /* the group and the process are gone */ }
  }
}

/**
 * Whether any process of group `pgid` is still running. `kill(-pgid, 0)` also counts zombies,
 * which an init that reaps slowly (a container's) leaves behind, so on Linux the group's
 * members in `/proc` are looked at too.
 */
function _groupAlive(pgid: number): boolean {
  try {
    Deno.kill(-pgid, 0 as unknown as Deno.Signal);
  } catch {
    return false;
  }
  const processes = allProcesses();
  if (!processes) return true;
  return processes.some((p) => p.pgrp === pgid && !exited(p.state));
}

/**
 * SIGTERM to the whole process group, then SIGKILL once `graceMs` have passed while any of it
 * is still alive. Resolves when the group is gone (or SIGKILLed).
 */
async function _stopGroup(pgid: number, graceMs: number, clock: TimerClock): Promise<void> {
  _signalGroup(pgid, "SIGTERM");
  const deadline = clock.now() + graceMs;
  while (_groupAlive(pgid) && clock.now() < deadline) await sleep(clock, 25);
  if (_groupAlive(pgid)) _signalGroup(pgid, "SIGKILL");
}

/** What setsid(1) prints when it cannot exec the handler. */
const _SETSID_FAILED = "setsid: failed to execute ";

/** Runs one executable handler. Never throws; a spawn failure is a failed run. */
export async function runExecutable(request: ExecRun): Promise<ExecResult> {
  const limit = request.maxOutputBytes ?? 65_536;
  const grace = request.abortGraceMs ?? 1000;
  const clock = request.clock ?? systemClock;
  const scrub = (text: string) => request.log.scrub(text);
  if (request.signal?.aborted) return { ok: false, cancelled: true, stdout: "", stderr: "" };
  let child: Deno.ChildProcess;
  try {
    // Its own session and process group, so a timeout or shutdown stops everything the
    // handler started (`sleep 600 &`, a pipeline), not only the handler.
    child = spawnInOwnSession(request.path, {
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        WHD_PROVIDER: request.event.provider,
        WHD_WEBHOOK: request.event.webhook,
        WHD_EVENT_ID: request.event.id,
        WHD_EVENT_TYPE: request.event.type,
        WHD_ATTEMPT: String(request.attempt),
      },
    });
  } catch (error) {
    const failure = `cannot start ${request.path}: ${errorMessage(error)}`;
    return { ok: false, error: scrub(failure), stdout: "", stderr: "" };
  }
  const pgid = child.pid;
  let timedOut = false;
  let cancelled = false;
  let stopping: Promise<void> | undefined;
  const stop = () => stopping ??= _stopGroup(pgid, grace, clock);
  const cancelTimer = clock.setTimer(request.timeoutMs, () => {
    timedOut = true;
    stop();
  });
  const onCancel = () => {
    cancelled = true;
    stop();
  };
  request.signal?.addEventListener("abort", onCancel, { once: true });

  const drain = new AbortController();
  const logStream = (stream: "stdout" | "stderr", level: "info" | "warn") => {
    const log = request.log.capped(limit, "handler output truncated", { stream });
    return (line: string) => {
      if (line.trim() !== "") log[level]("handler output", { stream, line });
    };
  };
  const stdout = _pump(child.stdout, limit, drain.signal, logStream("stdout", "info"));
  const stderr = _pump(child.stderr, limit, drain.signal, logStream("stderr", "warn"));
  (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(JSON.stringify(request.event)));
      await writer.close();
    } catch { /* the process exited without reading stdin */ }
  })();
  const status = await child.status;
  cancelTimer();
  request.signal?.removeEventListener("abort", onCancel);
  // After a timeout or cancel, the rest of the group is stopped before the run ends.
  await stopping;
  // A process left behind may still hold the pipes open; stop reading them after a while so
  // whd is not kept waiting (or kept alive) by it.
  let output = await settledWithin(Promise.all([stdout, stderr]), 500);
  if (output === undefined) {
    drain.abort();
    output = await Promise.all([stdout, stderr]);
  }
  const base = { stdout: scrub(output[0]), stderr: scrub(output[1]), exitCode: status.code };
  if (cancelled) return { ...base, ok: false, cancelled: true };
  if (timedOut) {
    return { ...base, ok: false, timedOut: true, error: `timed out after ${request.timeoutMs} ms` };
  }
  if (status.success) return { ...base, ok: true };
  const lastLine = base.stderr.trim().split("\n").pop();
  // setsid(1) could not exec the handler (126: not executable, 127: not found).
  if (
    (status.code === 126 || status.code === 127) && lastLine?.startsWith(_SETSID_FAILED)
  ) {
    const reason = lastLine.slice(lastLine.lastIndexOf(": ") + 2);
    return { ...base, ok: false, error: scrub(`cannot start ${request.path}: ${reason}`) };
  }
  return {
    ...base,
    ok: false,
    error: (status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`) +
      (lastLine ? `: ${lastLine}` : ""),
  };
}
