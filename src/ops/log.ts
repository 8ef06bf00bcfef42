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
  /**
   * A child that writes at most `maxBytes` of log lines (UTF-8, newline included, as
   * written), then one warning line `marker` with `fields` and `limit_bytes`, and drops every
   * later line: for output a handler controls, so a flood costs the log a bounded amount.
   */
  capped(maxBytes: number, marker: string, fields?: LogFields): Logger;
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

/** What a {@linkcode Logger.capped} child may still write. */
interface _Budget {
  max: number;
  marker: string;
  fields: LogFields;
  /** Bytes written so far; Infinity once the marker is out. */
  spent: number;
}

function textValue(value: unknown): string {
  const s = value instanceof Error
    ? value.message
    : typeof value === "string"
    ? value
    : JSON.stringify(value) ?? String(value);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
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
  const make = (bound: LogFields, budget?: _Budget): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields) => {
      if (RANK[level] < min || budget?.spent === Infinity) return;
      const all = { ...bound, ...fields };
      let line: string;
      if (json) {
        const record: LogFields = {
          time: new Date(now()).toISOString(),
          level,
          msg: message,
        };
        for (const [k, v] of Object.entries(all)) record[k] = v instanceof Error ? v.message : v;
        line = JSON.stringify(record);
      } else {
        const parts = [
          new Date(now()).toISOString(),
          level.toUpperCase().padEnd(5),
          message,
        ];
        for (const [k, v] of Object.entries(all)) {
          if (v !== undefined) parts.push(`${k}=${textValue(v)}`);
        }
        line = parts.join(" ");
      }
      line = scrub(line);
      if (budget) {
        const size = encoder.encode(line).length + 1;
        if (budget.spent + size > budget.max) {
          budget.spent = Infinity;
          const extra = { ...budget.fields, limit_bytes: budget.max };
          return make(bound).warn(budget.marker, extra);
        }
        budget.spent += size;
      }
      write(line);
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (fields) => make({ ...bound, ...fields }, budget),
      scrub,
      capped: (max, marker, fields = {}) =>
        make(bound, { max, marker, fields: { ...fields }, spent: 0 }),
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
