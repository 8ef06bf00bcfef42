/**
 * Attempt history: one row per handler run of an event (attempt number, start, duration,
 * outcome, scrubbed error and a scrubbed tail of the run's output), kept in the `attempts`
 * table next to `events`. A row is written in the same grouped transaction as the run's outcome
 * and only while the run still holds its lease, so a lost lease records nothing twice. Rows go
 * when their event is purged (a trigger on `events`).
 *
 * @example
 * ```ts
 * import { attemptInsert } from "./attempts.ts";
 * const stmt = attemptInsert({ provider: "stripe", id: "evt_1" }, "me", {
 *   attempt: 1, started_at: 0, duration_ms: 12, outcome: "ok", error: null, output: "",
 * });
 * stmt.sql.startsWith("INSERT"); // true
 * ```
 * @module
 */
import type { SqlResult, SqlStatement } from "./sql_engine.ts";
import type { EventKey } from "./types.ts";

/** How a run ended: `crashed` means its process died under it. */
export type AttemptOutcome = "ok" | "error" | "timeout" | "crashed";

/** All outcomes. */
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ["ok", "error", "timeout", "crashed"];

/** One recorded run. Times are ms since the epoch; text is already scrubbed of secrets. */
export interface AttemptRecord {
  /** The event's attempt counter for this run (restarts at 1 after a retry or replay). */
  attempt: number;
  started_at: number;
  duration_ms: number;
  outcome: AttemptOutcome;
  error: string | null;
  /** The last bytes of the run's output (console, stdout, stderr, `ctx.log`). */
  output: string;
}

/** Most bytes of output kept per attempt (the tail). */
export const ATTEMPT_OUTPUT_BYTES = 4096;
/** Most characters of an error kept per attempt. */
export const ATTEMPT_ERROR_CHARS = 2000;

/** The schema step that adds the table (append to the inbox migrations). */
export const ATTEMPTS_MIGRATION_SQL: readonly string[] = [
  `CREATE TABLE attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    output TEXT NOT NULL
  )`,
  "CREATE INDEX attempts_event ON attempts (provider, id, seq)",
  `CREATE TRIGGER events_delete_attempts AFTER DELETE ON events BEGIN
    DELETE FROM attempts WHERE provider = old.provider AND id = old.id;
  END`,
];

/**
 * The statement that records `record` for `key`, only while `owner` holds the event's lease
 * (queue it just before the outcome so both commit together).
 */
export function attemptInsert(key: EventKey, owner: string, record: AttemptRecord): SqlStatement {
  return {
    sql: `INSERT INTO attempts (provider, id, attempt, started_at, duration_ms, outcome, error,
        output)
      SELECT :provider, :id, :attempt, :started_at, :duration_ms, :outcome, :error, :output
      WHERE EXISTS (SELECT 1 FROM events WHERE provider = :provider AND id = :id
        AND status = 'running' AND lease_owner = :owner)`,
    args: {
      provider: key.provider,
      id: key.id,
      owner,
      attempt: record.attempt,
      started_at: record.started_at,
      duration_ms: Math.max(0, Math.round(record.duration_ms)),
      outcome: record.outcome,
      error: record.error === null ? null : record.error.slice(0, ATTEMPT_ERROR_CHARS),
      output: tailBytes(record.output, ATTEMPT_OUTPUT_BYTES),
    },
  };
}

/** The statement that reads `key`'s attempts, oldest first. */
export function attemptSelect(key: EventKey): SqlStatement {
  return {
    sql: `SELECT attempt, started_at, duration_ms, outcome, error, output FROM attempts
      WHERE provider = ? AND id = ? ORDER BY seq`,
    args: [key.provider, key.id],
  };
}

/** Rows of {@linkcode attemptSelect} as records. */
export function toAttempts(rs: SqlResult): AttemptRecord[] {
  return rs.rows.map((row) => ({
    attempt: Number(row[0]),
    started_at: Number(row[1]),
    duration_ms: Number(row[2]),
    outcome: String(row[3]) as AttemptOutcome,
    error: row[4] === null || row[4] === undefined ? null : String(row[4]),
    output: String(row[5] ?? ""),
  }));
}

/**
 * The last `maxBytes` UTF-8 bytes of `text`, cut at a character boundary.
 *
 * @example
 * ```ts
 * import { tailBytes } from "./attempts.ts";
 * tailBytes("hello", 3); // "llo"
 * ```
 */
export function tailBytes(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++;
  return new TextDecoder().decode(bytes.subarray(start));
}
