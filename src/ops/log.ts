/**
 * Structured logging to stderr, as text (`level msg key=value`) or JSON lines.
 *
 * Secrets are never log fields; as a safety net every line goes through the one scrubber
 * (`scrub.ts`) before it is written, and `log.scrub(text)` lends that scrubber to code that
 * stores or prints text outside the log (a handler run's `last_error`).
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger({ level: "info", format: "text" });
 * log.info("listening", { port: 8080 });
 * ```
 * @module
 */
import { createScrubber, NO_SCRUBBER, type Scrubber } from "./scrub.ts";

/** Log levels, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Extra key/values on a line. */
export type LogFields = Record<string, unknown>;

/** A logger; `child` binds fields to every line it writes. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /** `text` with every configured secret replaced, as each log line is. */
  scrub(text: string): string;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: "text" | "json";
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /**
   * Values scrubbed from every line; the set may grow as secrets are resolved. Ignored when
   * `scrubber` is given.
   */
  secrets?: Set<string>;
  /** The scrubber every line goes through. Default: one built from `secrets`. */
  scrubber?: Scrubber;
  /** Clock for timestamps. */
  now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function textValue(value: unknown, scrub: (text: string) => string): string {
  const s = scrub(
    value instanceof Error
      ? value.message
      : typeof value === "string"
      ? value
      : JSON.stringify(value) ?? String(value),
  );
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/**
 * `value` with its strings scrubbed (Errors become their message), so that a secret is found
 * before JSON escapes it again; the finished line is scrubbed once more.
 */
function _scrubDeep(value: unknown, scrub: (text: string) => string, depth = 0): unknown {
  if (typeof value === "string") return scrub(value);
  if (value instanceof Error) return scrub(value.message);
  if (depth > 8 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => _scrubDeep(v, scrub, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = _scrubDeep(v, scrub, depth + 1);
  return out;
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const json = options.format === "json";
  const scrubber = options.scrubber ??
    (options.secrets ? createScrubber(options.secrets) : NO_SCRUBBER);
  const scrub = (text: string) => scrubber.scrub(text);
  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const all = { ...bound, ...fields };
      let line: string;
      if (json) {
        const record: LogFields = {
          time: new Date(now()).toISOString(),
          level,
          msg: scrub(message),
        };
        for (const [k, v] of Object.entries(all)) record[k] = _scrubDeep(v, scrub);
        line = JSON.stringify(record);
      } else {
        const parts = [
          new Date(now()).toISOString(),
          level.toUpperCase().padEnd(5),
          scrub(message),
        ];
        for (const [k, v] of Object.entries(all)) {
          if (v !== undefined) parts.push(`${k}=${textValue(v, scrub)}`);
        }
        line = parts.join(" ");
      }
      write(scrub(line));
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (fields) => make({ ...bound, ...fields }),
      scrub,
    };
  };
  return make({});
}

/** A logger that keeps lines in memory, for tests; `secrets` are scrubbed from them. */
export function memoryLogger(
  level: LogLevel = "debug",
  secrets?: Set<string>,
): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level, format: "json", write: (l) => lines.push(l), secrets });
  return Object.assign(log, { lines });
}
