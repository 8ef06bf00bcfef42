/**
 * Runs an executable handler as a child process: the event JSON on stdin; `WHD_PROVIDER`,
 * `WHD_WEBHOOK`, `WHD_EVENT_ID`, `WHD_EVENT_TYPE`, `WHD_ATTEMPT` added to whd's environment;
 * exit code 0 is success. Its stdout and stderr go to the log line by line, at most
 * `maxOutputBytes` of each. At the timeout it gets SIGTERM, then SIGKILL `abortGraceMs` later.
 *
 * @example
 * ```ts ignore
 * const result = await runExecutable({ path: "handlers/github/push.sh", event, attempt: 1,
 *   timeoutMs: 30_000, log });
 * ```
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { Event } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { killQuietly, settledWithin } from "./child_io.ts";
import type { RunResult } from "./module_runner.ts";

/** One executable handler run. */
export interface ExecRun {
  path: string;
  event: Event;
  attempt: number;
  timeoutMs: number;
  /** Receives the process's output lines (stdout at info, stderr at warn). */
  log: Logger;
  /** Aborting it kills the process at once; the run resolves with `cancelled: true`. */
  signal?: AbortSignal;
  /** Default 1000. */
  abortGraceMs?: number;
  /** Per stream; the rest is read and dropped. Default 65536. */
  maxOutputBytes?: number;
}

/** What the run produced, on top of {@linkcode RunResult}. */
export interface ExecResult extends RunResult {
  exitCode?: number;
  stdout: string;
  stderr: string;
}

async function _collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (kept >= limit) {
      truncated = true;
      continue;
    }
    const part = chunk.subarray(0, limit - kept);
    if (part.length < chunk.length) truncated = true;
    chunks.push(part);
    kept += part.length;
  }
  const all = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return { text: new TextDecoder().decode(all), truncated };
}

function _logLines(log: Logger, level: "info" | "warn", stream: string, text: string): void {
  for (const line of text.split("\n")) {
    if (line.trim() !== "") log[level]("handler output", { stream, line });
  }
}

/** Runs one executable handler. Never throws; a spawn failure is a failed run. */
export async function runExecutable(request: ExecRun): Promise<ExecResult> {
  const limit = request.maxOutputBytes ?? 65_536;
  const grace = request.abortGraceMs ?? 1000;
  if (request.signal?.aborted) return { ok: false, cancelled: true, stdout: "", stderr: "" };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(request.path, {
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
    }).spawn();
  } catch (error) {
    const failure = `cannot start ${request.path}: ${errorMessage(error)}`;
    return { ok: false, error: failure, stdout: "", stderr: "" };
  }
  let timedOut = false;
  let cancelled = false;
  const kill = (signal: Deno.Signal) => killQuietly(child, signal);
  const timers = [
    setTimeout(() => {
      timedOut = true;
      kill("SIGTERM");
    }, request.timeoutMs),
    setTimeout(() => kill("SIGKILL"), request.timeoutMs + grace),
  ];
  const onCancel = () => {
    cancelled = true;
    kill("SIGKILL");
  };
  request.signal?.addEventListener("abort", onCancel, { once: true });

  const stdout = _collect(child.stdout, limit);
  const stderr = _collect(child.stderr, limit);
  (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(JSON.stringify(request.event)));
      await writer.close();
    } catch { /* the process exited without reading stdin */ }
  })();
  const status = await child.status;
  timers.forEach(clearTimeout);
  request.signal?.removeEventListener("abort", onCancel);
  // A grandchild may still hold the pipes open; do not wait for it forever.
  const drained = await settledWithin(Promise.all([stdout, stderr]), 500);
  const [out, err] = drained ?? [{ text: "", truncated: false }, { text: "", truncated: false }];
  _logLines(request.log, "info", "stdout", out.text);
  _logLines(request.log, "warn", "stderr", err.text);
  if (out.truncated || err.truncated) {
    request.log.warn("handler output truncated", { limit_bytes: limit });
  }
  const base = { stdout: out.text, stderr: err.text, exitCode: status.code };
  if (cancelled) return { ...base, ok: false, cancelled: true };
  if (timedOut) {
    return { ...base, ok: false, timedOut: true, error: `timed out after ${request.timeoutMs} ms` };
  }
  if (status.success) return { ...base, ok: true };
  const lastLine = err.text.trim().split("\n").pop();
  return {
    ...base,
    ok: false,
    error: (status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`) +
      (lastLine ? `: ${lastLine}` : ""),
  };
}
