/**
 * What the console needs in the store (migration 6): the `headers` column (the request headers
 * that matter, as JSON text, written at accept) and the indexes its paged queries read. Every
 * index here is partial or on `attempts`, so a fresh delivery (inserted `pending`) adds no
 * index entry at all:
 * - `events_trouble (status, received_at)` holds only failed, dead, unhandled and ignored rows:
 *   the list filtered by one of those statuses reads it newest first, cut at the page size;
 * - `events_dead (provider, type, received_at)` holds only dead rows: the dead-letter groups are
 *   one pass over it in group order (no sort);
 * - `attempts_started (outcome, started_at)`: the throughput chart's handler outcomes per bucket
 *   are exact ranges of it (one per outcome and bucket), read without touching the table.
 *
 * @example
 * ```ts
 * import { CONSOLE_MIGRATION_SQL } from "./console_schema.ts";
 * CONSOLE_MIGRATION_SQL.length; // 4
 * ```
 * @module
 */

/** Statuses held by `events_trouble` (the list of one of them is an index range). */
export const TROUBLE_STATUSES = ["failed", "dead", "unhandled", "ignored"] as const;

/**
 * The condition of `events_trouble`. A query repeats it word for word next to its own status
 * term: SQLite uses a partial index only when the query's WHERE contains the index's terms.
 */
export const TROUBLE_WHERE = `status IN (${TROUBLE_STATUSES.map((s) => `'${s}'`).join(", ")})`;

/** The schema step that adds the column and the indexes (inbox migration 6). */
export const CONSOLE_MIGRATION_SQL: readonly string[] = [
  "ALTER TABLE events ADD COLUMN headers TEXT",
  `CREATE INDEX events_trouble ON events (status, received_at) WHERE ${TROUBLE_WHERE}`,
  "CREATE INDEX events_dead ON events (provider, type, received_at) WHERE status = 'dead'",
  "CREATE INDEX attempts_started ON attempts (outcome, started_at)",
];
