/**
 * Structured logging to stderr, as text (`level msg key=value`) or JSON lines.
 *
 * Secrets are never log fields; as a safety net every line is scrubbed of the values in
 * `secrets` before it is written.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger({ level: "info", format: "text" });
 * log.info("listening", { port: 8080 });
 * ```
 * @module
 */

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
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: "text" | "json";
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /** Values scrubbed from every line (filled in as secrets are resolved). */
  secrets?: Set<string>;
  /** Clock for timestamps. */
  now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function textValue(value: unknown): string {
  const s = value instanceof Error
    ? value.message
    : typeof value === "string"
    ? value
    : JSON.stringify(value) ?? String(value);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

function scrub(line: string, secrets: Set<string> | undefined): string {
  if (!secrets) return line;
  for (const secret of secrets) {
    if (secret.length >= 6 && line.includes(secret)) line = line.replaceAll(secret, "[redacted]");
  }
  return line;
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const json = options.format === "json";
  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const all = { ...bound, ...fields };
      let line: string;
      if (json) {
        const record: LogFields = { time: new Date(now()).toISOString(), level, msg: message };
        for (const [k, v] of Object.entries(all)) record[k] = v instanceof Error ? v.message : v;
        line = JSON.stringify(record);
      } else {
        const parts = [new Date(now()).toISOString(), level.toUpperCase().padEnd(5), message];
        for (const [k, v] of Object.entries(all)) {
          if (v !== undefined) parts.push(`${k}=${textValue(v)}`);
        }
        line = parts.join(" ");
      }
      write(scrub(line, options.secrets));
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level, format: "json", write: (l) => lines.push(l) });
  return Object.assign(log, { lines });
}
