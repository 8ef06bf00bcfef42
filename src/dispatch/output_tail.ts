/**
 * Keeps the tail of a handler run's output for its attempt record: a {@linkcode Logger} that
 * passes every line on to the run's log and also remembers the last bytes of what the handler
 * wrote (console, stdout and stderr lines, and its `ctx.log` lines), scrubbed like the log.
 *
 * @example
 * ```ts
 * import { memoryLogger } from "../ops/log.ts";
 * import { outputTail } from "./output_tail.ts";
 * const tail = outputTail(memoryLogger(), 4096);
 * tail.log.info("handler output", { stream: "stdout", line: "hello" });
 * tail.text(); // "hello\n"
 * ```
 * @module
 */
import type { LogFields, Logger, LogLevel } from "../ops/log.ts";
import { tailBytes } from "../inbox/attempts.ts";

/** The teeing logger and what it kept. */
export interface OutputTail {
  /** Pass this to the runner as the run's log. */
  log: Logger;
  /** The last `maxBytes` of the run's output lines, scrubbed, one per line. */
  text(): string;
}

/** Fields of a line that only tell where it came from (not shown in the tail). */
const _ORIGIN = new Set(["stream", "line"]);

/**
 * A run's log line as the handler's output: its own console/stdout/stderr line as written, a
 * `ctx.log` line as `[level] message key=value…`.
 *
 * @example
 * ```ts
 * import { outputLine } from "./output_tail.ts";
 * outputLine("info", "paid", { amount: 5 }); // "[info] paid amount=5"
 * ```
 */
export function outputLine(level: LogLevel, message: string, fields?: LogFields): string {
  if (message === "handler output" && fields && typeof fields.line === "string") {
    return fields.line;
  }
  if (message === "handler output truncated") return "[output truncated]";
  const extra = Object.entries(fields ?? {}).filter(([k]) => !_ORIGIN.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [`[${level}]`, message, ...extra].join(" ");
}

/** Wraps `log` so that the last `maxBytes` of the run's output are kept. */
export function outputTail(log: Logger, maxBytes: number): OutputTail {
  let kept = "";
  const keep = (line: string) => {
    kept += log.scrub(line) + "\n";
    if (kept.length > maxBytes * 2) kept = tailBytes(kept, maxBytes);
  };
  const note = (level: LogLevel, message: string, fields?: LogFields) =>
    keep(outputLine(level, message, fields));
  const wrap = (inner: Logger): Logger => ({
    debug: (m, f) => (note("debug", m, f), inner.debug(m, f)),
    info: (m, f) => (note("info", m, f), inner.info(m, f)),
    warn: (m, f) => (note("warn", m, f), inner.warn(m, f)),
    error: (m, f) => (note("error", m, f), inner.error(m, f)),
    child: (fields) => wrap(inner.child(fields)),
    scrub: (text) => inner.scrub(text),
    capped: (max, marker, fields) => wrap(inner.capped(max, marker, fields)),
  });
  return { log: wrap(log), text: () => tailBytes(kept, maxBytes) };
}
